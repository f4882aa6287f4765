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
import { connectCloud } from '../openstack';
import { DevServer, startDevServer } from '../temporal/dev-server';
import { configTree } from './configs';
import { EmulatorProcess, startEmulatorProcess } from './emulator';
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
  emu: EmulatorProcess;
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

function uploadYaml(emu: EmulatorProcess, regions: string[]): string {
  const c = emu.admin;
  const lines: string[] = [];
  for (const region of regions) {
    lines.push(
      `${environmentOf(region)}:`,
      '  keystone:',
      `    auth_url: ${emu.authUrl}`,
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
 * An emulator process serving these regions, a config tree with the image
 * label `bench` and one upload environment per region, a dev server and a
 * `dibctl worker` on it.
 */
export async function startPublishing(regions: string[]): Promise<PublishingSetup> {
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
    const emu = await startEmulatorProcess({ regions });
    stops.push(() => emu.stop());
    fs.writeFileSync(
      path.join(tree.dir, 'images.yaml'),
      `${LABEL}:\n  filename: ${FILENAME}\n  glance:\n    name: ${IMAGE_NAME}\n    disk_format: raw\n    container_format: bare\n`,
    );
    fs.writeFileSync(path.join(tree.dir, 'upload.yaml'), uploadYaml(emu, regions));

    const clouds = await Promise.all(
      regions.map((regionName) =>
        connectCloud({
          authUrl: emu.authUrl,
          username: emu.admin.username,
          password: emu.admin.password,
          projectName: emu.admin.projectName,
          userDomainName: 'Default',
          projectDomainName: 'Default',
          regionName,
        }),
      ),
    );
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
      emu,
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
