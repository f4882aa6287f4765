/**
 * `dibctl test` end to end against the real Keystone and Glance, with the
 * emulator as the compute and network cloud: the test copy goes to the real
 * Glance, boots on the emulated Nova, answers SSH, runs a shell test, and
 * everything is removed afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';
import { configArgs, dibctlEnv } from '../stages/cli-support';
import { StageProject, stageProject } from '../stages/fixture';
import { cloudPool, describeReal, stack, user } from './stack';

const PASSING = 'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME" && test "$DIBCTL_GREETING" = hello';

describeReal('dibctl test with the real Keystone and Glance and the emulated Nova', () => {
  const temporal = useTemporal();
  const pool = cloudPool();
  let emu: Emulator;
  let stateDir: string;
  const projects: StageProject[] = [];

  beforeAll(async () => {
    const account = (who: 'admin' | 'demo') => ({ username: user(who).username, password: user(who).password, projectName: user(who).projectName });
    emu = await startEmulator({
      regions: ['RegionOne'],
      identity: { authUrl: stack!.keystone.authUrl, adminCredentials: account('admin'), userCredentials: account('demo') },
      imageService: 'external',
      faults: { bootDelayMs: 200 },
    });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-state-'));
    await temporal().startWorkers('dibctl', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterAll(async () => {
    for (const p of projects) await p.remove();
    pool.closeAll();
    await emu?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  async function project(testBody: string): Promise<StageProject> {
    const p = await stageProject(emu, 'cirros', { tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', testBody);
    projects.push(p);
    return p;
  }

  /** DIBCTL- objects left in the real Glance (as the demo project sees them) and in the emulator. */
  async function leftovers(): Promise<{ images: string[]; servers: string[]; keypairs: string[] }> {
    const demo = await pool.connect('demo');
    const images = (await demo.image.listImages({ limit: 1000 })).filter((i) => String(i.name).startsWith('DIBCTL-')).map((i) => `${i.name} ${i.id}`);
    const r = emu.state().regions.RegionOne;
    return { images, servers: r.servers.map((s) => s.name), keypairs: r.keypairs.map((k) => k.name) };
  }

  it('passes on a good image: uploads to the real Glance, boots, runs the shell test over SSH and leaves nothing', async () => {
    const p = await project(PASSING);
    const r = await runDibctl(['test', 'cirros', ...configArgs(p)], { cwd: p.dir, env: dibctlEnv(temporal(), stateDir), timeoutMs: 150_000 });
    expect({ code: r.code, stderr: r.stderr.match(/Error.*/g) ?? [] }).toEqual({ code: 0, stderr: [] });
    expect(r.stdout).toMatch(/All tests passed successfully/);
    expect(r.stdout).toMatch(/Removing image/);
    expect(await leftovers()).toEqual({ images: [], servers: [], keypairs: [] });
  });

  it('exits 80 when the shell test fails and still removes the image from the real Glance', async () => {
    const p = await project('echo "checking"; exit 3');
    const r = await runDibctl(['test', 'cirros', ...configArgs(p)], { cwd: p.dir, env: dibctlEnv(temporal(), stateDir), timeoutMs: 150_000 });
    expect(r.code).toBe(80);
    expect(r.stdout).toMatch(/Some tests failed/);
    expect(await leftovers()).toEqual({ images: [], servers: [], keypairs: [] });
  });
});
