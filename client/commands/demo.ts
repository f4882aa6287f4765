/**
 * `dibctl demo`: the whole lifecycle on the embedded default, with nothing to
 * configure. It starts the bundled OpenStack emulator (two regions), writes an
 * image, a test environment and two upload environments for it, and runs
 * build → test on a booted instance over SSH → publish to both regions →
 * obsolete → retirement, then shows what the cloud holds.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { startEmulator } from '../../emulator';
import { GuestImage, guestImage, guestImageDir, uploadGuestKernel } from '../../emulator/guest-image';
import { DibctlError } from '../../errors';
import { whichOnPath } from '../../temporal/cli';
import { stateDir } from '../paths';
import { Output, printJson, table } from '../render';
import type { Session } from '../session';
import { lifecycleInput, run } from './run';
import type { RunOptions } from './run';

export interface DemoOptions {
  dir?: string;
  /** Lifecycles to run one after the other; from the second on, older copies become obsolete. */
  runs: number;
  /** Boot the test instance as a QEMU guest of a real Debian image and run the generic tests on it. */
  realGuests?: boolean;
}

const REGIONS = ['RegionOne', 'RegionTwo'] as const;
const UPLOAD_ENVS = ['region-one', 'region-two'] as const;

/** The shell test: the instance answers SSH and calls itself by the server's name. */
const HOSTNAME_TEST = `#!/bin/sh
set -eu
name=$(timeout 60 $DIBCTL_SSH hostname)
echo "instance $DIBCTL_INSTANCE_UUID at $DIBCTL_MAIN_IP answers as '$name'"
[ "$name" = "$DIBCTL_INSTANCE_NAME" ]
`;

/** The guest image, built first (a few minutes, from Debian's mirror) when it is not cached yet. */
async function realGuestImage(o: Output): Promise<GuestImage> {
  const cached = guestImage();
  if (cached) return cached;
  const script = path.resolve(__dirname, '..', '..', '..', 'scripts', 'guest-image.sh');
  o.err(`Building the guest image into ${guestImageDir()} (debootstrap from Debian's mirror, a few minutes)`);
  const { spawn } = await import('node:child_process');
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', () => resolve(null));
    child.on('close', resolve);
  });
  const built = guestImage();
  if (code !== 0 || !built)
    throw new DibctlError(`the guest image could not be built (${script} exited ${code ?? 'without starting'})`, 1, {
      nextStep: `run ${script} as root and read its output`,
    });
  return built;
}

export async function demo(session: Session, opts: DemoOptions, o: Output): Promise<number> {
  const dir = path.resolve(opts.dir ?? path.join(stateDir(), 'demo'));
  await fs.mkdir(path.join(dir, 'tests'), { recursive: true });
  const guest = opts.realGuests ? await realGuestImage(o) : undefined;
  let emu;
  try {
    emu = await startEmulator({ regions: [...REGIONS], ...(guest ? { guests: 'qemu' as const } : {}) });
  } catch (err) {
    if (!guest) throw err;
    throw new DibctlError(`real guests cannot run here: ${(err as Error).message}`, 1, {
      nextStep: 'run dibctl demo without --real-guests',
    });
  }
  try {
    o.err(`OpenStack emulator: ${emu.authUrl} (regions ${REGIONS.join(', ')}); demo files in ${dir}`);
    const image = path.join(dir, 'demo.img');
    const qemuImg = await whichOnPath('qemu-img');
    const keystone = (region: string) => ({
      auth_url: emu.authUrl,
      username: emu.user.username,
      password: emu.user.password,
      project_name: emu.user.projectName,
      user_domain_name: emu.user.userDomainName,
      project_domain_name: emu.user.projectDomainName,
      region_name: region,
    });
    const images = {
      demo: guest
        ? {
            filename: image,
            glance: {
              name: 'dibctl-demo',
              disk_format: 'qcow2',
              // the kernel and initramfs the root disk boots with, in the test region
              properties: {
                os_distro: 'debian',
                default_user: guest.user,
                ...(await uploadGuestKernel(emu, REGIONS[0], emu.user, guest)),
              },
              tags: ['dibctl-demo'],
            },
            // "building" copies the cached Debian image
            external_build: [{ cmdline: `cp '${guest.disk}' '${image}'` }],
            tests: {
              environment_name: 'emulator',
              ssh: { username: guest.user },
              wait_for_port: 22,
              port_wait_timeout: 600,
              tests_list: [{ generic: ['root-filesystem', 'interfaces', 'dns', 'hostname'], timeout: 900 }],
            },
          }
        : {
            filename: image,
            glance: {
              name: 'dibctl-demo',
              disk_format: qemuImg ? 'qcow2' : 'raw',
              properties: { os_distro: 'demo' },
              tags: ['dibctl-demo'],
            },
            external_build: [
              { cmdline: qemuImg ? `qemu-img create -q -f qcow2 '${image}' 64M` : `truncate -s 64M '${image}'` },
            ],
            tests: {
              environment_name: 'emulator',
              ssh: { username: 'ubuntu' },
              wait_for_port: 22,
              port_wait_timeout: 30,
              tests_list: [{ shell: path.join(dir, 'tests'), timeout: 120 }],
            },
          },
    };
    const test = {
      emulator: {
        keystone: keystone(REGIONS[0]),
        nova: {
          flavor: guest ? 'm1.small' : 'm1.tiny',
          nics: [{ net_id: emu.networks[REGIONS[0]].id }],
          active_timeout: 120,
        },
      },
    };
    const upload = Object.fromEntries(UPLOAD_ENVS.map((env, i) => [env, { keystone: keystone(REGIONS[i]) }]));
    const files = {
      images: path.join(dir, 'images.yaml'),
      test: path.join(dir, 'test.yaml'),
      upload: path.join(dir, 'upload.yaml'),
    };
    await fs.writeFile(files.images, stringify(images));
    await fs.writeFile(files.test, stringify(test), { mode: 0o600 });
    await fs.writeFile(files.upload, stringify(upload), { mode: 0o600 });
    await fs.writeFile(path.join(dir, 'tests', '00-hostname'), HOSTNAME_TEST, { mode: 0o755 });

    let code = 0;
    const lifecycles: unknown[] = [];
    for (let i = 1; i <= opts.runs && code === 0; i++) {
      o.err(`Lifecycle ${i} of ${opts.runs}: build, test, publish to ${UPLOAD_ENVS.join(' and ')}`);
      // With --json the lifecycles' results go into the demo's one document.
      const captured: string[] = [];
      const runOutput: Output = o.json ? { ...o, out: (line) => captured.push(line) } : o;
      const runOptions: RunOptions = {
        uploadEnv: [...UPLOAD_ENVS],
        build: true,
        test: true,
        imagesConfig: files.images,
        testConfig: files.test,
        uploadConfig: files.upload,
      };
      const input = lifecycleInput('demo', runOptions, session.taskQueue, process.cwd(), o.err);
      code = await run(session, 'demo', runOptions, input, runOutput);
      if (captured.length) lifecycles.push(JSON.parse(captured.join('\n')));
    }

    const state = emu.state();
    const rows: string[][] = [];
    let leftovers = 0;
    for (const region of REGIONS) {
      const r = state.regions[region];
      for (const img of r.images)
        rows.push([region, img.id, img.name ?? '', img.status, String(img.properties?.obsolete ?? '')]);
      leftovers +=
        r.servers.length + r.keypairs.length + r.images.filter((img) => (img.name ?? '').startsWith('DIBCTL-')).length;
    }
    if (o.json)
      printJson(o, {
        exitCode: code,
        lifecycles,
        images: rows.map(([region, id, name, status, obsolete]) => ({ region, id, name, status, obsolete })),
        leftovers,
      });
    else {
      o.out('');
      o.out('Images in the emulated cloud:');
      o.out(table(['region', 'id', 'name', 'status', 'obsolete'], rows));
      o.out(
        leftovers === 0
          ? 'No test server, keypair or test image was left behind.'
          : `${leftovers} test object(s) left behind!`,
      );
    }
    return code !== 0 ? code : leftovers === 0 ? 0 : 1;
  } finally {
    await emu.stop();
  }
}
