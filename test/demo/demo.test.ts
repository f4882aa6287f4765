import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../temporal/free-port';
import { cleanTemporalEnv, runDibctl } from '../support/cli';
import { TmuxTerminal, tmuxMissing } from '../support/tmux';

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

  (tmuxMissing() ? it.skip : it)(
    'at a terminal shows each lifecycle as a live block, its final state kept above the results',
    async () => {
      const nobody = await freePort();
      const env = { ...process.env, ...cleanTemporalEnv({ DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${nobody}` }) };
      const term = new TmuxTerminal(['demo', '--dir', path.join(dir, 'live'), '--runs', '1'], {
        cwd: dir,
        env: { ...env, CI: undefined, NO_COLOR: undefined },
      });
      try {
        expect(await term.exited(240_000)).toBe(0);
        const rows = term.screen();
        const at = rows.findIndex((r) => r.startsWith('dibctl run demo (region-one, region-two)'));
        expect(rows.slice(at + 1, at + 6)).toEqual([
          expect.stringMatching(/^ {2}done +build\b/),
          expect.stringMatching(/^ {2}done +test\b/),
          expect.stringMatching(/^ {2}done +publish\b/),
          expect.stringMatching(/^ {4}region-one +(\[#+\] +\S+ \S+ of \S+ \S+ +100% +\S+ \S+ +)?done$/),
          expect.stringMatching(/^ {4}region-two +(\[#+\] +\S+ \S+ of \S+ \S+ +100% +\S+ \S+ +)?done$/),
        ]);
        expect(rows.slice(at).join('\n')).toMatch(/^No test server, keypair or test image was left behind\.$/m);
        expect(term.cursorShown()).toBe(true);
      } finally {
        term.stop();
      }
    },
    300_000,
  );

  it('refuses a run count that is not a whole number', async () => {
    const r = await runDibctl(['demo', '--runs', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('must be a whole number from 1 to 100');
  });
});
