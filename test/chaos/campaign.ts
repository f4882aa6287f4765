/** A series of chaos runs: one line per run, totals at the end, the seeds to replay any bad run. */
import { AuditCounts, COUNT_LABELS, zeroCounts } from './audit';
import { RunReport, chaosRun, scenarioName } from './harness';

export interface CampaignResult {
  runs: RunReport[];
  totals: AuditCounts;
  correct: number;
  failed: number;
  unfinished: number;
  harnessErrors: number;
  durationMs: number;
  /** Seeds of runs with a leak, duplicate or wrong delete (or that could not be audited). */
  badSeeds: number[];
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function countsLine(c: AuditCounts): string {
  return (Object.keys(COUNT_LABELS) as Array<keyof AuditCounts>).map((k) => `${COUNT_LABELS[k]} ${c[k]}`).join(', ');
}

/** A run is bad when the cloud is left wrong, or when it could not be judged. */
function isBad(r: RunReport): boolean {
  return (
    r.outcome === 'harness-error' ||
    r.outcome === 'unfinished' ||
    // a lifecycle that succeeded into a wrong end state (an image not published, not obsoleted, lost by retirement)
    (r.outcome === 'completed' && !r.correct) ||
    Object.values(r.counts).some((n) => n > 0)
  );
}

export async function campaign(
  seeds: number[],
  write: (line: string) => void,
  opts: { windowMs?: number } = {},
): Promise<CampaignResult> {
  const started = Date.now();
  const runs: RunReport[] = [];
  const totals = zeroCounts();
  for (const [i, seed] of seeds.entries()) {
    write(`run ${i + 1}/${seeds.length} seed ${seed}${i === 0 ? ` (${scenarioName()})` : ''}`);
    const r = await chaosRun({ seed, windowMs: opts.windowMs, log: write });
    runs.push(r);
    for (const k of Object.keys(totals) as Array<keyof AuditCounts>) totals[k] += r.counts[k];
    const verdict = r.correct
      ? 'completed correctly'
      : r.outcome === 'completed'
        ? 'completed, NOT correct'
        : r.outcome === 'failed' && !isBad(r)
          ? 'failed cleanly'
          : r.outcome;
    write(
      `run ${i + 1}/${seeds.length} seed ${seed}: ${verdict}; ${countsLine(r.counts)}; ${r.done.length}/${r.plan.length} faults; lifecycle ${formatDuration(r.lifecycleMs)}, retired ${r.retired}/2, run ${formatDuration(r.durationMs)}`,
    );
    for (const p of r.problems) write(`  ${p}`);
    for (const f of r.audit?.findings ?? []) write(`  ${f}`);
    if (isBad(r)) write(`  replay: npm run chaos -- --runs 1 --seed ${seed}   (files kept in ${r.dir})`);
  }
  const result: CampaignResult = {
    runs,
    totals,
    correct: runs.filter((r) => r.correct).length,
    failed: runs.filter((r) => r.outcome === 'failed').length,
    unfinished: runs.filter((r) => r.outcome === 'unfinished').length,
    harnessErrors: runs.filter((r) => r.outcome === 'harness-error').length,
    durationMs: Date.now() - started,
    badSeeds: runs.filter(isBad).map((r) => r.seed),
  };
  const cleanFailures = runs.filter((r) => r.outcome === 'failed' && !isBad(r)).length;
  write(
    `chaos total: ${runs.length} runs, ${result.correct} completed correctly, ${result.correct + cleanFailures} correct end states ` +
      `(${cleanFailures} failed cleanly: error reported, nothing left behind), ` +
      `${result.unfinished} unfinished, ${result.harnessErrors} harness errors; ${countsLine(totals)}; ${formatDuration(result.durationMs)}`,
  );
  if (result.badSeeds.length)
    write(
      `chaos FAILED; replay each with: npm run chaos -- --runs 1 --seed <seed>; seeds: ${result.badSeeds.join(' ')}`,
    );
  return result;
}
