/**
 * The contract: Debian's python3-openstackclient, the real `openstack`
 * command, works against the emulator, and the system ssh reaches its servers.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { run, which } from './client';
import { knownHostsText, parseConsoleHostKeys } from '../../common/ssh-host-keys';

const OPENSTACK = fs.existsSync('/usr/bin/openstack') ? '/usr/bin/openstack' : undefined;
const SSH = which('ssh');
const SSH_KEYGEN = which('ssh-keygen');
const missing = [
  !OPENSTACK && 'openstack (apt-get install python3-openstackclient)',
  !SSH && 'ssh',
  !SSH_KEYGEN && 'ssh-keygen',
].filter(Boolean);
const describeIfTools = missing.length ? describe.skip : describe;
if (missing.length) console.warn(`openstackclient contract tests skipped: missing ${missing.join(', ')}`);

describeIfTools('the real openstack client against the emulator', () => {
  let emu: Emulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const osc = async (who: 'admin' | 'user', args: string[]) => {
    const c = emu[who];
    // The system interpreter runs the Debian package even when another python comes first on PATH
    const r = await run('/usr/bin/python3', [OPENSTACK!, ...args], {
      env: {
        ...env,
        OS_USERNAME: c.username,
        OS_PASSWORD: c.password,
        OS_PROJECT_NAME: c.projectName,
      },
      timeoutMs: 90_000,
    });
    if (r.code !== 0) throw new Error(`openstack ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const oscJson = async (who: 'admin' | 'user', args: string[]) => JSON.parse(await osc(who, [...args, '-f', 'json']));

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne', 'RegionTwo'], faults: { bootDelayMs: 200 } });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'osc-contract-'));
    env = {
      PATH: '/usr/bin:/bin',
      HOME: dir,
      OS_AUTH_URL: emu.authUrl,
      OS_IDENTITY_API_VERSION: '3',
      OS_USER_DOMAIN_NAME: 'Default',
      OS_PROJECT_DOMAIN_NAME: 'Default',
      OS_REGION_NAME: 'RegionOne',
      OS_INTERFACE: 'public',
    };
  });
  afterAll(async () => {
    await emu?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('token issue returns a token scoped to the project', async () => {
    const t = await oscJson('admin', ['token', 'issue']);
    expect(t.project_id).toBe(emu.admin.projectId);
    expect(t.user_id).toBe(emu.admin.userId);
    expect(Date.parse(t.expires)).toBeGreaterThan(Date.now());
  });

  test('flavor list/show and network list show the seeded cloud', async () => {
    const flavors = await oscJson('user', ['flavor', 'list']);
    expect(flavors.map((f: { Name: string }) => f.Name)).toEqual(
      expect.arrayContaining(['m1.tiny', 'm1.small', 'm1.medium']),
    );
    const medium = await oscJson('user', ['flavor', 'show', 'm1.medium']);
    expect(medium).toMatchObject({ name: 'm1.medium', ram: 4096, disk: 40, vcpus: 2 });
    expect(JSON.stringify(medium.properties)).toContain('hw:cpu_policy');
    const nets = await oscJson('user', ['network', 'list']);
    expect(nets).toEqual([expect.objectContaining({ ID: emu.networks.RegionOne.id, Name: 'private' })]);
  });

  test('image create --file, list, show, set --property and delete work with checksums intact', async () => {
    const file = path.join(dir, 'disk.raw');
    const data = crypto.randomBytes(1_500_000);
    fs.writeFileSync(file, data);
    const created = await oscJson('user', [
      'image',
      'create',
      '--file',
      file,
      '--disk-format',
      'raw',
      '--container-format',
      'bare',
      'contract-image',
    ]);
    expect(created.name).toBe('contract-image');
    const listed = await oscJson('user', ['image', 'list']);
    expect(listed).toEqual(
      expect.arrayContaining([expect.objectContaining({ ID: created.id, Name: 'contract-image', Status: 'active' })]),
    );
    await osc('user', ['image', 'set', '--property', 'obsolete=True', created.id]);
    const shown = await oscJson('user', ['image', 'show', created.id]);
    expect(shown).toMatchObject({
      status: 'active',
      size: data.length,
      checksum: crypto.createHash('md5').update(data).digest('hex'),
    });
    expect(shown.properties.obsolete).toBe('True');
    expect(shown.properties.os_hash_value).toBe(crypto.createHash('sha512').update(data).digest('hex'));
    const obsolete = await oscJson('user', ['image', 'list', '--property', 'obsolete=True']);
    expect(obsolete.map((i: { ID: string }) => i.ID)).toEqual([created.id]);
    await osc('user', ['image', 'delete', created.id]);
    expect(emu.state().regions.RegionOne.images).toEqual([]);
  });

  test('a server booted with server create --wait answers the system ssh with its name, and is deleted cleanly', async () => {
    const file = path.join(dir, 'guest.qcow2');
    fs.writeFileSync(file, crypto.randomBytes(64_000));
    const image = await oscJson('user', [
      'image',
      'create',
      '--file',
      file,
      '--disk-format',
      'qcow2',
      '--container-format',
      'bare',
      '--property',
      'default_user=debian',
      'contract-guest',
    ]);
    const keyFile = path.join(dir, 'id_ed25519');
    expect((await run(SSH_KEYGEN!, ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile])).code).toBe(0);
    const kp = await oscJson('user', ['keypair', 'create', '--public-key', `${keyFile}.pub`, 'contract-key']);
    expect(kp.name).toBe('contract-key');

    const server = await oscJson('user', [
      'server',
      'create',
      '--image',
      'contract-guest',
      '--flavor',
      'm1.small',
      '--network',
      'private',
      '--key-name',
      'contract-key',
      '--wait',
      'contract-vm',
    ]);
    expect(server.status).toBe('ACTIVE');
    const shown = await oscJson('user', ['server', 'show', 'contract-vm']);
    expect(shown).toMatchObject({ name: 'contract-vm', status: 'ACTIVE', key_name: 'contract-key' });
    const address: string = shown.addresses.private[0];
    expect(address).toMatch(/^127\./);

    const all = await oscJson('admin', ['server', 'list', '--all-projects']);
    expect(all).toEqual([expect.objectContaining({ Name: 'contract-vm', Status: 'ACTIVE' })]);
    await expect(osc('user', ['server', 'list', '--all-projects'])).rejects.toThrow(/exited 1/);

    // the host keys `openstack console log show` prints are the ones the server presents
    const knownHosts = path.join(path.dirname(keyFile), 'known_hosts');
    const consoleKeys = parseConsoleHostKeys(await osc('user', ['console', 'log', 'show', 'contract-vm']));
    expect(consoleKeys.length).toBeGreaterThan(0);
    fs.writeFileSync(knownHosts, knownHostsText(address, emu.sshPort, consoleKeys));
    const ssh = await run(SSH!, [
      '-i',
      keyFile,
      '-p',
      String(emu.sshPort),
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'PasswordAuthentication=no',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      `debian@${address}`,
      'hostname',
    ]);
    expect(ssh.stderr).toBe('');
    expect(ssh.stdout).toBe('contract-vm\n');

    await osc('user', ['server', 'delete', '--wait', 'contract-vm']);
    await osc('user', ['keypair', 'delete', 'contract-key']);
    await osc('user', ['image', 'delete', image.id]);
    const state = emu.state().regions.RegionOne;
    expect({ servers: state.servers, keypairs: state.keypairs, images: state.images }).toEqual({
      servers: [],
      keypairs: [],
      images: [],
    });
    expect(state.ports).toEqual([]);
  });
});
