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

export async function demo(session: Session, opts: DemoOptions, o: Output): Promise<number> {
  const dir = path.resolve(opts.dir ?? path.join(stateDir(), 'demo'));
  await fs.mkdir(path.join(dir, 'tests'), { recursive: true });
  const emu = await startEmulator({ regions: [...REGIONS] });
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
      demo: {
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
        nova: { flavor: 'm1.tiny', nics: [{ net_id: emu.networks[REGIONS[0]].id }], active_timeout: 120 },
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
