/**
 * `npm run bench [-- NAME...]`: runs the benches (all, or those named) and
 * prints one table: each figure, the reference measured in the same run, and
 * their ratio. BENCH_ROUNDS sets the rounds of the fast ones (5), the embedded
 * bench runs BENCH_EMBEDDED_ROUNDS (3), the upload BENCH_UPLOAD_MIB (256 MiB),
 * the worker's memory during an upload of BENCH_WORKER_GIB (4 GiB), the
 * lifecycles bench one alone then BENCH_LIFECYCLES - 1 at once (101), the
 * end-to-end upload 1 MiB and BENCH_E2E_MIB (1024 MiB) in BENCH_E2E_ROUNDS
 * (3), the regions bench BENCH_REGIONS_MIB (256 MiB) in BENCH_REGIONS_ROUNDS
 * (3).
 * BENCH_DIBCTL=path/to/bin/dibctl.js measures another build of dibctl.
 * Benches are not tests: nothing asserts on their figures.
 */
import * as os from 'node:os';
import { earlyErrorsBench } from './early-errors';
import { lifecyclesBench } from './lifecycles';
import { embeddedBench } from './embedded';
import { startupBench } from './startup';
import { regionsBench } from './regions';
import { retirementBench } from './retirement';
import { BenchRow, renderTable } from './support';
import { uploadBench } from './upload';
import { uploadE2eBench } from './upload-e2e';
import { workerMemoryBench } from './worker';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const BENCHES: Record<string, () => Promise<BenchRow[]>> = {
  startup: () => startupBench(rounds),
  'early-errors': () => earlyErrorsBench(rounds),
  embedded: () => embeddedBench(Number(process.env.BENCH_EMBEDDED_ROUNDS ?? 3)),
  upload: () => uploadBench(Number(process.env.BENCH_UPLOAD_MIB ?? 256), 3),
  retirement: () => retirementBench(10_000, 20_000),
  worker: () => workerMemoryBench(Number(process.env.BENCH_WORKER_GIB ?? 4)),
  lifecycles: () => lifecyclesBench(Number(process.env.BENCH_LIFECYCLES ?? 101)),
  'upload-e2e': () =>
    uploadE2eBench([1, Number(process.env.BENCH_E2E_MIB ?? 1024)], Number(process.env.BENCH_E2E_ROUNDS ?? 3)),
  regions: () =>
    regionsBench(Number(process.env.BENCH_REGIONS_MIB ?? 256), Number(process.env.BENCH_REGIONS_ROUNDS ?? 3)),
};

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  for (const n of names)
    if (!BENCHES[n]) throw new Error(`no bench '${n}' (benches: ${Object.keys(BENCHES).join(', ')})`);
  const rows: BenchRow[] = [];
  for (const name of names.length ? names : Object.keys(BENCHES)) {
    process.stderr.write(`bench ${name}...\n`);
    rows.push(...(await BENCHES[name]()));
  }
  const cpus = os.cpus();
  console.log(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, ` +
      `Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)} at the end`,
  );
  console.log(renderTable(rows));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
