import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'ssh2';
import { tcpAccepts } from '../../temporal/free-port';
import { Emulator, startEmulator } from '../../emulator';
import { Session, call, login, run, until, which } from './client';
import { generateSshKeyPair } from '../../emulator/keys';
import { knownHostsText, parseConsoleHostKeys } from '../../common/ssh-host-keys';
import { probeHostKey } from '../../activities/test-runners/host-keys';

const V = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}` });

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
        stream.on('exit', (code: number) => {
          stream.on('close', () => {
            c.end();
            resolve({ out, code });
          });
        });
      });
    });
    c.on('error', reject);
    c.connect({ host, port, username, privateKey, readyTimeout: 5000 });
  });
}

describe('emulated Nova and Neutron', () => {
  let emu: Emulator;
  let user: Session;
  let admin: Session;
  let nova: string;
  let imageId: string;
  let netId: string;
  const key = generateSshKeyPair('ed25519');

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], faults: { bootDelayMs: 100 } });
    user = await login(emu, 'user');
    admin = await login(emu, 'admin');
    nova = user.url('compute');
    netId = emu.networks.RegionOne.id;
    const glance = `${user.url('image')}/v2`;
    const img = await call('POST', `${glance}/images`, {
      token: user.token,
      body: { name: 'guest', disk_format: 'qcow2', container_format: 'bare', min_ram: 1024, default_user: 'debian' },
    });
    imageId = img.json.id;
    await call('PUT', `${glance}/images/${imageId}/file`, {
      token: user.token,
      rawBody: 'qcow2 data',
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    const kp = await call('POST', `${nova}/os-keypairs`, {
      token: user.token,
      headers: V('2.92'),
      body: { keypair: { name: 'k1', public_key: key.public } },
    });
    expect(kp.status).toBe(201);
  });
  afterAll(() => emu.stop());
  afterEach(() => emu.faults.set({ ...emu.faults.reset(), bootDelayMs: 100 }));

  const boot = async (name: string, extra: Record<string, unknown> = {}, s: Session = user) => {
    return call('POST', `${nova}/servers`, {
      token: s.token,
      headers: V('2.79'),
      body: {
        server: {
          name,
          imageRef: imageId,
          flavorRef: '2',
          key_name: s === user ? 'k1' : undefined,
          networks: [{ uuid: netId }],
          ...extra,
        },
      },
    });
  };
  const waitStatus = (id: string, s: Session = user) =>
    until(async () => {
      const r = await call('GET', `${nova}/servers/${id}`, { token: s.token, headers: V('2.79') });
      return ['BUILD', 'REBOOT', 'HARD_REBOOT', 'REBUILD'].includes(r.json.server.status) ? undefined : r.json.server;
    });

  test('the compute endpoint announces microversions 2.1 to 2.96 and echoes the one used', async () => {
    const root = await call('GET', nova);
    expect(root.json.version).toMatchObject({ id: 'v2.1', min_version: '2.1', version: '2.96' });
    const r = await call('GET', `${nova}/flavors`, { token: user.token, headers: V('2.61') });
    expect(r.headers.get('openstack-api-version')).toBe('compute 2.61');
    expect(r.headers.get('x-openstack-nova-api-version')).toBe('2.61');
    expect((await call('GET', `${nova}/flavors`, { token: user.token, headers: V('2.200') })).status).toBe(406);
    expect((await call('GET', `${nova}/flavors`, { token: user.token, headers: V('two') })).status).toBe(400);
  });

  test('flavors come with details and extra specs', async () => {
    const detail = await call('GET', `${nova}/flavors/detail`, { token: user.token, headers: V('2.61') });
    const medium = detail.json.flavors.find((f: { name: string }) => f.name === 'm1.medium');
    expect(medium).toMatchObject({
      id: '3',
      ram: 4096,
      disk: 40,
      vcpus: 2,
      'os-flavor-access:is_public': true,
      extra_specs: { 'hw:cpu_policy': 'shared' },
    });
    const specs = await call('GET', `${nova}/flavors/3/os-extra_specs`, { token: user.token });
    expect(specs.json.extra_specs['hw:cpu_policy']).toBe('shared');
    expect((await call('GET', `${nova}/flavors/nope`, { token: user.token })).json).toEqual({
      itemNotFound: { code: 404, message: 'Flavor nope could not be found.' },
    });
  });

  test('keypairs are imported from a public key; 2.92 refuses a keypair without one', async () => {
    const got = await call('GET', `${nova}/os-keypairs/k1`, { token: user.token, headers: V('2.92') });
    expect(got.json.keypair).toMatchObject({
      name: 'k1',
      type: 'ssh',
      user_id: emu.user.userId,
      public_key: key.public,
    });
    expect(got.json.keypair.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    const noKey = await call('POST', `${nova}/os-keypairs`, {
      token: user.token,
      headers: V('2.92'),
      body: { keypair: { name: 'k2' } },
    });
    expect(noKey.status).toBe(400);
    expect(noKey.json.badRequest.message).toContain("'public_key' is a required property");
    const dup = await call('POST', `${nova}/os-keypairs`, {
      token: user.token,
      headers: V('2.92'),
      body: { keypair: { name: 'k1', public_key: key.public } },
    });
    expect(dup.status).toBe(409);
    const garbage = await call('POST', `${nova}/os-keypairs`, {
      token: user.token,
      headers: V('2.92'),
      body: { keypair: { name: 'k3', public_key: 'ssh-rsa nonsense' } },
    });
    expect(garbage.status).toBe(400);
  });

  test('a server goes BUILD → ACTIVE with an address in 127/8 where SSH accepts the keypair for the image user', async () => {
    const r = await boot('Web-01');
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toContain(`/servers/${r.json.server.id}`);
    const first = await call('GET', `${nova}/servers/${r.json.server.id}`, { token: user.token, headers: V('2.79') });
    expect(first.json.server.status).toBe('BUILD');
    const server = await waitStatus(r.json.server.id);
    expect(server.status).toBe('ACTIVE');
    const ip = server.addresses.private[0].addr as string;
    expect(ip).toMatch(/^127\./);
    const ssh = await sshRun(ip, emu.sshPort, 'debian', key.private, 'hostname; pwd');
    expect(ssh.out.split('\n')[0]).toBe('web-01');
    await expect(sshRun(ip, emu.sshPort, 'root', key.private, 'true')).rejects.toThrow(/authentication/i);
    const ports = await call('GET', `${user.url('network')}/v2.0/ports?device_id=${server.id}`, { token: user.token });
    expect(ports.json.ports[0].fixed_ips[0].ip_address).toBe(ip);
    const ifaces = await call('GET', `${nova}/servers/${server.id}/os-interface`, { token: user.token });
    expect(ifaces.json.interfaceAttachments[0]).toMatchObject({ net_id: netId, port_state: 'ACTIVE' });
    const consoleOut = await call('POST', `${nova}/servers/${server.id}/action`, {
      token: user.token,
      body: { 'os-getConsoleOutput': { length: 2 } },
    });
    expect(consoleOut.json.output.trim().split('\n')).toHaveLength(2);

    expect((await call('DELETE', `${nova}/servers/${server.id}`, { token: user.token })).status).toBe(204);
    expect((await call('GET', `${nova}/servers/${server.id}`, { token: user.token })).status).toBe(404);
    expect(await tcpAccepts(ip, emu.sshPort, 500)).toBe(false);
    const after = await call('GET', `${user.url('network')}/v2.0/ports?device_id=${server.id}`, { token: user.token });
    expect(after.json.ports).toEqual([]);
  });

  test('a boot told to fail ends in ERROR with a fault', async () => {
    emu.faults.set({ bootErrors: 1 });
    const r = await boot('doomed');
    const server = await waitStatus(r.json.server.id);
    expect(server.status).toBe('ERROR');
    expect(server.fault).toMatchObject({ code: 500, message: expect.stringContaining('No valid host') });
    await call('DELETE', `${nova}/servers/${server.id}`, { token: user.token });
  });

  test('the never-open knob keeps the SSH port closed on an ACTIVE server', async () => {
    emu.faults.set({ sshNeverOpens: true });
    const r = await boot('silent');
    const server = await waitStatus(r.json.server.id);
    expect(server.status).toBe('ACTIVE');
    expect(await tcpAccepts(server.addresses.private[0].addr, emu.sshPort, 500)).toBe(false);
    await call('DELETE', `${nova}/servers/${server.id}`, { token: user.token });
  });

  test('image min_ram above the flavor, unknown networks, keys and fields are 400 in Nova shape', async () => {
    const small = await boot('tiny', { flavorRef: '1' });
    expect(small.status).toBe(400);
    expect(small.json.badRequest.message).toBe("Flavor's memory is too small for requested image.");
    const net = await boot('nonet', { networks: [{ uuid: '4f0b1c1e-0000-4000-8000-000000000000' }] });
    expect(net.json).toEqual({
      badRequest: { code: 400, message: 'Network 4f0b1c1e-0000-4000-8000-000000000000 could not be found.' },
    });
    expect((await boot('nokey', { key_name: 'missing' })).json.badRequest.message).toBe('Invalid key_name provided.');
    const extra = await boot('extra', { colour: 'blue' });
    expect(extra.json.badRequest.message).toContain("Additional properties are not allowed ('colour' was unexpected)");
    const type = await boot(42 as unknown as string);
    expect(type.status).toBe(400);
    const malformed = await call('POST', `${nova}/servers`, {
      token: user.token,
      rawBody: '{',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(malformed.json).toEqual({ badRequest: { code: 400, message: 'Malformed request body' } });
    expect(
      emu.state().regions.RegionOne.servers.filter((s) => ['tiny', 'nonet', 'nokey', 'extra'].includes(s.name)),
    ).toEqual([]);
  });

  test('all_tenants is for admins only, and listing pages with limit and marker', async () => {
    const ids: string[] = [];
    for (const n of ['p1', 'p2', 'p3']) ids.push((await boot(n)).json.server.id);
    const forbidden = await call('GET', `${nova}/servers?all_tenants=1`, { token: user.token });
    expect(forbidden.status).toBe(403);
    expect(forbidden.json.forbidden.code).toBe(403);
    const adminBoot = await boot('admins', { key_name: undefined }, admin);
    const all = await call('GET', `${nova}/servers/detail?all_tenants=1`, { token: admin.token });
    expect(all.json.servers.map((s: { id: string }) => s.id)).toEqual(
      expect.arrayContaining([...ids, adminBoot.json.server.id]),
    );
    const mine = await call('GET', `${nova}/servers`, { token: user.token });
    expect(mine.json.servers.map((s: { id: string }) => s.id)).not.toContain(adminBoot.json.server.id);

    const seen: string[] = [];
    let next: string | undefined = `${nova}/servers?limit=2&name=^p`;
    while (next) {
      const page = await call('GET', next, { token: user.token });
      seen.push(...page.json.servers.map((s: { id: string }) => s.id));
      next = page.json.servers_links?.find((l: { rel: string }) => l.rel === 'next')?.href;
    }
    expect(seen).toEqual([...ids].reverse());
    for (const id of [...ids]) await call('DELETE', `${nova}/servers/${id}`, { token: user.token });
    await call('DELETE', `${nova}/servers/${adminBoot.json.server.id}`, { token: admin.token });
  });

  test('reboot and rebuild bring the server back to ACTIVE with SSH answering again', async () => {
    const r = await boot('cycler');
    const server = await waitStatus(r.json.server.id);
    const ip = server.addresses.private[0].addr;
    expect(
      (
        await call('POST', `${nova}/servers/${server.id}/action`, {
          token: user.token,
          body: { reboot: { type: 'SOFT' } },
        })
      ).status,
    ).toBe(202);
    expect((await waitStatus(server.id)).status).toBe('ACTIVE');
    expect((await sshRun(ip, emu.sshPort, 'debian', key.private, 'hostname')).out.trim()).toBe('cycler');
    const rebuild = await call('POST', `${nova}/servers/${server.id}/action`, {
      token: user.token,
      body: { rebuild: { imageRef: imageId } },
    });
    expect(rebuild.status).toBe(202);
    expect(rebuild.json.server.status).toBe('REBUILD');
    expect((await waitStatus(server.id)).status).toBe('ACTIVE');
    const unknown = await call('POST', `${nova}/servers/${server.id}/action`, {
      token: user.token,
      body: { levitate: {} },
    });
    expect(unknown.status).toBe(400);
    await call('DELETE', `${nova}/servers/${server.id}`, { token: user.token });
  });

  /** The server's console log, whole. */
  const consoleLog = async (id: string): Promise<string> =>
    (await call('POST', `${nova}/servers/${id}/action`, { token: user.token, body: { 'os-getConsoleOutput': {} } }))
      .json.output;

  /** ssh arguments that accept only the host keys the server's console log prints. */
  async function pinnedSsh(dir: string, server: { id: string; addresses: { private: Array<{ addr: string }> } }) {
    const keyFile = path.join(dir, 'id');
    fs.writeFileSync(keyFile, key.private, { mode: 0o600 });
    const ip = server.addresses.private[0].addr;
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHosts, knownHostsText(ip, emu.sshPort, parseConsoleHostKeys(await consoleLog(server.id))));
    return [
      '-i',
      keyFile,
      '-p',
      String(emu.sshPort),
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      `debian@${ip}`,
    ];
  }

  test('the console log prints the host keys the SSH server presents, as cloud-init does', async () => {
    const server = await waitStatus((await boot('keyed')).json.server.id);
    const log = await consoleLog(server.id);
    const keys = parseConsoleHostKeys(log);
    expect(keys.map((k) => k.type)).toEqual(['ecdsa-sha2-nistp256', 'ssh-ed25519']);
    expect(log).toContain('ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----');
    expect(log).toMatch(/ec2: 256 SHA256:\S+ root@keyed \(ED25519\)/);
    // the key exchange proves the server holds each printed key's private half
    for (const k of keys) {
      const probe = await probeHostKey({ ip: server.addresses.private[0].addr, port: emu.sshPort }, { expected: [k] });
      expect(probe).toEqual({ presented: k, matches: true });
    }
    // a second server has keys of its own
    const other = await waitStatus((await boot('keyed-2')).json.server.id);
    const otherKeys = parseConsoleHostKeys(await consoleLog(other.id));
    expect(otherKeys.some((k) => keys.some((m) => m.key === k.key))).toBe(false);
    await call('DELETE', `${nova}/servers/${server.id}`, { token: user.token });
    await call('DELETE', `${nova}/servers/${other.id}`, { token: user.token });
  });

  test('the system ssh client checks the console keys, runs commands and returns their exit status', async () => {
    if (!which('ssh')) {
      console.warn('skipped: no ssh client on this machine');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-ssh-'));
    const server = await waitStatus((await boot('exit-codes')).json.server.id);
    const args = await pinnedSsh(dir, server);
    expect((await run('ssh', [...args, 'exit 42'])).code).toBe(42);
    const piped = await run('ssh', [...args, 'sh'], { input: 'echo from-stdin; hostname\n' });
    expect(piped.stdout).toBe('from-stdin\nexit-codes\n');
    await call('DELETE', `${nova}/servers/${server.id}`, { token: user.token });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the wrong-host-key knob makes a server present keys its console log does not print', async () => {
    if (!which('ssh')) {
      console.warn('skipped: no ssh client on this machine');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-ssh-'));
    emu.faults.set({ sshWrongHostKeyNamePattern: '^impostor' });
    const server = await waitStatus((await boot('impostor-1')).json.server.id);
    const honest = await waitStatus((await boot('honest-1')).json.server.id);
    const refused = await run('ssh', [...(await pinnedSsh(dir, server)), 'true']);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    const keys = parseConsoleHostKeys(await consoleLog(server.id));
    const probe = await probeHostKey({ ip: server.addresses.private[0].addr, port: emu.sshPort }, { expected: keys });
    expect(probe.matches).toBe(false);
    expect((await run('ssh', [...(await pinnedSsh(dir, honest)), 'true'])).code).toBe(0);
    expect(() => emu.faults.set({ sshWrongHostKeyNamePattern: '(' })).toThrow();
    expect(() => emu.faults.set({ sshWrongHostKey: 'yes' as never })).toThrow(/true or false/);
    await call('DELETE', `${nova}/servers/${server.id}`, { token: user.token });
    await call('DELETE', `${nova}/servers/${honest.id}`, { token: user.token });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
