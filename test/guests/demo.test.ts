/** `dibctl demo --real-guests`: the lifecycle on the embedded default, its test instance a real Debian guest. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../temporal/free-port';
import { cleanTemporalEnv, runDibctl } from '../support/cli';
import { describeGuests } from './support';

describeGuests('dibctl demo --real-guests', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-demo-guests-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('builds, tests on a real guest with the generic tests, publishes to both regions and leaves nothing behind', async () => {
    const nobody = await freePort();
    const started = Date.now();
    const r = await runDibctl(['--json', 'demo', '--real-guests', '--dir', dir, '--runs', '1'], {
      env: cleanTemporalEnv({
        DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${nobody}`,
        DIBCTL_STATE_DIR: path.join(dir, 'state'),
        CI: 'true',
      }),
      timeoutMs: 1_200_000,
    });
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const summary = JSON.parse(r.stdout);
    expect(summary.leftovers).toBe(0);
    for (const region of ['RegionOne', 'RegionTwo'])
      expect(
        summary.images.filter((i: { region: string; name: string }) => i.region === region && i.name === 'dibctl-demo'),
      ).toHaveLength(1);
    // the generic tests ran on the guest: the test's log on this host has each one passing
    const files = (await fs.readdir(path.join(dir, 'state'), { recursive: true })).filter((f) =>
      f.endsWith('generic_tests.log'),
    );
    expect(files).toHaveLength(1);
    const log = await fs.readFile(path.join(dir, 'state', files[0]), 'utf8');
    expect(log.split('\n').filter((l) => / PASSED$/.test(l))).toEqual([
      'test_10_root_filesystem.py::test_root_filesystem_fills_the_flavor_disk PASSED',
      'test_20_interfaces.py::test_every_interface_has_novas_addresses PASSED',
      'test_30_dns.py::test_dns_resolver_is_configured_and_answers PASSED',
      'test_40_hostname.py::test_hostname_matches_the_instance_name PASSED',
    ]);
    process.stdout.write(`demo --real-guests took ${Math.round((Date.now() - started) / 1000)} s\n`);
  });
});
