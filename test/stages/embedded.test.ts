import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { freePort } from '../../temporal/free-port';
import { cleanTemporalEnv, runDibctl } from '../support/cli';
import { NOTHING_LEFT, configArgs, dibctlObjects, removeByHand } from './cli-support';
import { StageProject, stageProject } from './fixture';

describe('dibctl test with nothing configured (ephemeral server, worker in the command)', () => {
  let emu: Emulator;
  let project: StageProject;
  let stateDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], faults: { bootDelayMs: 200 } });
    project = await stageProject(emu, 'cirros', { tests: [{ shell: 'tests/check', timeout: 60 }] });
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-embedded-'));
    env = cleanTemporalEnv({ DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${await freePort()}`, DIBCTL_STATE_DIR: stateDir });
  });
  afterAll(async () => {
    await project?.remove();
    await emu?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  it('passes and removes everything', async () => {
    await project.shellTest('check', 'timeout 20 $DIBCTL_SSH true');
    const r = await runDibctl(['test', 'cirros', ...configArgs(project)], { cwd: project.dir, env });
    expect(r.stderr).toContain('starting an ephemeral one');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/All tests passed successfully[^]*Clearing done/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('refuses missing credentials with exit 12 before any cloud object exists', async () => {
    const cfg = await fs.readFile(project.testConfig, 'utf8');
    const nopass = path.join(project.dir, 'nopass.yaml');
    await fs.writeFile(nopass, cfg.replace(/^\s+password: .*\n/m, ''));
    const r = await runDibctl(['test', 'cirros', '--images-config', project.imagesConfig, '--test-config', nopass], {
      cwd: project.dir,
      env,
    });
    expect(r.code).toBe(12);
    expect(r.stderr).not.toMatch(/Image test workflow/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('--keep-failed-instance leaves the instance and key when the temporary server stops with the command, and says so', async () => {
    await project.shellTest('check', 'exit 1');
    const r = await runDibctl(['test', 'cirros', '--keep-failed-instance', ...configArgs(project)], {
      cwd: project.dir,
      env,
    });
    expect(r.stderr).not.toMatch(/Channel has been shut down|\n\s+at /);
    expect(r.code).toBe(80);
    expect(r.stderr).toMatch(/To reach the instance: ssh /);
    expect(r.stderr).toMatch(
      /temporary Temporal server, which stops now: the instance and key stay until removed by hand/,
    );
    const left = dibctlObjects(emu);
    expect(r.stderr.trimEnd().split('\n').pop()).toBe(
      `Next step: remove them with 'openstack server delete ${left.servers[0]}' and ` +
        `'openstack keypair delete ${left.keypairs[0]}' when done; run 'dibctl server' beforehand to keep or discard a held test later`,
    );
    expect(left.servers).toHaveLength(1);
    expect(left.keypairs).toHaveLength(1);
    await removeByHand(emu, left);
  });
});
