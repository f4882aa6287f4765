import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { InstanceFacts, KeypairFiles, chooseMainIp, createImageTestActivities } from '../../activities/image-test';
import { ImageUploadResult, createImageUploadActivities } from '../../activities/image-upload';
import { Emulator, startEmulator } from '../../emulator';
import { connectCloud } from '../../openstack';
import { dibctlObjects } from './cli-support';
import { StageProject, stageProject } from './fixture';

const run = <T>(fn: (...args: never[]) => Promise<unknown>, ...args: unknown[]): Promise<T> =>
  new MockActivityEnvironment().run(fn as (...a: unknown[]) => Promise<T>, ...args);

describe('image test activities: every create finds what an earlier attempt made', () => {
  let emu: Emulator;
  let project: StageProject;
  let stateDir: string;
  let acts: ReturnType<typeof createImageTestActivities>;
  let image: ImageUploadResult;

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'] });
    project = await stageProject(emu, 'cirros');
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-acts-'));
    acts = createImageTestActivities({ env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
    image = await run(createImageUploadActivities().uploadImageFile, {
      cloud: project.cloud,
      file: project.imageFile,
      buildId: 'acts/test',
      image: {
        name: 'DIBCTL-acts',
        diskFormat: 'qcow2',
        containerFormat: 'bare',
        visibility: 'private',
        properties: { default_user: 'cirros' },
      },
      timeoutSeconds: 60,
    });
  });
  afterAll(async () => {
    await project?.remove();
    await emu?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  const boot = (name: string, keyName?: string) => ({
    cloud: project.cloud,
    name,
    imageId: image.imageId,
    flavor: 'm1.tiny',
    nics: [{ netId: emu.networks.RegionOne.id }],
    ...(keyName ? { keyName } : {}),
    createTimeoutSeconds: 10,
  });

  it('prepareKeypair makes a 0600 RSA key (3072 bits) once and returns the same key to a second attempt', async () => {
    const a = await run<KeypairFiles>(acts.prepareKeypair, { workflowId: 'wf-key', name: 'DIBCTL-k' });
    const b = await run<KeypairFiles>(acts.prepareKeypair, { workflowId: 'wf-key', name: 'DIBCTL-k' });
    expect(b).toEqual(a);
    expect(a.publicKey).toMatch(/^ssh-rsa \S+ DIBCTL-k$/);
    expect(execFileSync('ssh-keygen', ['-l', '-f', a.privateKeyFile], { encoding: 'utf8' })).toMatch(
      /^3072 .*\(RSA\)$/m,
    );
    expect((await fs.stat(a.privateKeyFile)).mode & 0o777).toBe(0o600);
    expect(a.privateKeyFile.startsWith(stateDir)).toBe(true);
    await run(acts.removeInstanceFiles, { workflowId: 'wf-key' });
    await expect(fs.access(a.privateKeyFile)).rejects.toThrow();
  });

  it('prepareKeypair makes an ed25519 key when asked; a later attempt reuses the key an earlier one made', async () => {
    const a = await run<KeypairFiles>(acts.prepareKeypair, {
      workflowId: 'wf-ed',
      name: 'DIBCTL-e',
      keyType: 'ed25519',
    });
    expect(a.publicKey).toMatch(/^ssh-ed25519 \S+ DIBCTL-e$/);
    // an attempt that asks another type (a workflow from before key_type) gets the key already made
    const b = await run<KeypairFiles>(acts.prepareKeypair, { workflowId: 'wf-ed', name: 'DIBCTL-e' });
    expect(b).toEqual(a);
    await run(acts.removeInstanceFiles, { workflowId: 'wf-ed' });
    await expect(fs.access(a.privateKeyFile)).rejects.toThrow();
  });

  it('importKeypair and bootInstance repeated make one keypair and one server; cleanup by name removes both', async () => {
    const key = await run<KeypairFiles>(acts.prepareKeypair, { workflowId: 'wf-boot', name: 'DIBCTL-boot' });
    await run(acts.importKeypair, { cloud: project.cloud, name: 'DIBCTL-boot', publicKey: key.publicKey });
    await run(acts.importKeypair, { cloud: project.cloud, name: 'DIBCTL-boot', publicKey: key.publicKey });
    const first = await run<{ serverId: string; reused: boolean }>(
      acts.bootInstance,
      boot('DIBCTL-boot', 'DIBCTL-boot'),
    );
    const second = await run<{ serverId: string; reused: boolean }>(
      acts.bootInstance,
      boot('DIBCTL-boot', 'DIBCTL-boot'),
    );
    expect(first.reused).toBe(false);
    expect(second).toEqual({ serverId: first.serverId, reused: true });
    expect(dibctlObjects(emu).servers).toEqual([first.serverId]);
    expect(dibctlObjects(emu).keypairs).toEqual(['DIBCTL-boot']);

    const facts = await run<InstanceFacts>(acts.waitInstanceActive, {
      cloud: project.cloud,
      serverId: first.serverId,
      timeoutSeconds: 30,
      mainNicRegexp: '^private$',
    });
    expect(facts.flavor).toMatchObject({ name: 'm1.tiny', ram: 512 });
    expect(facts.ips).toEqual([facts.mainIp]);
    expect(facts.mainIp).toMatch(/^127\./);

    expect(
      await run<string[]>(acts.deleteInstancesByName, {
        cloud: project.cloud,
        name: 'DIBCTL-boot',
        timeoutSeconds: 20,
      }),
    ).toEqual([first.serverId]);
    expect(await run<boolean>(acts.deleteKeypairByName, { cloud: project.cloud, name: 'DIBCTL-boot' })).toBe(true);
    expect(await run<boolean>(acts.deleteKeypairByName, { cloud: project.cloud, name: 'DIBCTL-boot' })).toBe(false);
    expect(dibctlObjects(emu).servers).toEqual([]);
    expect(dibctlObjects(emu).keypairs).toEqual([]);
  });

  it('cleanup by name removes a server whose create answer never reached the workflow', async () => {
    const u = emu.user;
    const cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: u.username,
      password: u.password,
      projectName: u.projectName,
      userDomainName: u.userDomainName,
      projectDomainName: u.projectDomainName,
    });
    const made = await cloud.compute.createServer({
      name: 'DIBCTL-lost',
      imageRef: image.imageId,
      flavorRef: '1',
      networks: [{ uuid: emu.networks.RegionOne.id }],
    });
    cloud.close();
    expect(
      await run<string[]>(acts.deleteInstancesByName, {
        cloud: project.cloud,
        name: 'DIBCTL-lost',
        timeoutSeconds: 20,
      }),
    ).toEqual([made.id]);
    expect(dibctlObjects(emu).servers).toEqual([]);
  });

  it('waitInstanceActive fails non-retryably with exit 70 and the fault when the boot ends in ERROR', async () => {
    emu.faults.set({ bootErrors: 1, bootErrorMessage: 'Exceeded maximum number of retries.' });
    try {
      const { serverId } = await run<{ serverId: string }>(acts.bootInstance, boot('DIBCTL-err'));
      await expect(
        run(acts.waitInstanceActive, { cloud: project.cloud, serverId, timeoutSeconds: 30 }),
      ).rejects.toMatchObject({
        type: 'ServerStateError',
        nonRetryable: true,
        details: [{ exitCode: 70 }],
        message: expect.stringMatching(/state is 'ERROR' \(expected 'ACTIVE'\): Exceeded maximum number of retries/),
      });
    } finally {
      emu.faults.reset();
      await run(acts.deleteInstancesByName, { cloud: project.cloud, name: 'DIBCTL-err', timeoutSeconds: 20 });
    }
  });

  it('waitForPort fails non-retryably with exit 71 when nothing listens', async () => {
    await expect(run(acts.waitForPort, { ip: '127.0.0.1', port: 9, timeoutSeconds: 1 })).rejects.toMatchObject({
      type: 'PortWaitTimeoutError',
      nonRetryable: true,
      details: [{ exitCode: 71 }],
    });
  });

  it('chooses the main IP by main_nic_regexp and refuses none or several matches', () => {
    const addresses = {
      'internet_192.0.2.0/27': [{ addr: '192.0.2.5', version: 4 as const }],
      private: [{ addr: '10.0.0.5', version: 4 as const }],
    };
    expect(chooseMainIp(addresses, '^private$')).toBe('10.0.0.5');
    expect(chooseMainIp(addresses, '^internet')).toBe('192.0.2.5');
    expect(() => chooseMainIp(addresses, 'nomatch')).toThrow(/No network of the instance matches/);
    expect(() => chooseMainIp(addresses, '.')).toThrow(/Several networks/);
  });
});
