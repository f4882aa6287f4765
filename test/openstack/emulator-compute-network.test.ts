/**
 * The client against the OpenStack emulator: Nova and Neutron.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Cloud,
  CloudAuth,
  connectCloud,
  NovaBadRequestError,
  NovaForbiddenError,
  ServerStateError,
} from '../../openstack';
import { Emulator, startEmulator } from '../../emulator';
import { generateSshKeyPair } from '../../emulator/keys';

let emu: Emulator;
let dir: string;
let user: Cloud;
let admin: Cloud;
let imageId: string;
let netId: string;

function authOf(who: 'admin' | 'user'): CloudAuth {
  const c = emu[who];
  return {
    authUrl: emu.authUrl,
    username: c.username,
    password: c.password,
    projectName: c.projectName,
    userDomainName: c.userDomainName,
    projectDomainName: c.projectDomainName,
    regionName: 'RegionOne',
  };
}

function publicKey(): string {
  return generateSshKeyPair('ed25519').public;
}

beforeAll(async () => {
  emu = await startEmulator({ faults: { bootDelayMs: 50 } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-compute-'));
  user = await connectCloud(authOf('user'));
  admin = await connectCloud(authOf('admin'));
  const file = path.join(dir, 'boot.raw');
  fs.writeFileSync(file, randomBytes(64 * 1024));
  const img = await user.image.createImage({
    name: 'client-boot',
    disk_format: 'raw',
    container_format: 'bare',
    properties: { default_user: 'debian' },
  });
  await user.image.uploadImage(img.id, file, { pollMs: 20 });
  imageId = img.id;
  netId = emu.networks.RegionOne.id;
});

afterAll(async () => {
  user?.close();
  admin?.close();
  await emu.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('flavors', () => {
  it('finds a flavor by id first, then by name, with its extra specs', async () => {
    const byId = await user.compute.findFlavor('2');
    expect(byId).toMatchObject({ id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 });
    const byName = await user.compute.findFlavor('m1.medium', { extraSpecs: true });
    expect(byName.id).toBe('3');
    expect(byName.extra_specs).toEqual({ 'hw:cpu_policy': 'shared', 'hw_rng:allowed': 'True' });
    expect(await user.compute.flavorExtraSpecs('1')).toEqual({});
  });

  it('refuses an unknown flavor with exit 60', async () => {
    await expect(user.compute.findFlavor('m9.gigantic')).rejects.toMatchObject({
      exitCode: 60,
      message: expect.stringContaining("Flavor 'm9.gigantic' not found"),
    });
  });

  it('lists every flavor', async () => {
    const names: string[] = [];
    for await (const f of user.compute.flavors()) names.push(f.name);
    expect(names).toEqual(
      expect.arrayContaining(['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge', 'cirros256']),
    );
  });
});

describe('keypairs', () => {
  it('imports a locally generated public key, again idempotently, and deletes it', async () => {
    const key = publicKey();
    const kp = await user.compute.importKeypair('client-key', key);
    expect(kp).toMatchObject({ name: 'client-key', public_key: key.trim() });
    expect(kp.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    expect((await user.compute.importKeypair('client-key', key)).fingerprint).toBe(kp.fingerprint);
    await expect(user.compute.importKeypair('client-key', publicKey())).rejects.toMatchObject({
      status: 409,
      exitCode: 1,
    });
    expect((await user.compute.keypairs()).map((k) => k.name)).toContain('client-key');
    expect((await user.compute.getKeypair('client-key')).public_key).toBe(key.trim());
    expect(await user.compute.deleteKeypair('client-key')).toBe(true);
    expect(await user.compute.findKeypair('client-key')).toBeUndefined();
    expect(await user.compute.deleteKeypair('client-key', { ignoreMissing: true })).toBe(false);
  });
});

describe('servers', () => {
  it('boots a server with key, fixed IP, user data, config drive, AZ, tags and metadata, then acts on it and deletes it', async () => {
    await user.compute.importKeypair('client-boot-key', publicKey());
    const prefix = emu.networks.RegionOne.cidr.split('.').slice(0, 3).join('.');
    const fixedIp = `${prefix}.201`;
    const created = await user.compute.createServer({
      name: 'client-vm',
      imageRef: imageId,
      flavorRef: '1',
      key_name: 'client-boot-key',
      networks: [{ uuid: netId, fixed_ip: fixedIp }],
      user_data: '#cloud-config\nhostname: client-vm\n',
      config_drive: true,
      availability_zone: 'nova',
      tags: ['dibctl-test'],
      metadata: { purpose: 'client test' },
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    const server = await user.compute.waitForServerStatus(created.id, 'ACTIVE', { timeoutMs: 30_000, pollMs: 50 });
    expect(server).toMatchObject({
      id: created.id,
      name: 'client-vm',
      key_name: 'client-boot-key',
      metadata: { purpose: 'client test' },
      config_drive: 'True',
    });
    expect(server['OS-EXT-AZ:availability_zone']).toBe('nova');
    expect(
      Object.values(server.addresses)
        .flat()
        .map((a) => a.addr),
    ).toContain(fixedIp);
    expect(emu.state().regions.RegionOne.servers.find((s) => s.id === created.id)?.tags).toEqual(['dibctl-test']);

    const ifaces = await user.compute.interfaces(created.id);
    expect(ifaces).toHaveLength(1);
    expect(ifaces[0]).toMatchObject({ net_id: netId, fixed_ips: [expect.objectContaining({ ip_address: fixedIp })] });
    expect(typeof (await user.compute.consoleOutput(created.id, 10))).toBe('string');

    const ports = await user.network.listPorts({ device_id: created.id });
    expect(ports.map((p) => p.id)).toEqual([ifaces[0].port_id]);

    await user.compute.reboot(created.id, 'HARD');
    await user.compute.waitForServerStatus(created.id, 'ACTIVE', { timeoutMs: 30_000, pollMs: 50 });
    await user.compute.rebuild(created.id, imageId, { name: 'client-vm' });
    await user.compute.waitForServerStatus(created.id, 'ACTIVE', { timeoutMs: 30_000, pollMs: 50 });

    expect((await user.compute.findServersByName('client-vm')).map((s) => s.id)).toEqual([created.id]);
    expect(await user.compute.findServersByName('client-v')).toEqual([]);

    expect(await user.compute.deleteServer(created.id)).toBe(true);
    expect(await user.compute.waitForServerDeleted(created.id, { timeoutMs: 30_000, pollMs: 50 })).toBe(true);
    expect(await user.compute.findServer(created.id)).toBeUndefined();
    expect(await user.compute.deleteServer(created.id, { ignoreMissing: true })).toBe(false);
    await expect(user.compute.getServer(created.id)).rejects.toMatchObject({ status: 404, exitCode: 1 });
  });

  it('pages through servers with limit and marker, and lists all projects only for admins', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (
          await user.compute.createServer({
            name: `client-page-${i}`,
            imageRef: imageId,
            flavorRef: '1',
            networks: [{ uuid: netId }],
          })
        ).id,
      );
    }
    const lines: string[] = [];
    const logged = await connectCloud(authOf('user'), { debug: (l) => lines.push(l) });
    try {
      const seen: string[] = [];
      for await (const s of logged.compute.servers({ name: '^client-page-', limit: 1 })) seen.push(s.id);
      expect([...seen].sort()).toEqual([...ids].sort());
      expect(lines.filter((l) => /^RESP: 200 GET .*\/servers\/detail\?/.test(l)).length).toBeGreaterThanOrEqual(3);
    } finally {
      logged.close();
    }

    const forbidden = await user.compute.listServers({ all_tenants: true }).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(NovaForbiddenError);
    expect(forbidden).toMatchObject({ exitCode: 61, status: 403 });
    expect((forbidden as Error).message).toContain('get_all_tenants');

    const everyone = await admin.compute.listServers({ all_tenants: true, limit: 2 });
    expect(everyone.map((s) => s.id)).toEqual(expect.arrayContaining(ids));
    expect((await admin.compute.listServers()).map((s) => s.id)).not.toEqual(expect.arrayContaining(ids));
    for (const id of ids) await user.compute.deleteServer(id);
  });

  it('maps refused boots to exit 60: unknown network, flavor too small for the image', async () => {
    const unknownNet = await user.compute
      .createServer({
        name: 'client-bad-net',
        imageRef: imageId,
        flavorRef: '1',
        networks: [{ uuid: '11111111-2222-3333-4444-555555555555' }],
      })
      .catch((e: unknown) => e);
    expect(unknownNet).toBeInstanceOf(NovaBadRequestError);
    expect(unknownNet).toMatchObject({ exitCode: 60, status: 400 });
    expect((unknownNet as NovaBadRequestError).serverMessage).toMatch(/network/i);

    const big = await user.image.createImage({
      name: 'client-big',
      disk_format: 'raw',
      container_format: 'bare',
      min_disk: 50,
    });
    const file = path.join(dir, 'big.raw');
    fs.writeFileSync(file, randomBytes(1024));
    await user.image.uploadImage(big.id, file, { pollMs: 20 });
    const tooSmall = await user.compute
      .createServer({ name: 'client-small', imageRef: big.id, flavorRef: '1', networks: [{ uuid: netId }] })
      .catch((e: unknown) => e);
    expect(tooSmall).toBeInstanceOf(NovaBadRequestError);
    expect((tooSmall as Error).message).toMatch(/too small/i);
  });

  it("reports a boot that ends in ERROR with exit 70 and Nova's fault", async () => {
    emu.faults.set({ bootErrors: 1 });
    const created = await user.compute.createServer({
      name: 'client-error',
      imageRef: imageId,
      flavorRef: '1',
      networks: [{ uuid: netId }],
    });
    const err = await user.compute
      .waitForServerStatus(created.id, 'ACTIVE', { timeoutMs: 30_000, pollMs: 50 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerStateError);
    expect(err).toMatchObject({ exitCode: 70, status: 'ERROR' });
    expect((err as Error).message).toBe(
      `Instance ${created.id} state is 'ERROR' (expected 'ACTIVE'): No valid host was found. There are not enough hosts available.`,
    );
    await user.compute.deleteServer(created.id);
  });
});

describe('networks', () => {
  it('lists, gets and finds networks by id or name, and reads their subnets', async () => {
    const all = await user.network.listNetworks();
    expect(all.map((n) => n.id)).toContain(netId);
    const byId = await user.network.getNetwork(netId);
    expect(byId.name).toBe(emu.networks.RegionOne.name);
    expect((await user.network.findNetwork(emu.networks.RegionOne.name)).id).toBe(netId);
    await expect(user.network.findNetwork('no-such-network')).rejects.toThrow(/Network 'no-such-network' not found/);
    const subnets: string[] = [];
    for await (const s of user.network.subnets({ network_id: netId })) subnets.push(s.cidr);
    expect(subnets).toContain(emu.networks.RegionOne.cidr);
    const subnet = await user.network.getSubnet(byId.subnets[0]);
    expect(subnet.network_id).toBe(netId);
  });
});
