/**
 * Publishing to five regions against publishing to one: the same file
 * uploaded by `dibctl upload` to five upload environments (five regions of
 * one emulator process) at once, and by `dibctl run --no-build --no-test`
 * with five `--upload-env` (one lifecycle publishing in parallel), each
 * against the same to one region, with a dev server and a `dibctl worker`
 * that already run. The emulator throttles every upload to 16 MiB/s, as a
 * remote Glance would, so the figures say whether the publishes overlap.
 */
import { LABEL, PublishingSetup, environmentOf, startPublishing } from './publishing';
import { BenchRow, median, timeDibctl } from './support';
import { writeBenchFile } from './upload';

const REGIONS = ['RegionOne', 'RegionTwo', 'RegionThree', 'RegionFour', 'RegionFive'];
const THROTTLE_MIB_S = 16;

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Runs, checks that it made one image per environment, deletes them; returns the wall time. */
async function measured(setup: PublishingSetup, envs: string[], run: () => Promise<unknown>): Promise<number> {
  const seconds = await timed(run);
  const deleted = await setup.sweep();
  if (deleted !== envs.length) throw new Error(`${envs.length} publishes left ${deleted} images`);
  return seconds;
}

export async function regionsBench(mib: number, rounds: number): Promise<BenchRow[]> {
  const setup = await startPublishing(REGIONS);
  try {
    if (!setup.emu) throw new Error('the regions bench throttles the emulator');
    await setup.emu.setFaults({ uploadBytesPerSecond: THROTTLE_MIB_S * 1024 * 1024 });
    writeBenchFile(setup.file, mib);
    const opts = { cwd: setup.dir, env: setup.warmEnv };
    const all = REGIONS.map(environmentOf);
    const one = all.slice(0, 1);
    const uploads = (envs: string[]) =>
      measured(setup, envs, () =>
        Promise.all(envs.map((e) => timeDibctl(['--no-local-worker', 'upload', LABEL, e], 0, opts))),
      );
    const run = (envs: string[]) =>
      measured(setup, envs, () =>
        timeDibctl(
          ['--no-local-worker', 'run', LABEL, '--no-build', '--no-test', ...envs.flatMap((e) => ['--upload-env', e])],
          0,
          opts,
        ),
      );
    const t = { upload1: [] as number[], upload5: [] as number[], run1: [] as number[], run5: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      t.upload1.push(await uploads(one));
      t.upload5.push(await uploads(all));
      t.run1.push(await run(one));
      t.run5.push(await run(all));
    }
    const note = (f: number[], r: number[]) =>
      `${f.map((s) => s.toFixed(2)).join(', ')} vs ${r.map((s) => s.toFixed(2)).join(', ')} s; ` +
      `one throttled upload alone takes ${(mib / THROTTLE_MIB_S).toFixed(1)} s`;
    return [
      {
        bench: `dibctl upload ${mib} MiB to 5 regions at once (5 commands, ${THROTTLE_MIB_S} MiB/s each)`,
        figure: median(t.upload5),
        reference: 'dibctl upload to 1 region',
        referenceFigure: median(t.upload1),
        // five CLI processes on the same cores: shown, but the target is the one lifecycle's parallel publish
        target: '',
        note: note(t.upload5, t.upload1),
      },
      {
        bench: `dibctl run --no-build --no-test ${mib} MiB, 5 upload environments (${THROTTLE_MIB_S} MiB/s each)`,
        figure: median(t.run5),
        reference: 'the same run with 1 upload environment',
        referenceFigure: median(t.run1),
        target: '≤ 1.3',
        note: note(t.run5, t.run1),
      },
    ];
  } finally {
    await setup.stop();
  }
}
