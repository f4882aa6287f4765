/**
 * `schedule create|list|describe|pause|unpause|trigger|delete`: periodic image
 * lifecycles as Temporal Schedules. A schedule starts `imageLifecycleWorkflow`;
 * by default a run is skipped while the previous one of that schedule still
 * runs, and runs missed while the server was down are caught up within a window.
 */
import type { ScheduleOverlapPolicy, ScheduleSpec } from '@temporalio/client';
import { durationProblem, durationSeconds } from '../../config';
import { DibctlError, ExitCode } from '../../errors';
import { Output, printJson, table } from '../render';
import type { Session, SessionMode } from '../session';
import { commandWorkflowIds, scheduleId } from '../../common/ids';
import type { LifecycleInput } from '../../workflows';
import { RunOptions, lifecycleInput } from './run';

export interface ScheduleCreateOptions extends RunOptions {
  id?: string;
  every?: string;
  cron?: string;
  catchupWindow: string;
  overlap: string;
  paused?: boolean;
}

/** The SDK's ScheduleOverlapPolicy values by their command-line names. */
const OVERLAP: Record<string, ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  'buffer-one': 'BUFFER_ONE',
  'buffer-all': 'BUFFER_ALL',
  'cancel-other': 'CANCEL_OTHER',
  'terminate-other': 'TERMINATE_OTHER',
  'allow-all': 'ALLOW_ALL',
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
  const { ScheduleNotFoundError } = await import('@temporalio/client');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError)
      throw new DibctlError(`No schedule with id '${id}'`, undefined, {
        nextStep: "'dibctl schedule list' shows the ids of the image schedules",
      });
    throw err;
  }
}

/** What `schedule create` checked before its session. */
interface PreparedSchedule {
  label: string;
  id: string;
  spec: ScheduleSpec;
  overlap: ScheduleOverlapPolicy;
  catchupWindow: number;
  input: LifecycleInput;
}

/**
 * Checks `schedule create` before anything starts: options (2), a session that
 * would not outlive the command (mode embedded, 1), then config, label and credentials (10, 11, 12).
 */
export function prepareScheduleCreate(label: string, opts: ScheduleCreateOptions, mode: SessionMode): PreparedSchedule {
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
  if (mode === 'embedded') {
    throw new DibctlError('A schedule needs a Temporal server that outlives this command', undefined, {
      nextStep: "start one ('dibctl server') or set TEMPORAL_ADDRESS, and run 'dibctl worker' beside it",
    });
  }
  const input = lifecycleInput(label, opts);
  const id = opts.id ?? scheduleId(label);
  const spec: ScheduleSpec = every ? { intervals: [{ every: every * 1000 }] } : { cronExpressions: [opts.cron!] };
  return { label, id, spec, overlap, catchupWindow, input };
}

export async function scheduleCreate(
  session: Session,
  { label, id, spec, overlap, catchupWindow, input }: PreparedSchedule,
  opts: ScheduleCreateOptions,
  o: Output,
): Promise<number> {
  const [{ ScheduleAlreadyRunning }, { imageLifecycleWorkflow }] = await Promise.all([
    import('@temporalio/client'),
    import('../../workflows'),
  ]);
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
  const { imageLifecycleWorkflow } = await import('../../workflows');
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
