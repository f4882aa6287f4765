import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../temporal/free-port';
import { cleanTemporalEnv, runDibctl } from '../support/cli';

describe('dibctl demo on the embedded default', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-demo-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('runs two lifecycles through the emulator: current and obsolete copies in both regions, nothing left behind', async () => {
    const nobody = await freePort();
    const r = await runDibctl(['--json', 'demo', '--dir', dir, '--runs', '2'], {
      env: cleanTemporalEnv({ DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${nobody}` }),
      timeoutMs: 240_000,
    });
    expect(r.stderr).toContain('starting an ephemeral one');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.exitCode).toBe(0);
    expect(summary.lifecycles).toHaveLength(2);
    expect(summary.leftovers).toBe(0);
    for (const region of ['RegionOne', 'RegionTwo']) {
      const mine = summary.images.filter((i: { region: string }) => i.region === region);
      expect(mine.map((i: { name: string }) => i.name).sort()).toEqual(['Obsolete dibctl-demo', 'dibctl-demo']);
      expect(mine.find((i: { name: string }) => i.name === 'Obsolete dibctl-demo').obsolete).toBe('true');
    }
    // the operator's files stay for a look afterwards; the credentials file is private
    expect((await fs.stat(path.join(dir, 'test.yaml'))).mode & 0o777).toBe(0o600);
    await expect(fs.access(path.join(dir, 'tests', '00-hostname'))).resolves.toBeUndefined();
  }, 300_000);

  it('refuses a run count that is not a whole number', async () => {
    const r = await runDibctl(['demo', '--runs', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be a whole number from 1 to 100');
  });
});
