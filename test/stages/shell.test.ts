import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { connectCloud } from '../../openstack';
import { runDibctl, runDibctlInTerminal } from '../support/cli';
import { useTemporal } from '../support/temporal';
import { NOTHING_LEFT, configArgs, dibctlEnv, dibctlObjects, removeByHand, workflowIdOf } from './cli-support';
import { StageProject, stageProject } from './fixture';

describe('interactive shells on the test instance (through a pseudo-terminal)', () => {
  const temporal = useTemporal();
  let emu: Emulator;
  let stateDir: string;
  const projects: StageProject[] = [];

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], faults: { bootDelayMs: 200 } });
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-shell-'));
    await temporal().startWorkers('dibctl', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterAll(async () => {
    for (const p of projects) await p.remove();
    await emu?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  async function project(testBody: string): Promise<StageProject> {
    const p = await stageProject(emu, 'cirros', { tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', testBody);
    projects.push(p);
    return p;
  }

  /** Runs dibctl in a pseudo-terminal, types `typed` once the shell is open, returns exit code and output. */
  const shellSession = (p: StageProject, args: string[], typed: string) =>
    runDibctlInTerminal([...args, ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir),
      ready: /Opening a shell/,
      typed,
    });

  it('test --shell opens a shell after a failure; exit 42 keeps instance and key, prints how to reach them, exits 80', async () => {
    const p = await project('exit 1');
    const r = await shellSession(p, ['test', 'cirros', '--shell'], 'exit 42\n');
    expect(r.code).toBe(80);
    expect(r.output).toMatch(/Some tests failed/);
    expect(r.output).toMatch(/Not removing instance .*to reach it: ssh .*cirros@127\./);
    expect(r.output).toMatch(/Not removing ssh key DIBCTL-\S+; private key kept in \S+id_rsa/);
    expect(r.output).toMatch(/Removing image/);
    const left = dibctlObjects(emu);
    expect(left.servers).toHaveLength(1);
    expect(left.keypairs).toHaveLength(1);
    expect(left.images).toEqual([]);
    await removeByHand(emu, left);
  });

  it('test --shell: leaving the shell normally removes everything', async () => {
    const p = await project('exit 1');
    const r = await shellSession(p, ['test', 'cirros', '--shell'], 'exit\n');
    expect(r.code).toBe(80);
    expect(r.output).toMatch(/Removing instance/);
    expect(r.output).toMatch(/Clearing done/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('dibctl shell prepares an instance without tests, opens a shell on it and removes it afterwards', async () => {
    const p = await project(`touch ${'$HOME'}/tests-ran; exit 1`);
    const r = await shellSession(p, ['shell', 'cirros'], 'hostname; exit\n');
    expect(r.code).toBe(0);
    expect(r.output).toMatch(/\ndibctl-[0-9a-f-]{36}\r?\n/);
    expect(r.output).not.toMatch(/Some tests failed/);
    expect(r.output).toMatch(/Clearing done/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('dibctl shell exits with the exit code of ssh, as dibctl did, and removes everything', async () => {
    const p = await project('exit 1');
    const r = await shellSession(p, ['shell', 'cirros'], 'exit 7\n');
    expect(r.code).toBe(7);
    expect(r.output).toMatch(/Clearing done/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  /** An instance the operator booted with a key of their own, as an existing instance is. */
  async function operatorInstance(p: StageProject) {
    const keyFile = path.join(p.dir, 'key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const u = emu.user;
    const cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: u.username,
      password: u.password,
      projectName: u.projectName,
      userDomainName: u.userDomainName,
      projectDomainName: u.projectDomainName,
    });
    await cloud.compute.importKeypair('operator-key', (await fs.readFile(`${keyFile}.pub`, 'utf8')).trim());
    const img = await cloud.image.createImage({
      name: 'operator-image',
      disk_format: 'qcow2',
      container_format: 'bare',
      properties: { default_user: 'cirros' },
    });
    await cloud.image.uploadImage(img.id, p.imageFile);
    const server = await cloud.compute.createServer({
      name: 'existing-box',
      imageRef: img.id,
      flavorRef: '1',
      key_name: 'operator-key',
      networks: [{ uuid: emu.networks.RegionOne.id }],
    });
    await cloud.compute.waitForServerStatus(server.id, 'ACTIVE', { timeoutMs: 30_000, pollMs: 200 });
    return {
      cloud,
      keyFile,
      server,
      image: img,
      async remove() {
        await cloud.compute.deleteServer(server.id);
        await cloud.compute.deleteKeypair('operator-key');
        await cloud.image.deleteImage(img.id);
        cloud.close();
      },
    };
  }

  it('--use-existing-instance uploads no test image and runs the tests on that instance, never removing it', async () => {
    const p = await project(
      'test "$(timeout 20 $DIBCTL_SSH hostname)" = existing-box && test "$DIBCTL_INSTANCE_NAME" = existing-box',
    );
    const box = await operatorInstance(p);
    try {
      const env = dibctlEnv(temporal(), stateDir);
      const missingKey = await runDibctl(
        ['test', 'cirros', '--use-existing-instance', box.server.id, ...configArgs(p)],
        {
          cwd: p.dir,
          env,
        },
      );
      expect(missingKey.code).toBe(2);
      expect(missingKey.stderr).toMatch(/--use-existing-instance needs --private-key-file/);
      // no image file at all: an upload could not even start
      await fs.rm(p.imageFile);
      const imagesBefore = emu.state().regions.RegionOne.images.map((i) => i.id);
      const r = await runDibctl(
        [
          'test',
          'cirros',
          '--use-existing-instance',
          box.server.id,
          '--private-key-file',
          box.keyFile,
          ...configArgs(p),
        ],
        { cwd: p.dir, env },
      );
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/All tests passed successfully/);
      expect(r.stdout).toMatch(
        new RegExp(`Not uploading \\S+image\\.qcow2: the tests run on existing instance ${box.server.id}`),
      );
      expect(r.stdout).not.toMatch(/^Uploading |Removing image/m);
      expect(r.stdout).toMatch(
        new RegExp(`Not removing instance ${box.server.id} \\(given with --use-existing-instance\\)`),
      );
      // the workflow never scheduled an upload, and Glance holds the same images as before
      const history = await temporal().client.workflow.getHandle(workflowIdOf(r.stderr)).fetchHistory();
      const scheduled = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
        .filter(Boolean);
      expect(scheduled).toContain('runImageTests');
      expect(scheduled).not.toContain('uploadImageFile');
      expect(emu.state().regions.RegionOne.images.map((i) => i.id)).toEqual(imagesBefore);
      expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
      expect((await box.cloud.compute.getServer(box.server.id)).status).toBe('ACTIVE');
    } finally {
      await box.remove();
    }
  });

  it('dibctl shell on an existing instance opens the shell there, exits with its code and leaves the instance', async () => {
    const p = await project('exit 1');
    const box = await operatorInstance(p);
    try {
      const r = await shellSession(
        p,
        ['shell', 'cirros', '--use-existing-instance', box.server.id, '--private-key-file', box.keyFile],
        'hostname; exit 5\n',
      );
      expect(r.code).toBe(5);
      expect(r.output).toMatch(/\nexisting-box\r?\n/);
      expect(r.output).not.toMatch(/Uploading /);
      expect(r.output).toMatch(/Clearing done/);
      expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
      expect((await box.cloud.compute.getServer(box.server.id)).status).toBe('ACTIVE');
      // test --shell after a failure opens the shell there as well, and keeps the test's exit code
      const failed = await shellSession(
        p,
        ['test', 'cirros', '--shell', '--use-existing-instance', box.server.id, '--private-key-file', box.keyFile],
        'hostname; exit\n',
      );
      expect(failed.code).toBe(80);
      expect(failed.output).toMatch(/Some tests failed/);
      expect(failed.output).toMatch(/\nexisting-box\r?\n/);
      expect((await box.cloud.compute.getServer(box.server.id)).status).toBe('ACTIVE');
    } finally {
      await box.remove();
    }
  });
});
