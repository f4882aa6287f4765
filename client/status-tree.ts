/**
 * The operator's view of one workflow as a tree: a lifecycle's build, its test
 * with the test's cleanup, a publish per upload environment and each
 * environment's retirement hand-off; each with its state, duration, what it
 * holds in the cloud and what the operator can do next. Everything is read
 * from Temporal: describe (state, times, search attributes), results and
 * failures (closed steps), queries (running steps), the history (cleanup time).
 */
import { Client, WorkflowExecutionDescription, WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import { lifecycleChildren } from '../common/ids';
import { detailsOf, failureOf } from '../errors';
import {
  imageBuildWorkflow,
  imageLifecycleWorkflow,
  imageTestStatusQuery,
  imageTestWorkflow,
  publishWorkflow,
  retirementStatusQuery,
  retirementWorkflow,
  stageQuery,
} from '../workflows';
import type {
  ImageTestFailureDetails,
  ImageTestResult,
  ImageTestStatus,
  LifecycleFailureDetails,
  LifecycleResult,
  PublishResult,
} from '../workflows';

type StepState =
  | 'running'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'terminated'
  | 'timed out'
  | 'continued as new'
  | 'pending'
  | 'skipped'
  | 'held'
  | 'done'
  | 'unknown';

interface HeldResources {
  image?: string;
  instance?: string;
  keypair?: string;
  /** Obsolete images a retirement workflow holds or was handed. */
  images?: string[];
}

interface StatusNode {
  /** build, test, cleanup, publish ENV, retirement ENV, or the workflow type at the root. */
  step: string;
  workflowId?: string;
  /** The workflow type, and Temporal's name for its status (RUNNING, COMPLETED, ...). */
  type?: string;
  status?: string;
  state: StepState;
  /** The stage a running workflow reports. */
  stage?: string;
  started?: string;
  closed?: string;
  durationMs?: number;
  /** Why it failed: the innermost message and the exit code it maps to. */
  failure?: { message: string; exitCode: number };
  held?: HeldResources;
  /** Operator-facing lines about what is held and until when. */
  notes?: string[];
  /** Commands the operator can run now. */
  next?: string[];
  children?: StatusNode[];
}

/** Lines describing what an image test holds (instance, key, image) and until when. */
function heldLines(s: ImageTestStatus): string[] {
  const h = s.held;
  const lines: string[] = [];
  if (h.instance)
    lines.push(
      `instance ${h.instance.id ?? '(booting)'} ${h.instance.name}${h.instance.mainIp ? ` at ${h.instance.mainIp}` : ''}${h.instance.existing ? ' (existing, never removed)' : ''}`,
    );
  if (h.keypair) lines.push(`keypair ${h.keypair}${h.privateKeyFile ? `, private key ${h.privateKeyFile}` : ''}`);
  if (h.image) lines.push(`image ${h.image.id}${h.image.existing ? ' (existing, never removed)' : ''}`);
  if (h.sshCommand) lines.push(`reach it with: ${h.sshCommand}`);
  if (s.hold) lines.push(`held until ${s.hold.until} (${s.hold.reason})`);
  return lines;
}

/**
 * How long a query may take: a running workflow whose worker is gone does not
 * answer. A workflow cached by a worker that was killed is answered by another
 * once the server gives up on the first one's sticky queue (the SDK's default
 * sticky schedule-to-start timeout, 10 s), so the limit is a little longer.
 */
const QUERY_TIMEOUT_MS = 12_000;

const STATES: Record<string, StepState> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed out',
  CONTINUED_AS_NEW: 'continued as new',
};

function withTimeout<T>(p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), QUERY_TIMEOUT_MS)));
  return Promise.race([p.catch(() => undefined), limit]).finally(() => clearTimeout(timer));
}

interface Described {
  handle: WorkflowHandle;
  desc: WorkflowExecutionDescription;
  node: StatusNode;
}

async function describe(client: Client, workflowId: string, step: string): Promise<Described | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  let desc: WorkflowExecutionDescription;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const state = STATES[desc.status.name] ?? 'unknown';
  const closed = desc.closeTime;
  const node: StatusNode = {
    step,
    workflowId,
    type: desc.type,
    status: desc.status.name,
    state,
    started: desc.startTime.toISOString(),
    ...(closed ? { closed: closed.toISOString() } : {}),
    durationMs: (closed ?? new Date()).getTime() - desc.startTime.getTime(),
  };
  if (state === 'running') {
    const stage = await withTimeout(handle.query(stageQuery));
    if (stage) node.stage = stage;
  }
  return { handle, desc, node };
}

/** A closed workflow's result, or its failure (with the failure's details). */
async function outcome<T>(d: Described): Promise<{ value?: T; error?: unknown }> {
  if (d.node.state === 'running') return {};
  try {
    return { value: (await d.handle.result()) as T };
  } catch (error) {
    if (d.node.state === 'failed') {
      const { message, exitCode } = failureOf(error);
      d.node.failure = { message, exitCode };
    }
    return { error };
  }
}

function missing(step: string, workflowId: string, parentRunning: boolean): StatusNode {
  return { step, workflowId, state: parentRunning ? 'pending' : 'skipped' };
}

function heldOf(s: ImageTestStatus, onlyKept?: ImageTestResult['kept']): HeldResources | undefined {
  const h = s.held;
  const out: HeldResources = {};
  if (h.instance?.id && !h.instance.existing && (!onlyKept || onlyKept.instance)) out.instance = h.instance.id;
  if (h.keypair && (!onlyKept || onlyKept.keypair)) out.keypair = h.keypair;
  if (h.image && !h.image.existing && (!onlyKept || onlyKept.image)) out.image = h.image.id;
  return Object.keys(out).length ? out : undefined;
}

const CLEANUP_ACTIVITIES = new Set([
  'deleteImagesByBuildId',
  'deleteKeypairByName',
  'deleteInstancesByName',
  'removeInstanceFiles',
]);

/** How long the test's cleanup took: from its first compensation scheduled to its last one closed. */
async function cleanupDuration(handle: WorkflowHandle): Promise<number | undefined> {
  const history = await handle.fetchHistory().catch(() => undefined);
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  const scheduled = new Set<string>();
  let first: number | undefined;
  let last: number | undefined;
  for (const e of history?.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s && CLEANUP_ACTIVITIES.has(s.activityType?.name ?? '')) {
      scheduled.add(String(e.eventId));
      first ??= ms(e.eventTime);
    }
    const closedOf =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (closedOf && scheduled.has(String(closedOf.scheduledEventId))) last = ms(e.eventTime);
  }
  return first !== undefined && last !== undefined ? last - first : undefined;
}

/** An image test and, under it, its cleanup: what is held, until when, and keep/discard while held. */
async function testNode(d: Described): Promise<StatusNode> {
  const node = d.node;
  const id = node.workflowId!;
  if (node.state === 'running') {
    const s = await withTimeout(d.handle.query(imageTestStatusQuery));
    if (!s) {
      node.notes = ['no worker answers for this test: what it holds is unknown until one runs'];
      node.children = [{ step: 'cleanup', state: 'unknown' }];
      return node;
    }
    const held = heldOf(s);
    if (held) node.held = held;
    const cleanup: StatusNode = {
      step: 'cleanup',
      state: s.hold ? 'held' : s.stage === 'cleaning up' ? 'running' : 'pending',
    };
    if (s.hold) {
      cleanup.notes = heldLines(s);
      cleanup.next = [`dibctl keep ${id}`, `dibctl discard ${id}`];
      if (held) cleanup.held = held;
    } else if (cleanup.state === 'pending') {
      // a keep sent now makes a failure hold the instance instead of removing it
      cleanup.next = [`dibctl keep ${id}`];
    }
    node.children = [cleanup];
    return node;
  }
  const { value, error } = await outcome<ImageTestResult>(d);
  const details = detailsOf<ImageTestFailureDetails>(error);
  // the test's own failure carries its result; an activity's failure (a test that broke) carries none
  const result = value ?? (details?.result && 'kept' in details.result ? details.result : undefined);
  const cleanup: StatusNode = { step: 'cleanup', state: result ? 'done' : 'unknown' };
  if (result) {
    const kept = heldOf(result, result.kept);
    if (kept) {
      cleanup.held = kept;
      cleanup.notes = [`kept for good (${Object.keys(kept).join(', ')}): remove by hand when done`];
    }
    const ms = await cleanupDuration(d.handle);
    if (ms !== undefined) cleanup.durationMs = ms;
  } else if (node.state !== 'completed') {
    cleanup.notes = [`the test ${node.state} before it reported its cleanup`];
  }
  node.children = [cleanup];
  return node;
}

/** A publish to one environment and, under it, the hand-off of the copies it obsoleted to retirement. */
async function publishNode(client: Client, d: Described, environment: string): Promise<StatusNode> {
  const node = d.node;
  const { value } = await outcome<PublishResult>(d);
  if (!value) return node;
  environment ||= value.environment;
  if (value.imageId) node.held = { image: value.imageId };
  if (value.supersededBy) node.notes = [`superseded by image ${value.supersededBy}`];
  if (value.notObsoleted) node.notes = [...(node.notes ?? []), `older copies not obsoleted: ${value.notObsoleted}`];
  if (value.retirementWorkflowId && value.obsoleted.length) {
    const r = await describe(client, value.retirementWorkflowId, `retirement ${environment}`);
    const handoff: StatusNode = r?.node ?? {
      step: `retirement ${environment}`,
      workflowId: value.retirementWorkflowId,
      state: 'unknown',
    };
    handoff.held = { images: value.obsoleted.map((i) => i.id) };
    handoff.notes = [`handed ${value.obsoleted.length} obsolete image(s): deleted once no server uses them`];
    handoff.next = [`dibctl retirement ${environment}`];
    node.children = [handoff];
  }
  return node;
}

async function retirementNode(d: Described): Promise<StatusNode> {
  const node = d.node;
  if (node.state !== 'running') return node;
  const s = await withTimeout(d.handle.query(retirementStatusQuery));
  if (s) {
    node.held = { images: s.held.map((i) => i.id) };
    node.notes = s.held.map((i) => `image ${i.id} ${i.name}: ${i.reason}`);
    const more = (s.heldCount ?? s.held.length) - s.held.length;
    if (more > 0) node.notes.push(`and ${more} more held image(s), not listed`);
    node.next = [`dibctl retirement ${s.environment}`];
  }
  return node;
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

async function lifecycleNode(client: Client, d: Described): Promise<StatusNode> {
  const node = d.node;
  const id = node.workflowId!;
  const running = node.state === 'running';
  const { value, error } = await outcome<LifecycleResult>(d);
  // a lifecycle that failed in some region carries its result; one whose test failed carries the test's
  const result = value ?? detailsOf<LifecycleFailureDetails>(error, (f) => f.type === 'PublishFailed')?.result;
  const sa = (d.desc.searchAttributes ?? {}) as Record<string, unknown>;
  const environments = result?.regions.map((r) => r.environment) ?? stringsOf(sa.DibctlEnvironments);
  const label = stringsOf(sa.DibctlLabel)[0] ?? result?.label;
  if (label) node.step = `${node.step} ${label}`;

  // the steps are read side by side: a running one whose worker is gone costs one query timeout, not one per step
  const buildId = lifecycleChildren.build(id);
  const testId = lifecycleChildren.test(id);
  const children = await Promise.all([
    describe(client, buildId, 'build').then(async (d) => {
      if (d) await outcome(d);
      return d?.node ?? missing('build', buildId, running);
    }),
    describe(client, testId, 'test').then((d) => (d ? testNode(d) : missing('test', testId, running))),
    ...environments.map((environment) => {
      const pid = lifecycleChildren.publish(id, environment);
      return describe(client, pid, `publish ${environment}`).then((d) =>
        d ? publishNode(client, d, environment) : missing(`publish ${environment}`, pid, running),
      );
    }),
  ]);
  node.children = children;
  return node;
}

/** The tree of a workflow; undefined when Temporal knows no workflow with this id. */
export async function statusTree(client: Client, workflowId: string): Promise<StatusNode | undefined> {
  const root = await describe(client, workflowId, 'workflow');
  if (!root) return undefined;
  const type = root.desc.type;
  if (type === imageLifecycleWorkflow.name) {
    root.node.step = 'lifecycle';
    return lifecycleNode(client, root);
  }
  if (type === imageTestWorkflow.name) {
    root.node.step = 'test';
    return testNode(root);
  }
  if (type === publishWorkflow.name) {
    root.node.step = 'publish';
    const sa = (root.desc.searchAttributes ?? {}) as Record<string, unknown>;
    const environment = stringsOf(sa.DibctlEnvironments)[0] ?? '';
    const node = await publishNode(client, root, environment);
    return node;
  }
  if (type === retirementWorkflow.name) {
    root.node.step = 'retirement';
    return retirementNode(root);
  }
  root.node.step = type === imageBuildWorkflow.name ? 'build' : type;
  await outcome(root);
  return root.node;
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}

function heldText(h: HeldResources): string {
  const parts: string[] = [];
  if (h.instance) parts.push(`instance ${h.instance}`);
  if (h.keypair) parts.push(`keypair ${h.keypair}`);
  if (h.image) parts.push(`image ${h.image}`);
  if (h.images?.length) parts.push(`images ${h.images.join(', ')}`);
  return parts.join(', ');
}

/** The tree as text: one line per step, its details indented under it. */
export function renderTree(node: StatusNode): string[] {
  const lines: string[] = [];
  const walk = (n: StatusNode, lead: string, branch: string, last: boolean) => {
    const head = [
      n.step,
      n.state + (n.stage ? ` — ${n.stage}` : ''),
      ...(n.durationMs !== undefined ? [duration(n.durationMs)] : []),
      ...(n.workflowId ? [`(${n.workflowId})`] : []),
    ].join('  ');
    lines.push(`${lead}${branch}${head}`);
    const inner = lead + (branch ? (last ? '   ' : '│  ') : '');
    const hasChildren = Boolean(n.children?.length);
    const detail = inner + (hasChildren ? '│  ' : '   ');
    if (n.failure) lines.push(`${detail}failed (exit ${n.failure.exitCode}): ${n.failure.message}`);
    if (n.held) lines.push(`${detail}holds ${heldText(n.held)}`);
    for (const note of n.notes ?? []) lines.push(`${detail}${note}`);
    if (n.next?.length) lines.push(`${detail}next: ${n.next.join(' | ')}`);
    (n.children ?? []).forEach((c, i, all) =>
      walk(c, inner, i === all.length - 1 ? '└─ ' : '├─ ', i === all.length - 1),
    );
  };
  walk(node, '', '', true);
  return lines;
}
