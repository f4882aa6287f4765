/**
 * A booted instance on the emulator, reachable over real SSH, and the test
 * context dibctl's test stage would build for it (host keys pinned from the
 * console log in a known_hosts file). Also writes a test.yaml
 * whose keystone section points at the emulator, so runners that need cloud
 * clients resolve credentials the way the worker does.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { Cloud, CloudAuth, connectCloud } from '../../openstack';
import { sshCommandLine } from '../../common/ssh-command';
import { knownHostsText, parseConsoleHostKeys } from '../../common/ssh-host-keys';
import type { InstanceTestContext } from '../../activities/test-runners/types';

export interface BootedInstance {
  emu: Emulator;
  cloud: Cloud;
  dir: string;
  ctx: InstanceTestContext;
  logDir: string;
  stop(): Promise<void>;
}

function userAuth(emu: Emulator): CloudAuth {
  const c = emu.user;
  return {
    authUrl: emu.authUrl,
    username: c.username,
    password: c.password,
    projectName: c.projectName,
    userDomainName: c.userDomainName,
    projectDomainName: c.projectDomainName,
    regionName: emu.regions[0],
  };
}

/** Boots `name` (flavor m1.medium, with extra specs) and returns its test context. */
export async function bootInstance(name: string, opts: { username?: string } = {}): Promise<BootedInstance> {
  const emu = await startEmulator({ faults: { bootDelayMs: 50 } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-runners-'));
  const cloud = await connectCloud(userAuth(emu));
  try {
    const keyFile = path.join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dibctl-test', '-f', keyFile]);
    fs.chmodSync(keyFile, 0o600);
    await cloud.compute.importKeypair(`kp-${name}`, fs.readFileSync(`${keyFile}.pub`, 'utf8').trim());

    const imageFile = path.join(dir, 'image.raw');
    fs.writeFileSync(imageFile, randomBytes(64 * 1024));
    const img = await cloud.image.createImage({
      name: `img-${name}`,
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      properties: {},
    });
    await cloud.image.uploadImage(img.id, imageFile, { pollMs: 20 });

    const flavor = await cloud.compute.findFlavor('m1.medium', { extraSpecs: true });
    const created = await cloud.compute.createServer({
      name,
      imageRef: img.id,
      flavorRef: flavor.id,
      key_name: `kp-${name}`,
      networks: [{ uuid: emu.networks[emu.regions[0]].id }],
    });
    const server = await cloud.compute.waitForServerStatus(created.id, 'ACTIVE', { timeoutMs: 20_000, pollMs: 50 });
    const interfaces = Object.entries(server.addresses ?? {}).map(([network, addresses]) => ({
      network,
      addresses: addresses as unknown as Array<Record<string, unknown>>,
    }));
    const ips = interfaces.flatMap((i) => i.addresses.map((a) => String(a.addr)));
    const ipsV4 = interfaces.flatMap((i) => i.addresses.filter((a) => a.version === 4).map((a) => String(a.addr)));
    const mainIp = ips[0];
    const username = opts.username ?? 'debian';
    const configFile = path.join(dir, 'ssh_config');
    const port = emu.sshPort;
    // the host keys the console log prints, pinned as the test stage pins them
    const hostKeys = parseConsoleHostKeys(await cloud.compute.consoleOutput(server.id));
    if (hostKeys.length === 0) throw new Error(`the console log of ${name} prints no host keys`);
    const knownHostsFile = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHostsFile, knownHostsText(mainIp, port, hostKeys), { mode: 0o600 });
    const commandLine = sshCommandLine({ ip: mainIp, username, port, privateKeyFile: keyFile, knownHostsFile });

    // the test environment, as an operator writes it, for credential resolution on the worker
    const testYaml = path.join(dir, 'test.yaml');
    const u = emu.user;
    fs.writeFileSync(
      testYaml,
      [
        'emulator:',
        '  keystone:',
        `    auth_url: ${emu.authUrl}`,
        `    username: ${u.username}`,
        `    password: ${u.password}`,
        `    project_name: ${u.projectName}`,
        `    user_domain_name: ${u.userDomainName}`,
        `    project_domain_name: ${u.projectDomainName}`,
        '  nova:',
        '    flavor: m1.medium',
        '    nics:',
        `      - net_id: ${emu.networks[emu.regions[0]].id}`,
        '',
      ].join('\n'),
    );

    const ctx: InstanceTestContext = {
      instance: server as unknown as InstanceTestContext['instance'],
      flavor: {
        id: flavor.id,
        name: flavor.name,
        ram: flavor.ram,
        vcpus: flavor.vcpus,
        disk: flavor.disk,
        extraSpecs: flavor.extra_specs ?? {},
      },
      ips,
      ipsV4,
      ipsV6: [],
      mainIp,
      interfaces,
      ssh: { ip: mainIp, username, port, privateKeyFile: keyFile, configFile, knownHostsFile, commandLine },
      portWait: { ip: mainIp, port, timeout: 61, waited: 0.1 },
      environmentVariables: { greeting: 'hello world', Build_Tag: 'b-42' },
      imageInfo: (await cloud.image.getImage(img.id)) as unknown as InstanceTestContext['imageInfo'],
      imageConfig: { label: 'runner-image', filename: imageFile },
      imageEntry: {
        filename: imageFile,
        tests: { ssh: { username, port }, environment_variables: { greeting: 'hello world', Build_Tag: 'b-42' } },
      },
      imageFile,
      testEnvironment: 'emulator',
      configOptions: { cwd: dir, testConfig: testYaml },
    };
    const logDir = path.join(dir, 'logs');
    return {
      emu,
      cloud,
      dir,
      ctx,
      logDir,
      async stop() {
        cloud.close();
        await emu.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    cloud.close();
    await emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Writes an executable script. */
export function script(file: string, body: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body, { mode: 0o755 });
  return file;
}

/** PIDs of live processes whose command line contains `marker` (from /proc). */
export function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (cmd.includes(marker) && state !== 'Z') found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
