/**
 * The emulator as compute and network only, beside the real Keystone and Glance:
 * real tokens, its services in the real catalog, images from the real Glance.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'ssh2';
import { Emulator, startEmulator } from '../../emulator';
import { Cloud, NovaBadRequestError } from '../../openstack';
import { cloudPool, describeReal, raw, stack, tokenFor, user } from './stack';
import { generateSshKeyPair } from '../../emulator/keys';

const pool = cloudPool();
const run = randomUUID();
let emu: Emulator;
let demo: Cloud;
let alt: Cloud;
let dir: string;
const images: Record<string, string> = {};

function sshRun(
  host: string,
  port: number,
  username: string,
  privateKey: string,
  command: string,
): Promise<{ out: string; code: number }> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.stderr.on('data', () => undefined);
        stream.on('exit', (code: number) => stream.on('close', () => (c.end(), resolve({ out, code }))));
      });
    });
    c.on('error', reject);
    c.connect({ host, port, username, privateKey, readyTimeout: 5000 });
  });
}

async function uploadTo(
  cloud: Cloud,
  name: string,
  extra: { min_ram?: number; properties?: Record<string, string> } = {},
): Promise<string> {
  const file = path.join(dir, `${name}.raw`);
  fs.writeFileSync(file, randomBytes(64 * 1024));
  const img = await cloud.image.createImage({
    name: `${name}-${run}`,
    disk_format: 'raw',
    container_format: 'bare',
    min_ram: extra.min_ram,
    properties: { dibctl_real_run: run, ...(extra.properties ?? {}) },
  });
  await cloud.image.uploadImage(img.id, file);
  return img.id;
}

beforeAll(async () => {
  if (!stack) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'real-compute-'));
  const account = (who: 'admin' | 'demo') => ({
    username: user(who).username,
    password: user(who).password,
    projectName: user(who).projectName,
  });
  emu = await startEmulator({
    regions: ['RegionOne', 'RegionTwo'],
    identity: { authUrl: stack.keystone.authUrl, adminCredentials: account('admin'), userCredentials: account('demo') },
    imageService: 'external',
    faults: { bootDelayMs: 100 },
  });
  demo = await pool.connect('demo');
  alt = await pool.connect('alt');
  images.guest = await uploadTo(demo, 'guest', { properties: { default_user: 'debian' } });
  images.big = await uploadTo(demo, 'needs-ram', { min_ram: 1024 });
  images.alts = await uploadTo(alt, 'alt-private');
});

afterAll(async () => {
  if (!stack) return;
  try {
    for (const c of [demo, alt])
      for (const img of await c.image.findImagesByProperty('dibctl_real_run', run))
        await c.image.deleteImage(img.id, { ignoreMissing: true });
  } finally {
    pool.closeAll();
    if (emu) await emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describeReal('the emulator as compute only beside the real Keystone and Glance', () => {
  test('the real catalog lists the emulated Nova and Neutron in every region, and the emulator reports the real accounts', async () => {
    expect(emu.authUrl).toBe(stack!.keystone.authUrl);
    expect(emu.user).toMatchObject({
      username: 'demo',
      userId: user('demo').userId,
      projectId: user('demo').projectId,
    });
    expect(emu.admin.projectId).toBe(user('admin').projectId);
    for (const region of ['RegionOne', 'RegionTwo']) {
      const c = await pool.connect('demo', { regionName: region });
      expect(await c.identity.endpointFor('compute')).toBe(`${emu.url}/compute/${region}/v2.1`);
      expect(await c.identity.endpointFor('network')).toBe(`${emu.url}/network/${region}`);
    }
    expect(await demo.identity.endpointFor('image')).toBe(stack!.glance.url);
  });

  test('the application credential the emulator created for its user works against the real Keystone and the emulated Nova', async () => {
    const c = await pool.connect('demo', {
      username: undefined,
      password: undefined,
      projectName: undefined,
      applicationCredentialId: emu.applicationCredential.id,
      applicationCredentialSecret: emu.applicationCredential.secret,
    });
    expect((await c.compute.findFlavor('m1.tiny')).ram).toBe(512);
  });

  test('a token the real Keystone does not know is refused with 401 naming the real Keystone', async () => {
    const res = await raw('GET', `${emu.url}/compute/RegionOne/v2.1/servers`, { token: 'gAAAAAnot-a-real-token' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Keystone uri="${stack!.keystone.authUrl}"`);
    expect((await raw('GET', `${emu.url}/compute/RegionOne/v2.1/servers`)).status).toBe(401);
  });

  test('the emulated Keystone and Glance are not served, the control endpoint takes a real admin token', async () => {
    expect((await raw('GET', `${emu.url}/v3`)).status).toBe(404);
    const demoToken = await tokenFor(stack!.keystone.authUrl, user('demo'));
    expect((await raw('GET', `${emu.url}/image/RegionOne/v2/images`, { token: demoToken })).status).toBe(404);
    expect((await raw('GET', `${emu.url}/_emulator/state`, { token: demoToken })).status).toBe(403);
    const adminToken = await tokenFor(stack!.keystone.authUrl, user('admin'));
    expect((await raw('GET', `${emu.url}/_emulator/state`, { token: adminToken })).status).toBe(200);
  });

  test('boots check the real image: unknown, not visible and too small a flavor for its min_ram are refused in Nova words', async () => {
    const net = [{ uuid: emu.networks.RegionOne.id }];
    const refusal = async (imageRef: string, flavorRef: string) => {
      const err = await demo.compute
        .createServer({ name: `refused-${run}`, imageRef, flavorRef, networks: net })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NovaBadRequestError);
      return (err as NovaBadRequestError).serverMessage;
    };
    expect(await refusal(randomUUID(), '1')).toBe('Can not find requested image');
    expect(await refusal(images.alts, '1')).toBe('Can not find requested image');
    expect(await refusal(images.big, '1')).toBe("Flavor's memory is too small for requested image.");
    expect(emu.state().regions.RegionOne.servers).toEqual([]);
  });

  test('a server booted from a real image answers SSH as the image default_user and is deleted with its keypair', async () => {
    const key = generateSshKeyPair('ed25519');
    await demo.compute.importKeypair(`key-${run}`, key.public);
    const created = await demo.compute.createServer({
      name: `guest-${run}`,
      imageRef: images.guest,
      flavorRef: '2',
      key_name: `key-${run}`,
      networks: [{ uuid: emu.networks.RegionOne.id }],
    });
    const server = await demo.compute.waitForServerStatus(created.id, 'ACTIVE', { timeoutMs: 30000, pollMs: 100 });
    expect((server.image as { id: string }).id).toBe(images.guest);
    const ip = Object.values(server.addresses)[0][0].addr;
    const res = await sshRun(ip, emu.sshPort, 'debian', key.private, 'echo ok; hostname');
    expect(res).toEqual({ out: `ok\nguest-${run}\n`, code: 0 });
    await demo.compute.deleteServer(created.id);
    await demo.compute.waitForServerDeleted(created.id, { timeoutMs: 30000, pollMs: 100 });
    await demo.compute.deleteKeypair(`key-${run}`);
    const state = emu.state().regions.RegionOne;
    expect([state.servers, state.keypairs, state.ports.filter((p) => p.device_id)]).toEqual([[], [], []]);
  });

  test('stopping the emulator removes its services, endpoints, added region and application credential from the real Keystone', async () => {
    const adminToken = await tokenFor(stack!.keystone.authUrl, user('admin'));
    const before = await raw('GET', `${stack!.keystone.authUrl}/services`, { token: adminToken });
    expect((before.body as { services: { type: string }[] }).services.map((s) => s.type).sort()).toEqual([
      'compute',
      'identity',
      'image',
      'network',
    ]);
    await emu.stop();
    const after = await raw('GET', `${stack!.keystone.authUrl}/services`, { token: adminToken });
    expect((after.body as { services: { type: string }[] }).services.map((s) => s.type).sort()).toEqual([
      'identity',
      'image',
    ]);
    const regions = await raw('GET', `${stack!.keystone.authUrl}/regions`, { token: adminToken });
    expect((regions.body as { regions: { id: string }[] }).regions.map((r) => r.id)).toEqual(['RegionOne']);
    const demoToken = await tokenFor(stack!.keystone.authUrl, user('demo'));
    const creds = await raw('GET', `${stack!.keystone.authUrl}/users/${user('demo').userId}/application_credentials`, {
      token: demoToken,
    });
    expect((creds.body as { application_credentials: unknown[] }).application_credentials).toEqual([]);
  });
});
