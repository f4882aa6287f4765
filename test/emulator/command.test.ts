import { spawn } from 'node:child_process';
import { DIBCTL_BIN } from '../support/cli';
import { freePort } from '../../temporal/free-port';
import { call, passwordAuth } from './client';

describe('dibctl emulator', () => {
  test('prints the auth URL and credentials as JSON, serves tokens, and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        DIBCTL_BIN,
        '--json',
        'emulator',
        '--port',
        String(port),
        '--regions',
        'East,West',
        '--ssh-port',
        String(await freePort()),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const end = Date.now() + 20_000;
      while (!stdout.trim().endsWith('}') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      const info = JSON.parse(stdout);
      expect(info.authUrl).toBe(`http://127.0.0.1:${port}/v3`);
      expect(info.regions).toEqual(['East', 'West']);
      const r = await call('POST', `${info.authUrl}/auth/tokens`, { body: passwordAuth(info.user) });
      expect(r.status).toBe(201);
      expect(r.json.token.catalog[0].endpoints.map((e: { region: string }) => e.region)).toEqual(
        expect.arrayContaining(['East', 'West']),
      );
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('Stopping the emulator');
  });
});
