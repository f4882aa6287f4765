/**
 * `dibctl upload` of a file end to end (config, credentials, Temporal, the
 * publish workflow, the streamed and verified upload, obsoleting), against
 * the real python-openstackclient's `openstack image create --file` of the
 * same file to the same cloud — the emulator (one region, a process of its
 * own), then a real Keystone and Glance where they run — alternately in the
 * same run: with a dev server and a `dibctl worker` that
 * already run, and with the embedded default (nothing configured: dibctl
 * starts its own server and worker). Every image a round makes is deleted
 * before the next.
 */
import { deadPort } from './embedded';
import { LABEL, PublishingSetup, environmentOf, startPublishing } from './publishing';
import { BenchRow, median, timeDibctl, timeProcess } from './support';
import { startRealOpenStack } from './real-openstack';
import { writeBenchFile } from './upload';

const REGION = 'RegionOne';

/** The cloud's admin, as an openrc would give it to the openstack command. */
function openstackEnv(base: NodeJS.ProcessEnv, cloud: PublishingSetup['cloud'], region: string): NodeJS.ProcessEnv {
  const c = cloud.admin;
  return {
    ...base,
    OS_AUTH_URL: cloud.authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_USERNAME: c.username,
    OS_PASSWORD: c.password,
    OS_PROJECT_NAME: c.projectName,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_REGION_NAME: region,
    OS_INTERFACE: 'public',
  };
}

/** Runs one upload, checks it made an image, and deletes what it made. */
async function measured(setup: PublishingSetup, what: string, upload: () => Promise<number>): Promise<number> {
  const seconds = await upload();
  const deleted = await setup.sweep();
  if (deleted < 1) throw new Error(`${what} left no image in the cloud`);
  return seconds;
}

/** The rows of one cloud: the emulator, or a real Keystone and Glance (`where` names it). */
async function cloudRows(setup: PublishingSetup, where: string, sizes: number[], rounds: number): Promise<BenchRow[]> {
  const region = setup.regions[0];
  const env = environmentOf(region);
  const osEnv = openstackEnv(setup.bareEnv, setup.cloud, region);
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
    const reference = `openstack image create --file, same file and cloud`;
    rows.push(
      {
        bench: `dibctl upload ${mib} MiB end to end to ${where}, server and worker running`,
        figure: median(t.warm),
        reference,
        referenceFigure: median(t.osWarm),
        target: '≤ 1.0',
        note: note(t.warm, t.osWarm),
      },
      {
        bench: `dibctl upload ${mib} MiB end to end to ${where}, embedded default`,
        figure: median(t.embedded),
        reference,
        referenceFigure: median(t.osEmbedded),
        target: '≤ 1.3',
        note: note(t.embedded, t.osEmbedded),
      },
    );
  }
  return rows;
}

/** The emulator's rows, then a real Keystone and Glance's where they can run. */
export async function uploadE2eBench(sizes: number[], rounds: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const emulator = await startPublishing([REGION]);
  try {
    rows.push(...(await cloudRows(emulator, 'the emulator', sizes, rounds)));
  } finally {
    await emulator.stop();
  }
  const real = await startRealOpenStack('upload-e2e');
  if (real) {
    const setup = await startPublishing([], real);
    try {
      rows.push(...(await cloudRows(setup, 'a real Glance', sizes, rounds)));
    } finally {
      await setup.stop();
    }
  }
  return rows;
}
