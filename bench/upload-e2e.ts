/**
 * `dibctl upload` of a file end to end (config, credentials, Temporal, the
 * publish workflow, the streamed and verified upload, obsoleting), against
 * the real python-openstackclient's `openstack image create --file` of the
 * same file to the same emulator (one region, a process of its own),
 * alternately in the same run: with a dev server and a `dibctl worker` that
 * already run, and with the embedded default (nothing configured: dibctl
 * starts its own server and worker). Every image a round makes is deleted
 * before the next.
 */
import { EmulatorProcess } from './emulator';
import { deadPort } from './embedded';
import { LABEL, PublishingSetup, environmentOf, startPublishing } from './publishing';
import { BenchRow, median, timeDibctl, timeProcess } from './support';
import { writeBenchFile } from './upload';

const REGION = 'RegionOne';

/** The emulator's admin, as an openrc would give it to the openstack command. */
function openstackEnv(base: NodeJS.ProcessEnv, emu: EmulatorProcess): NodeJS.ProcessEnv {
  const c = emu.admin;
  return {
    ...base,
    OS_AUTH_URL: emu.authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_USERNAME: c.username,
    OS_PASSWORD: c.password,
    OS_PROJECT_NAME: c.projectName,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_REGION_NAME: REGION,
    OS_INTERFACE: 'public',
  };
}

/** Runs one upload, checks it made an image, and deletes what it made. */
async function measured(setup: PublishingSetup, what: string, upload: () => Promise<number>): Promise<number> {
  const seconds = await upload();
  const deleted = await setup.sweep();
  if (deleted < 1) throw new Error(`${what} left no image in the emulator`);
  return seconds;
}

export async function uploadE2eBench(sizes: number[], rounds: number): Promise<BenchRow[]> {
  const setup = await startPublishing([REGION]);
  try {
    const env = environmentOf(REGION);
    const osEnv = openstackEnv(setup.bareEnv, setup.emu);
    const embeddedEnv = { ...setup.bareEnv, DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${await deadPort()}` };
    let n = 0;
    const openstack = () =>
      measured(setup, 'openstack image create', async () => {
        const r = await timeProcess(
          'openstack',
          [
            'image',
            'create',
            '--file',
            setup.file,
            '--disk-format',
            'raw',
            '--container-format',
            'bare',
            `bench-openstack-${n++}`,
          ],
          { env: osEnv, cwd: setup.dir },
        );
        if (r.code !== 0) throw new Error(`openstack image create exited ${r.code}:\n${r.stderr}`);
        return r.seconds;
      });
    const warm = () =>
      measured(setup, 'dibctl upload', () =>
        timeDibctl(['--no-local-worker', 'upload', LABEL, env], 0, { cwd: setup.dir, env: setup.warmEnv }),
      );
    const embedded = () =>
      measured(setup, 'dibctl upload (embedded)', () =>
        timeDibctl(['upload', LABEL, env], 0, { cwd: setup.dir, env: embeddedEnv }),
      );

    const rows: BenchRow[] = [];
    for (const mib of sizes) {
      writeBenchFile(setup.file, mib);
      const t = { osWarm: [] as number[], warm: [] as number[], osEmbedded: [] as number[], embedded: [] as number[] };
      // each figure right after its reference, the two modes in turn
      for (let i = 0; i < rounds; i++) {
        t.osWarm.push(await openstack());
        t.warm.push(await warm());
        t.osEmbedded.push(await openstack());
        t.embedded.push(await embedded());
      }
      const note = (f: number[], r: number[]) =>
        `${f.map((s) => s.toFixed(2)).join(', ')} vs ${r.map((s) => s.toFixed(2)).join(', ')} s`;
      const reference = 'openstack image create --file, same file and emulator';
      rows.push(
        {
          bench: `dibctl upload ${mib} MiB end to end, server and worker running`,
          figure: median(t.warm),
          reference,
          referenceFigure: median(t.osWarm),
          target: '≤ 1.0',
          note: note(t.warm, t.osWarm),
        },
        {
          bench: `dibctl upload ${mib} MiB end to end, embedded default`,
          figure: median(t.embedded),
          reference,
          referenceFigure: median(t.osEmbedded),
          target: '≤ 1.3',
          note: note(t.embedded, t.osEmbedded),
        },
      );
    }
    return rows;
  } finally {
    await setup.stop();
  }
}
