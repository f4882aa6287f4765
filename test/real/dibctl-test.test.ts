/**
 * `dibctl test` end to end against the real Keystone and Glance, with the
 * emulator as the compute and network cloud: the test copy goes to the real
 * Glance, boots on the emulated Nova, answers SSH, runs a shell test, and
 * everything is removed afterwards.
 */
import { runDibctl } from '../support/cli';
import { configArgs } from '../stages/cli-support';
import { StageProject, stageProject } from '../stages/fixture';
import { useDibctlBesideRealStack } from './beside-real-stack';
import { cloudPool, describeReal } from './stack';

const PASSING =
  'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME" && test "$DIBCTL_GREETING" = hello';

describeReal('dibctl test with the real Keystone and Glance and the emulated Nova', () => {
  const real = useDibctlBesideRealStack();
  const pool = cloudPool();
  const projects: StageProject[] = [];

  afterAll(async () => {
    for (const p of projects) await p.remove();
    pool.closeAll();
  });

  async function project(testBody: string): Promise<StageProject> {
    const p = await stageProject(real().emu, 'cirros', { tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', testBody);
    projects.push(p);
    return p;
  }

  /** DIBCTL- objects left in the real Glance (as the demo project sees them) and in the emulator. */
  async function leftovers(): Promise<{ images: string[]; servers: string[]; keypairs: string[] }> {
    const demo = await pool.connect('demo');
    const images = (await demo.image.listImages({ limit: 1000 }))
      .filter((i) => String(i.name).startsWith('DIBCTL-'))
      .map((i) => `${i.name} ${i.id}`);
    const r = real().emu.state().regions[real().emu.regions[0]];
    return { images, servers: r.servers.map((s) => s.name), keypairs: r.keypairs.map((k) => k.name) };
  }

  it('passes on a good image: uploads to the real Glance, boots, runs the shell test over SSH and leaves nothing', async () => {
    const p = await project(PASSING);
    const r = await runDibctl(['test', 'cirros', ...configArgs(p)], {
      cwd: p.dir,
      env: real().cliEnv(),
      timeoutMs: 150_000,
    });
    expect({ code: r.code, stderr: r.stderr.match(/Error.*/g) ?? [] }).toEqual({ code: 0, stderr: [] });
    expect(r.stdout).toMatch(/All tests passed successfully/);
    expect(r.stdout).toMatch(/Removing image/);
    expect(await leftovers()).toEqual({ images: [], servers: [], keypairs: [] });
  });

  it('exits 80 when the shell test fails and still removes the image from the real Glance', async () => {
    const p = await project('echo "checking"; exit 3');
    const r = await runDibctl(['test', 'cirros', ...configArgs(p)], {
      cwd: p.dir,
      env: real().cliEnv(),
      timeoutMs: 150_000,
    });
    expect(r.code).toBe(80);
    expect(r.stdout).toMatch(/Some tests failed/);
    expect(await leftovers()).toEqual({ images: [], servers: [], keypairs: [] });
  });
});
