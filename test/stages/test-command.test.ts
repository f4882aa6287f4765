import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { connectCloud } from '../../openstack';
import { runDibctl } from '../support/cli';
import { recordHistory } from '../support/histories';
import { useTemporal } from '../support/temporal';
import { ImageOptions, StageProject, stageProject } from './fixture';
import { NOTHING_LEFT, configArgs, dibctlEnv, dibctlObjects, startDibctl, workflowIdOf } from './cli-support';

const PASSING =
  'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME" && test "$DIBCTL_GREETING" = hello';

describe('dibctl test against the emulator on a real Temporal dev server', () => {
  const temporal = useTemporal();
  let emu: Emulator;
  let stateDir: string;
  const projects: StageProject[] = [];

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], faults: { bootDelayMs: 200 } });
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-state-'));
    // A long-lived worker, as in a deployment: held tests outlive the CLI that started them.
    await temporal().startWorkers('dibctl', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterAll(async () => {
    for (const p of projects) await p.remove();
    await emu?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });
  afterEach(() => emu.faults.reset());

  async function project(
    image: ImageOptions,
    testBody?: string,
    env: { password?: string; flavor?: string; netId?: string } = {},
  ): Promise<StageProject> {
    const p = await stageProject(
      emu,
      'cirros',
      { ...image, tests: testBody !== undefined ? [{ shell: 'tests/check', timeout: 60 }] : image.tests },
      env,
    );
    if (testBody !== undefined) await p.shellTest('check', testBody);
    projects.push(p);
    return p;
  }

  const dibctl = (p: StageProject, args: string[], extra: NodeJS.ProcessEnv = {}) =>
    runDibctl([...args, ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir, extra),
      timeoutMs: 120_000,
    });
  /** keep, discard, status: commands that name a workflow, not configs. */
  const control = (args: string[]) => runDibctl(args, { env: dibctlEnv(temporal(), stateDir) });

  async function waitUntil(fn: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error('condition not reached in time');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('passes on a good image, exits 0 and leaves nothing in the cloud', async () => {
    const p = await project({}, PASSING);
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/All tests passed successfully/);
    const order = ['Removing instance', 'Removing ssh key', 'Removing image', 'Clearing done'].map((l) =>
      r.stdout.indexOf(l),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
    await recordHistory(temporal().client.workflow.getHandle(workflowIdOf(r.stderr)), 'image-test-pass');
  });

  it('prints the result as JSON with --json', async () => {
    const p = await project({}, PASSING);
    const r = await runDibctl(['--json', 'test', 'cirros', ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir),
    });
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      passed: true,
      exitCode: 0,
      stage: 'done',
      kept: { image: false, instance: false, keypair: false },
    });
    expect(result.tests).toHaveLength(1);
    expect(result.tests[0]).toMatchObject({ passed: true, framework: 'shell' });
    expect(result.name).toMatch(/^DIBCTL-[0-9a-f-]{36}$/);
  });

  it('-i tests another file and --environment picks another test environment', async () => {
    const p = await project({}, PASSING);
    const other = path.join(p.dir, 'other.qcow2');
    await fs.writeFile(other, Buffer.alloc(64 * 1024, 3));
    // a second environment with a bigger flavor; the image's own environment_name stays 'emu'
    const cfg = await fs.readFile(p.testConfig, 'utf8');
    await fs.writeFile(
      p.testConfig,
      cfg + cfg.replace(/^emu:/m, 'big:').replace('flavor: m1.tiny', 'flavor: m1.small'),
    );
    await p.shellTest('check', `${PASSING} && test "$DIBCTL_FLAVOR_NAME" = m1.small`);
    const r = await dibctl(p, ['--json', 'test', 'cirros', '-i', other, '--environment', 'big']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.log.join('\n')).toContain(`Uploading ${other} as `);
    expect(result.log.join('\n')).toMatch(/\(65536 bytes\)/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('rides out a cloud outage while the instance boots: passes with one server made and nothing left', async () => {
    const p = await project({}, PASSING);
    emu.faults.set({ bootDelayMs: 2_000 });
    const live = startDibctl(['test', 'cirros', ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir),
    });
    await live.waitFor(/Instance DIBCTL-\S+ created/);
    const seen = new Set(dibctlObjects(emu).servers);
    emu.faults.set({ failingRegions: ['RegionOne'] });
    await new Promise((r) => setTimeout(r, 4_000));
    emu.faults.set({ failingRegions: [] });
    expect(await live.exited).toBe(0);
    expect(live.stdout()).toMatch(/All tests passed successfully/);
    expect(seen.size).toBe(1);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('exits 80 with "Some tests failed" when a shell test fails, and removes everything', async () => {
    const p = await project({}, 'echo "checking the instance"; exit 3');
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(80);
    // the test's own output is shown before the verdict
    expect(r.stdout.indexOf('checking the instance')).toBeGreaterThan(-1);
    expect(r.stdout.indexOf('checking the instance')).toBeLessThan(r.stdout.indexOf('Some tests failed'));
    expect(r.stdout).toMatch(/Some tests failed/);
    expect(r.stdout).toMatch(/Removing instance/);
    expect(r.stdout).toMatch(/Clearing done/);
    expect(r.stderr).toMatch(
      /^Next step: the failing test's output is above; 'dibctl test cirros --keep-failed-instance' reruns the tests/m,
    );
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('stops at the first failing test: later entries do not run', async () => {
    const p = await project({ tests: [{ shell: 'tests/a' }, { shell: 'tests/b' }] });
    await p.shellTest('a', 'exit 1');
    await p.shellTest('b', `touch ${p.dir}/b-ran`);
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(80);
    await expect(fs.access(path.join(p.dir, 'b-ran'))).rejects.toThrow();
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('exits 70 when the instance boots into ERROR, with Nova fault, and removes everything', async () => {
    const p = await project({}, PASSING);
    emu.faults.set({ bootErrors: 1, bootErrorMessage: 'No valid host was found.' });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/state is 'ERROR' \(expected 'ACTIVE'\).*No valid host/);
    expect(r.stderr).toMatch(/^Next step: Nova's fault is above: check the flavor, the networks/m);
    expect(r.stdout).toMatch(/Clearing done/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('exits 71 when the port never opens, and removes everything', async () => {
    const p = await project({ portWaitTimeout: 2 }, PASSING);
    emu.faults.set({ sshNeverOpens: true });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(71);
    expect(r.stderr).toMatch(/Instance is not accepting connection on 127\.[0-9.]+:22 after 2 s/);
    expect(r.stderr).toMatch(/^Next step: rerun the test with --keep-failed-instance and read the instance's console/m);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('exits 60 for an unknown network and for a flavor too small for the image, leaving nothing', async () => {
    const p1 = await project({}, PASSING, { netId: '0b2d1f38-7a52-4b8e-9d4c-2f7a9d1e5c33' });
    const r1 = await dibctl(p1, ['test', 'cirros']);
    expect(r1.code).toBe(60);
    expect(r1.stderr).toMatch(/Nova answered 400/);
    const p2 = await project({ glance: { min_ram: 4096 } }, PASSING);
    const r2 = await dibctl(p2, ['test', 'cirros']);
    expect(r2.code).toBe(60);
    expect(r2.stderr).toMatch(/too small/);
    expect(r2.stderr).toMatch(/^Next step: check nova\.flavor and nova\.nics in test\.yaml and the image's min_disk/m);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('exits 50 for an unknown --use-existing-image', async () => {
    const p = await project({}, PASSING);
    const r = await dibctl(p, ['test', 'cirros', '--use-existing-image', '7d1c2f0e-0000-4000-8000-000000000000']);
    expect(r.code).toBe(50);
    expect(r.stderr).toMatch(/^Next step: check the image id with 'openstack image show ID'/m);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('exits 20 for a wrong password, 12 for missing credentials and 11 for an unknown label', async () => {
    const wrong = await project({}, PASSING, { password: 'not-the-password' });
    const refused = await dibctl(wrong, ['test', 'cirros']);
    expect(refused.code).toBe(20);
    expect(refused.stderr).toMatch(/^Next step: check the user, password, project and domains/m);
    const p = await project({}, PASSING);
    const cfg = await fs.readFile(p.testConfig, 'utf8');
    await fs.writeFile(p.testConfig, cfg.replace(/^\s+password: .*\n/m, ''));
    const missing = await dibctl(p, ['test', 'cirros']);
    expect(missing.code).toBe(12);
    expect(missing.stderr).not.toMatch(/at .*\.js:\d+/);
    const unknown = await dibctl(p, ['test', 'no-such-image']);
    expect(unknown.code).toBe(11);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('never deletes an image given with --use-existing-image', async () => {
    const p = await project({}, PASSING);
    const u = emu.user;
    const cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: u.username,
      password: u.password,
      projectName: u.projectName,
      userDomainName: u.userDomainName,
      projectDomainName: u.projectDomainName,
    });
    const img = await cloud.image.createImage({
      name: 'DIBCTL-existing',
      disk_format: 'qcow2',
      container_format: 'bare',
      properties: { default_user: 'cirros' },
    });
    await cloud.image.uploadImage(img.id, p.imageFile);
    try {
      for (const body of [PASSING, 'exit 1']) {
        await p.shellTest('check', body);
        const r = await dibctl(p, ['test', 'cirros', '--use-existing-image', img.id]);
        expect(r.code).toBe(body === PASSING ? 0 : 80);
        expect(r.stdout).toMatch(new RegExp(`Not removing image ${img.id}`));
        expect(dibctlObjects(emu)).toEqual({ ...NOTHING_LEFT, images: [img.id] });
      }
    } finally {
      await cloud.image.deleteImage(img.id);
      cloud.close();
    }
  });

  it('--upload-only uploads the test image, keeps it and boots nothing', async () => {
    const p = await project({}, PASSING);
    const r = await dibctl(p, ['--json', 'test', 'cirros', '--upload-only']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.kept).toEqual({ image: true, instance: false, keypair: false });
    const left = dibctlObjects(emu);
    expect(left.servers).toEqual([]);
    expect(left.images).toEqual([result.held.image.id]);
    const cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: emu.user.username,
      password: emu.user.password,
      projectName: emu.user.projectName,
      userDomainName: 'Default',
      projectDomainName: 'Default',
    });
    await cloud.image.deleteImage(result.held.image.id);
    cloud.close();
  });

  it('--keep-failed-instance holds server and keypair (not the image) until dibctl discard removes them', async () => {
    const p = await project({}, 'exit 1');
    const r = await dibctl(p, ['test', 'cirros', '--keep-failed-instance']);
    expect(r.code).toBe(80);
    const id = workflowIdOf(r.stderr);
    expect(r.stderr).toMatch(/To reach the instance: ssh .* -i \S+id_rsa cirros@127\./);
    expect(r.stdout).not.toMatch(/Clearing done/);
    const held = dibctlObjects(emu);
    expect(held.servers).toHaveLength(1);
    expect(held.keypairs).toHaveLength(1);
    const key = /Private key: (\S+)/.exec(r.stderr)![1];
    expect((await fs.stat(key)).mode & 0o777).toBe(0o600);

    const status = await control(['status', id]);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/holding for keep or discard/);
    expect(status.stdout).toMatch(new RegExp(`instance ${held.servers[0]}`));

    const d = await control(['discard', id]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/Removing instance[^]*Removing ssh key[^]*Clearing done/);
    await waitUntil(() => dibctlObjects(emu).servers.length === 0 && dibctlObjects(emu).keypairs.length === 0);
    const failed = (await temporal()
      .client.workflow.getHandle(id)
      .result()
      .catch((e: unknown) => e)) as { cause?: Error };
    expect(failed.cause?.message).toMatch(/Some tests failed/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
    await expect(fs.access(key)).rejects.toThrow();
    await recordHistory(temporal().client.workflow.getHandle(id), 'image-test-hold-discard');
  });

  it('dibctl keep sent while the test runs makes a failure hold the instance', async () => {
    const p = await project({}, 'sleep 3; exit 1');
    const live = startDibctl(['test', 'cirros', ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir),
    });
    await live.waitFor(/Port 22 is open/);
    const id = workflowIdOf(live.stderr());
    const k = await control(['keep', id]);
    expect(k.code).toBe(0);
    expect(k.stdout).toMatch(/Keep requested: if the test of \S+ fails, its instance is held/);
    expect(await live.exited).toBe(80);
    expect(live.stderr()).toMatch(/To reach the instance: ssh /);
    expect(dibctlObjects(emu).servers).toHaveLength(1);
    expect((await control(['discard', id])).code).toBe(0);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('dibctl keep leaves a held instance and its key for good and prints how to reach it', async () => {
    const p = await project({}, 'exit 1');
    const r = await dibctl(p, ['test', 'cirros', '--keep-failed-instance', '--keep-failed-image']);
    expect(r.code).toBe(80);
    const id = workflowIdOf(r.stderr);
    const k = await control(['keep', id]);
    expect(k.stderr).toBe('');
    expect(k.code).toBe(0);
    expect(k.stdout).toMatch(/To reach it: ssh .*cirros@127\./);
    const failure = await temporal()
      .client.workflow.getHandle(id)
      .result()
      .catch((e: unknown) => e);
    expect(String(failure)).toMatch(/failed/i);
    const left = dibctlObjects(emu);
    expect(left.servers).toHaveLength(1);
    expect(left.keypairs).toHaveLength(1);
    expect(left.images).toHaveLength(1);
    // the operator cleans up by hand
    const cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: emu.user.username,
      password: emu.user.password,
      projectName: emu.user.projectName,
      userDomainName: 'Default',
      projectDomainName: 'Default',
    });
    await cloud.compute.deleteServer(left.servers[0]);
    await cloud.compute.deleteKeypair(left.keypairs[0]);
    await cloud.image.deleteImage(left.images[0]);
    cloud.close();
  });

  it('a held instance is cleaned up when nobody decides within the hold limit', async () => {
    const p = await project({}, 'exit 1');
    const r = await dibctl(p, ['test', 'cirros', '--keep-failed-instance', '--hold-limit', '2']);
    expect(r.code).toBe(80);
    const id = workflowIdOf(r.stderr);
    await expect(temporal().client.workflow.getHandle(id).result()).rejects.toThrow();
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('Ctrl-C cancels the workflow; its cleanup still runs and is printed', async () => {
    const p = await project({}, 'sleep 60');
    const live = startDibctl(['test', 'cirros', ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir),
    });
    await live.waitFor(/Port 22 is open/);
    await new Promise((r) => setTimeout(r, 500));
    live.child.kill('SIGINT');
    const code = await live.exited;
    expect(code).toBe(1);
    expect(live.stdout()).toMatch(/Removing instance/);
    expect(live.stdout()).toMatch(/Clearing done/);
    const id = workflowIdOf(live.stderr());
    expect((await temporal().client.workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
    await recordHistory(temporal().client.workflow.getHandle(id), 'image-test-cancelled');
  });

  it('keeps no password, token or private key in the workflow history', async () => {
    const p = await project({}, PASSING);
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(0);
    const id = workflowIdOf(r.stderr);
    // payload bytes decoded as text, so a secret anywhere in them would show
    const history = JSON.stringify(await temporal().client.workflow.getHandle(id).fetchHistory(), (k, v: unknown) =>
      v instanceof Uint8Array
        ? Buffer.from(v).toString('utf8')
        : k === 'data' && typeof v === 'string'
          ? Buffer.from(v, 'base64').toString('utf8')
          : v,
    );
    expect(history).toContain('DIBCTL-');
    expect(history).not.toContain(emu.user.password);
    expect(history).not.toMatch(/PRIVATE KEY/);
    const tokens = emu.state().tokens.map((tk) => tk.id);
    expect(tokens.length).toBeGreaterThan(0);
    for (const tk of tokens) expect(history).not.toContain(tk);
  });
});
