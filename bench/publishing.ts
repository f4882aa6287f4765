/**
 * What the end-to-end upload benches share: a config tree whose image is a
 * file of the bench and whose upload environments are regions of an emulator
 * process, a dev server with a `dibctl worker` on it, the removal of the
 * images each round makes, and the stopping of all of it in reverse order,
 * whatever failed on the way.
 */
import { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DevServer, startDevServer } from '../temporal/dev-server';
import { configTree } from './configs';
import { EmulatorProcess, startEmulatorProcess } from './emulator';
import type { RealOpenStack } from './real-openstack';
import { BenchCloud, adminCloud } from './support';
import { startWorker, stopWorker } from './worker';

/** The image label of the benches and the Glance name of what it publishes. */
export const LABEL = 'bench';
const IMAGE_NAME = 'Bench Image';
/** The image file, in the config tree. */
const FILENAME = 'image.raw';

/** The upload environment of a region: its name in lower case. */
export const environmentOf = (region: string): string => region.toLowerCase();

export interface PublishingSetup {
  dir: string;
  /** The image file the label publishes (write the bench's data there). */
  file: string;
  /** Where the upload environments lead: Keystone and the admin the configs name. */
  cloud: BenchCloud;
  /** The emulator, unless a real Keystone and Glance were given. */
  emu?: EmulatorProcess;
  /** The regions served, one upload environment each (`environmentOf`). */
  regions: string[];
  server: DevServer;
  worker: ChildProcess;
  /** For dibctl against the running server and worker (with `--no-local-worker`). */
  warmEnv: NodeJS.ProcessEnv;
  /** The config tree's environment and nothing of Temporal's: what the embedded default needs. */
  bareEnv: NodeJS.ProcessEnv;
  /** Deletes every image made since the start, in every region; returns how many. */
  sweep(): Promise<number>;
  /** Stops the worker, the dev server and the emulator and removes the tree (also after a failed start). */
  stop(): Promise<void>;
}

function uploadYaml(cloud: PublishingSetup['cloud'], regions: string[]): string {
  const c = cloud.admin;
  const lines: string[] = [];
  for (const region of regions) {
    lines.push(
      `${environmentOf(region)}:`,
      '  keystone:',
      `    auth_url: ${cloud.authUrl}`,
      `    username: ${c.username}`,
      `    password: ${c.password}`,
      `    project_name: ${c.projectName}`,
      '    user_domain_name: Default',
      '    project_domain_name: Default',
      `    region_name: ${region}`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * An emulator process serving these regions (or the real Keystone and Glance
 * given, with their one region), a config tree with the image label `bench`
 * and one upload environment per region, a dev server and a `dibctl worker`
 * on it. A real stack given is stopped with the rest.
 */
export async function startPublishing(regions: string[], real?: RealOpenStack): Promise<PublishingSetup> {
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (err) {
        process.stderr.write(`bench: stopping: ${(err as Error).message}\n`);
      }
    }
  };
  try {
    const tree = configTree();
    stops.push(() => tree.remove());
    let emu: EmulatorProcess | undefined;
    if (real) stops.push(() => real.stop());
    else {
      emu = await startEmulatorProcess({ regions });
      stops.push(() => emu!.stop());
    }
    const cloud = real ?? emu!;
    const served = real ? [real.region] : regions;
    fs.writeFileSync(
      path.join(tree.dir, 'images.yaml'),
      `${LABEL}:\n  filename: ${FILENAME}\n  glance:\n    name: ${IMAGE_NAME}\n    disk_format: raw\n    container_format: bare\n`,
    );
    fs.writeFileSync(path.join(tree.dir, 'upload.yaml'), uploadYaml(cloud, served));

    const clouds = await Promise.all(served.map((regionName) => adminCloud(cloud, regionName)));
    stops.push(() => clouds.forEach((c) => c.close()));
    const before = new Set<string>();
    for (const cloud of clouds) for (const img of await cloud.image.listImages()) before.add(img.id);

    const server = await startDevServer({ env: tree.env });
    stops.push(() => server.stop());
    const warmEnv = { ...tree.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace };
    const worker = await startWorker(warmEnv, tree.dir);
    stops.push(() => stopWorker(worker));

    return {
      dir: tree.dir,
      file: path.join(tree.dir, FILENAME),
      cloud: { authUrl: cloud.authUrl, admin: cloud.admin },
      ...(emu ? { emu } : {}),
      regions: served,
      server,
      worker,
      warmEnv,
      bareEnv: tree.env,
      async sweep() {
        let deleted = 0;
        for (const cloud of clouds) {
          for (const img of await cloud.image.listImages()) {
            if (before.has(img.id)) continue;
            await cloud.image.deleteImage(img.id, { ignoreMissing: true });
            deleted++;
          }
        }
        return deleted;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
