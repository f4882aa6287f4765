/**
 * `schedule create|list|describe|pause|unpause|trigger|delete`: periodic image
 * lifecycles as Temporal Schedules. A schedule starts `imageLifecycleWorkflow`;
 * by default a run is skipped while the previous one of that schedule still
 * runs, and runs missed while the server was down are caught up within a window.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, ScheduleSpec } from '@temporalio/client';
import { durationProblem, durationSeconds } from '../../config';
import { DibctlError, ExitCode } from '../../errors';
import { Output, printJson, table } from '../render';
import { Session } from '../session';
import { commandWorkflowIds, scheduleId } from '../../common/ids';
import { imageLifecycleWorkflow } from '../../workflows';
import { RunOptions, lifecycleInput } from './run';
import type { Command } from 'commander';
import { Cli, lifecycleOptions } from '../cli';

export interface ScheduleCreateOptions extends RunOptions {
  id?: string;
  every?: string;
  cron?: string;
  catchupWindow: string;
  overlap: string;
  paused?: boolean;
}

const OVERLAP: Record<string, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

/** Seconds of a command-line duration, from 1 s to the longest duration config accepts. */
function seconds(what: string, value: string): number {
  let s: number;
  try {
    s = durationSeconds(value);
  } catch {
    throw new DibctlError(`${what} ${value}: must be a duration like 90s, 30m, 6h, 7d, 2w`, ExitCode.USAGE);
  }
  const problem = durationProblem(s, 1);
  if (problem) throw new DibctlError(`${what} ${value}: ${problem}`, ExitCode.USAGE);
  return s;
}

async function notFound<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new DibctlError(`No schedule with id '${id}'`);
    throw err;
  }
}

export async function scheduleCreate(
  session: Session,
  label: string,
  opts: ScheduleCreateOptions,
  o: Output,
): Promise<number> {
  if (Boolean(opts.every) === Boolean(opts.cron))
    throw new DibctlError('Give exactly one of --every DURATION or --cron "EXPRESSION"', ExitCode.USAGE);
  const overlap = OVERLAP[opts.overlap];
  if (overlap === undefined)
    throw new DibctlError(
      `--overlap ${opts.overlap}: must be one of ${Object.keys(OVERLAP).join(', ')}`,
      ExitCode.USAGE,
    );
  // both durations are checked before anything else, so a bad one is named even when nothing could be created
  const every = opts.every ? seconds('--every', opts.every) : undefined;
  const catchupWindow = seconds('--catchup-window', opts.catchupWindow);
  if (session.mode === 'embedded') {
    throw new DibctlError(
      'A schedule needs a Temporal server that outlives this command: start one (dibctl server) or set TEMPORAL_ADDRESS, and run dibctl worker',
    );
  }
  const input = lifecycleInput(label, opts, session.taskQueue);
  const id = opts.id ?? scheduleId(label);
  const spec: ScheduleSpec = every ? { intervals: [{ every: every * 1000 }] } : { cronExpressions: [opts.cron!] };
  try {
    await session.client.schedule.create({
      scheduleId: id,
      spec,
      action: {
        type: 'startWorkflow',
        workflowType: imageLifecycleWorkflow,
        workflowId: commandWorkflowIds.scheduledRun(label),
        taskQueue: session.taskQueue,
        args: [input],
        searchAttributes: { DibctlLabel: [label], DibctlEnvironments: input.uploadEnvironments },
      },
      policies: { overlap, catchupWindow: catchupWindow * 1000 },
      state: { paused: Boolean(opts.paused), ...(opts.paused ? { note: 'created paused' } : {}) },
      memo: { label, uploadEnvironments: input.uploadEnvironments },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning)
      throw new DibctlError(`A schedule with id '${id}' exists already (delete it first, or choose --id)`);
    throw err;
  }
  const desc = await session.client.schedule.getHandle(id).describe();
  const next = desc.info.nextActionTimes[0];
  if (o.json)
    printJson(o, { scheduleId: id, label, uploadEnvironments: input.uploadEnvironments, nextRun: next?.toISOString() });
  else {
    o.out(
      `Schedule ${id} created: ${opts.every ? `every ${opts.every}` : `cron "${opts.cron}"`}, runs ${label} → ${input.uploadEnvironments.join(', ')}`,
    );
    if (next) o.out(`Next run: ${next.toISOString()}`);
  }
  return 0;
}

function specText(
  spec: { intervals?: { every: unknown }[]; calendars?: unknown[]; cronExpressions?: string[] } | undefined,
): string {
  if (!spec) return '';
  const parts: string[] = [];
  for (const i of spec.intervals ?? []) parts.push(`every ${Math.round(Number(i.every) / 1000)}s`);
  if (spec.calendars?.length)
    parts.push(`${spec.calendars.length} calendar rule${spec.calendars.length > 1 ? 's' : ''}`);
  for (const c of spec.cronExpressions ?? []) parts.push(`cron "${c}"`);
  return parts.join(', ');
}

export async function scheduleList(session: Session, o: Output): Promise<number> {
  const rows: Array<{ scheduleId: string; label: string; spec: string; paused: boolean; nextRun?: string }> = [];
  for await (const s of session.client.schedule.list()) {
    if (s.action?.type !== 'startWorkflow' || s.action.workflowType !== imageLifecycleWorkflow.name) continue;
    const memo = (s.memo ?? {}) as { label?: string };
    rows.push({
      scheduleId: s.scheduleId,
      label: memo.label ?? '',
      spec: specText(s.spec),
      paused: s.state.paused,
      nextRun: s.info.nextActionTimes[0]?.toISOString(),
    });
  }
  rows.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
  if (o.json) printJson(o, rows);
  else if (!rows.length) o.out('No image schedules.');
  else
    o.out(
      table(
        ['SCHEDULE', 'LABEL', 'WHEN', 'PAUSED', 'NEXT RUN'],
        rows.map((r) => [r.scheduleId, r.label, r.spec, r.paused ? 'yes' : 'no', r.paused ? '' : (r.nextRun ?? '')]),
      ),
    );
  return 0;
}

export async function scheduleDescribe(session: Session, id: string, o: Output): Promise<number> {
  const d = await notFound(id, () => session.client.schedule.getHandle(id).describe());
  const memo = (d.memo ?? {}) as { label?: string; uploadEnvironments?: string[] };
  const recent = d.info.recentActions.map((a) => ({
    scheduledAt: a.scheduledAt.toISOString(),
    workflowId: a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : '',
  }));
  const info = {
    scheduleId: id,
    label: memo.label,
    uploadEnvironments: memo.uploadEnvironments,
    spec: specText(d.spec),
    paused: d.state.paused,
    note: d.state.note,
    overlap: d.policies.overlap,
    catchupWindowMs: d.policies.catchupWindow,
    runs: d.info.numActionsTaken,
    skippedOverlapping: d.info.numActionsSkippedOverlap,
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    recent,
    nextRuns: d.info.nextActionTimes.map((t) => t.toISOString()),
  };
  if (o.json) {
    printJson(o, info);
    return 0;
  }
  o.out(
    `Schedule ${id}: ${info.label ?? '?'} → ${(info.uploadEnvironments ?? []).join(', ')}, ${info.spec}${info.paused ? ' (paused' + (info.note ? `: ${info.note}` : '') + ')' : ''}`,
  );
  o.out(
    `Overlap: ${String(info.overlap).toLowerCase()}, catch-up window ${Math.round(Number(info.catchupWindowMs) / 1000)}s`,
  );
  o.out(
    `Runs started: ${info.runs}, skipped while one ran: ${info.skippedOverlapping}, running now: ${info.running.join(', ') || 'none'}`,
  );
  for (const r of recent) o.out(`Ran ${r.scheduledAt}: ${r.workflowId}`);
  if (!info.paused && info.nextRuns[0]) o.out(`Next run: ${info.nextRuns[0]}`);
  return 0;
}

export async function scheduleAct(
  session: Session,
  action: 'pause' | 'unpause' | 'trigger' | 'delete',
  id: string,
  o: Output,
  note?: string,
): Promise<number> {
  const handle = session.client.schedule.getHandle(id);
  await notFound(id, async () => {
    if (action === 'pause') await handle.pause(note ?? 'paused with dibctl schedule pause');
    else if (action === 'unpause') await handle.unpause(note ?? 'unpaused with dibctl schedule unpause');
    else if (action === 'trigger') await handle.trigger();
    else await handle.delete();
  });
  const done = { pause: 'paused', unpause: 'unpaused', trigger: 'triggered: a run starts now', delete: 'deleted' }[
    action
  ];
  if (o.json) printJson(o, { scheduleId: id, action });
  else o.out(`Schedule ${id} ${done}`);
  return 0;
}

/** `dibctl schedule` and its subcommands; none needs a worker. */
export function register(program: Command, cli: Cli): void {
  const schedule = program.command('schedule').description('periodic image lifecycles as Temporal Schedules');
  lifecycleOptions(
    schedule
      .command('create')
      .description('create a schedule that runs the lifecycle of an image (--every 7d or --cron "0 3 * * 1")')
      .argument('<label>', 'image label')
      .option('--every <duration>', 'interval: 90s, 30m, 6h, 7d, 2w')
      .option('--cron <expression>', 'cron expression (UTC)')
      .option('--id <schedule-id>', 'schedule id (default dibctl-LABEL)')
      .option(
        '--overlap <policy>',
        'when a run is due while one runs: skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all',
        'skip',
      )
      .option(
        '--catchup-window <duration>',
        'runs missed while the server was down are made up within this window',
        '1d',
      )
      .option('--paused', 'create it paused'),
  ).action(async (label: string, opts: ScheduleCreateOptions) =>
    cli.inSession((s, o) => scheduleCreate(s, label, opts, o), false),
  );
  schedule
    .command('list')
    .description('list image schedules')
    .action(async () => cli.inSession((s, o) => scheduleList(s, o), false));
  schedule
    .command('describe')
    .description('show a schedule: timing, policies, recent and next runs')
    .argument('<schedule-id>')
    .action(async (id: string) => cli.inSession((s, o) => scheduleDescribe(s, id, o), false));
  for (const action of ['pause', 'unpause'] as const) {
    schedule
      .command(action)
      .description(`${action} a schedule`)
      .argument('<schedule-id>')
      .option('--note <text>', 'why (shown by describe)')
      .action(async (id: string, opts: { note?: string }) =>
        cli.inSession((s, o) => scheduleAct(s, action, id, o, opts.note), false),
      );
  }
  schedule
    .command('trigger')
    .description('start a run now (skipped if one runs and the overlap policy is skip)')
    .argument('<schedule-id>')
    .action(async (id: string) => cli.inSession((s, o) => scheduleAct(s, 'trigger', id, o), false));
  schedule
    .command('delete')
    .description('delete a schedule (running lifecycles go on)')
    .argument('<schedule-id>')
    .action(async (id: string) => cli.inSession((s, o) => scheduleAct(s, 'delete', id, o), false));
}
