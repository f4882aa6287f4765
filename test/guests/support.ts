/**
 * What the guest tier shares: the guest image scripts/guest-image.sh built, an
 * emulator whose servers are QEMU guests, dibctl's workers on a dev server, and
 * a project directory whose images.yaml points at the image.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { GuestImage, guestImage, guestImageDir, uploadGuestKernel } from '../../emulator/guest-image';
import { qemuMissing } from '../../emulator/qemu';
import { cleanTemporalEnv, runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';

/** Why real guests cannot run here, or undefined when they can. */
function guestsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'real guests need root (host addresses for their fixed IPs)';
  const missing = qemuMissing();
  if (missing) return missing;
  if (!guestImage()) return `no guest image in ${guestImageDir()} (build it with scripts/guest-image.sh)`;
  return undefined;
}

export const describeGuests = (name: string, fn: () => void) => {
  const why = guestsUnavailable();
  return why ? describe.skip(`${name} (skipped: ${why})`, fn) : describe(name, fn);
};

interface GuestProject {
  dir: string;
  imagesConfig: string;
  testConfig: string;
  image: GuestImage;
}

/** What the generic tests are told (tests.environment_variables). */
const GENERIC_SETTINGS = { generic_reboot_timeout: '420' };

interface GuestImageEntry {
  /** The test environment it boots in (default: the first of the project's). */
  environment?: string;
  /** Extra words for the kernel command line (e.g. to disable cloud-init). */
  commandLineExtra?: string;
  portWaitTimeout?: number;
  tests?: string;
  environmentVariables?: Record<string, string>;
}

interface GuestEnvironment {
  /** cloud-config user data. */
  userdata?: string;
}

/**
 * One emulator with real guests and dibctl's workers for a suite; `project`
 * writes an images.yaml whose entries are the guest image with the given
 * settings and a test.yaml with the given environments (two NICs each).
 */
export function useGuestCloud() {
  const temporal = useTemporal();
  let emu: Emulator;
  let stateDir: string;
  let kernel: Record<string, string>;
  const dirs: string[] = [];
  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], guests: 'qemu' });
    kernel = await uploadGuestKernel(emu, emu.regions[0], emu.user, guestImage()!);
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-guests-state-'));
    await temporal().startWorkers('dibctl', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterAll(async () => {
    await emu?.stop();
    for (const d of [stateDir, ...dirs]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });
  return {
    emu: () => emu,
    project(images: Record<string, GuestImageEntry>, environments: Record<string, GuestEnvironment>): GuestProject {
      const image = guestImage()!;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-guests-'));
      dirs.push(dir);
      const imagesYaml = Object.entries(images).map(([label, e]) =>
        [
          `${label}:`,
          `  filename: ${JSON.stringify(image.disk)}`,
          '  glance:',
          `    name: "Guest ${label}"`,
          '    disk_format: qcow2',
          '    properties:',
          `      kernel_id: ${kernel.kernel_id}`,
          `      ramdisk_id: ${kernel.ramdisk_id}`,
          `      os_command_line: ${JSON.stringify([kernel.os_command_line, e.commandLineExtra].filter(Boolean).join(' '))}`,
          `      default_user: ${image.user}`,
          '  tests:',
          `    environment_name: ${e.environment ?? Object.keys(environments)[0]}`,
          `    ssh: { username: ${image.user} }`,
          '    wait_for_port: 22',
          `    port_wait_timeout: ${e.portWaitTimeout ?? 600}`,
          `    environment_variables: ${JSON.stringify({ ...GENERIC_SETTINGS, ...e.environmentVariables })}`,
          '    tests_list:',
          e.tests ?? '      - { generic: all, timeout: 1500, stop_on_failure: false }',
        ].join('\n'),
      );
      const state = emu.state().regions[emu.regions[0]];
      const net = (name: string) => state.networks.find((n) => n.name === name)!.id;
      const u = emu.user;
      const testYaml = Object.entries(environments).map(([label, env]) =>
        [
          `${label}:`,
          '  keystone:',
          `    auth_url: ${emu.authUrl}`,
          `    username: ${u.username}`,
          `    password: ${u.password}`,
          `    project_name: ${u.projectName}`,
          `    user_domain_name: ${u.userDomainName}`,
          `    project_domain_name: ${u.projectDomainName}`,
          '  nova:',
          '    flavor: m1.small',
          '    nics:',
          `      - net_id: ${net('private')}`,
          `      - net_id: ${net('storage')}`,
          '    main_nic_regexp: "^private$"',
          '    active_timeout: 120',
          '    cleanup_timeout: 60',
          ...(env.userdata ? [`    userdata: ${JSON.stringify(env.userdata)}`] : []),
        ].join('\n'),
      );
      const imagesConfig = path.join(dir, 'images.yaml');
      const testConfig = path.join(dir, 'test.yaml');
      fs.writeFileSync(imagesConfig, imagesYaml.join('\n') + '\n');
      fs.writeFileSync(testConfig, testYaml.join('\n') + '\n');
      return { dir, imagesConfig, testConfig, image };
    },
    /** `dibctl test LABEL` of a project, with a JUnit report in its directory. */
    test(p: GuestProject, label: string, args: string[] = []) {
      return runDibctl(
        [
          'test',
          label,
          ...args,
          '--junit-xml',
          path.join(p.dir, `${label}.xml`),
          '--images-config',
          p.imagesConfig,
          '--test-config',
          p.testConfig,
        ],
        {
          cwd: p.dir,
          env: cleanTemporalEnv({
            TEMPORAL_ADDRESS: temporal().server.address,
            TEMPORAL_NAMESPACE: temporal().server.namespace,
            DIBCTL_STATE_DIR: stateDir,
            CI: 'true',
          }),
          timeoutMs: 1_700_000,
        },
      );
    },
    /** What the emulator still holds of a test run: servers, keypairs, images named DIBCTL-…, and running VMs. */
    leftovers() {
      const r = emu.state().regions[emu.regions[0]];
      const mine = (n: string | null) => Boolean(n && n.startsWith('DIBCTL-'));
      return {
        servers: r.servers.filter((s) => mine(s.name)).map((s) => s.id),
        keypairs: r.keypairs.filter((k) => mine(k.name)).map((k) => k.name),
        images: r.images.filter((i) => mine(i.name)).map((i) => i.id),
      };
    },
  };
}
