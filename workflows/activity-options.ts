/**
 * Every activity option of every workflow: time limits, heartbeats, retry
 * policies and the task queue each kind of step runs on. Workflows take their
 * activity proxies from here, so how a step is retried is read in one place.
 *
 * Activities mark what an operator must fix (bad config, 4xx other than
 * 409/429, a failed build, an internal error) as non-retryable, so what these
 * policies retry is trouble that passes: a cloud that is unreachable or answers
 * 5xx / 409 / 429, a worker that died mid-step.
 */
import { ActivityCancellationType, ActivityOptions, proxyActivities, RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RetrySettings } from '../config/view';
import type { WorkflowTestPlan } from '../config';
import { DEFAULTS } from '../config/defaults';

/** Short cloud steps: backing off to 30 s, 12 attempts ride out about 3.5 minutes of outage. */
const CLOUD_RETRY: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 12,
};

/** Long steps (an upload, a copy between clouds): each attempt may take hours, so fewer, about a minute of outage apart. */
const LONG_STEP_RETRY: RetryPolicy = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 6,
};

/**
 * Heartbeat timeout of steps that only keep alive (activities without progress
 * of their own heartbeat every 5 s): a worker killed mid-step is noticed this
 * soon instead of after the step's whole time limit.
 */
const KEEP_ALIVE_TIMEOUT = '20 seconds';

/** How long a step on a host's own queue may wait for that host's worker before it counts as gone. */
const HOST_PICKUP = '5 minutes';

const steps = (options: ActivityOptions) => proxyActivities<Activities>(options);

/** An upload environment's `retry:` settings as the policies of its short steps and its upload. */
export function retryPolicies(settings: RetrySettings | undefined): { cloud: RetryPolicy; upload: RetryPolicy } {
  if (!settings) return { cloud: CLOUD_RETRY, upload: LONG_STEP_RETRY };
  const maximumInterval = settings.maxIntervalSeconds * 1000;
  return {
    cloud: { ...CLOUD_RETRY, maximumAttempts: settings.attempts, maximumInterval },
    upload: {
      ...LONG_STEP_RETRY,
      maximumAttempts: settings.uploadAttempts,
      maximumInterval,
      initialInterval: Math.min(2_000, maximumInterval),
    },
  };
}

/** Short cloud steps on the shared queue (obsolete, share, survey, delete, hand-off), retried as `policy` says. */
export function cloudSteps(policy: RetryPolicy = CLOUD_RETRY) {
  return steps({ startToCloseTimeout: '2 minutes', heartbeatTimeout: KEEP_ALIVE_TIMEOUT, retry: policy });
}

/**
 * Proving images unused lists every server of every project, in the survey and
 * again before each delete: on a large cloud (20,000 servers are 20 pages of
 * Nova's 1000) that may take many minutes. The step heartbeats (once per page,
 * and keeps alive), so a dead worker is noticed within the heartbeat timeout;
 * the long start-to-close only bounds a listing that keeps going.
 */
const IN_USE_CHECK: ActivityOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
  retry: CLOUD_RETRY,
};

/** Retirement's checks (survey, delete, policy). */
export function retirementSteps() {
  return steps(IN_USE_CHECK);
}

/** `rotate`'s survey and deletes: the same listing of every server as retirement's. */
export function rotateSteps() {
  return steps(IN_USE_CHECK);
}

/** Reading the configs for a lifecycle on the host that builds (a dead host makes it time out, not hang). */
export function lifecyclePlanSteps(hostQueue: string) {
  return steps({
    taskQueue: hostQueue,
    scheduleToStartTimeout: HOST_PICKUP,
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
    retry: { maximumAttempts: 3 },
  });
}

/** Reading the whole image file on its host (hashing it): long for a large file, so it keeps alive. */
export function fileCheckSteps(hostQueue: string) {
  return steps({
    taskQueue: hostQueue,
    scheduleToStartTimeout: HOST_PICKUP,
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
    retry: { maximumAttempts: 3 },
  });
}

/** A build on the host that keeps the file. A failed build is final (the activity says so); a lost worker gets one more attempt. */
export function buildSteps(hostQueue: string, timeoutSeconds: number) {
  return steps({
    taskQueue: hostQueue,
    startToCloseTimeout: timeoutSeconds * 1000,
    heartbeatTimeout: 20_000,
    // a cancelled build ends once its process group is gone
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 2, initialInterval: 5_000 },
  });
}

/** Publishing's steps on the host holding the file (preprocessing, removing the processed file). */
export function fileHostSteps(hostQueue: string) {
  return steps({
    taskQueue: hostQueue,
    scheduleToStartTimeout: HOST_PICKUP,
    startToCloseTimeout: '2 hours',
    // a host killed mid-step is noticed in seconds, not after the 2 hours
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 2 },
  });
}

/**
 * An upload attempt without glance.upload_timeout has no total limit: it lives
 * while its data moves (the activity fails an attempt that stalls). Temporal
 * still needs a start-to-close; a week is longer than any upload that moves.
 */
const UNLIMITED_UPLOAD = '7 days';

/**
 * How soon a worker that died mid-upload is noticed: 5 s, or the stall limit
 * when that is shorter (at least 3 s; the upload heartbeats twice a second), so
 * never later than a stall would be. The heartbeats also carry the progress
 * the CLI shows, at most every 80% of this.
 */
function uploadHeartbeatTimeout(stallSeconds: number | undefined): number {
  const stall = stallSeconds ?? DEFAULTS['glance.upload_stall_timeout'];
  return Math.max(Math.min(stall, 5), 3) * 1000;
}

/** An upload attempt's limits: glance.upload_timeout (absent or 0: none) and glance.upload_stall_timeout. */
interface UploadLimits {
  timeoutSeconds?: number;
  stallSeconds?: number;
}

/**
 * The production upload on the host holding the file. With an upload limit it
 * covers sending and Glance finishing, per attempt (a minute more for finding
 * or creating the image); without one, the attempt lasts while data moves.
 */
export function publishUploadSteps(hostQueue: string, limits: UploadLimits, retry: RetryPolicy) {
  return steps({
    taskQueue: hostQueue,
    scheduleToStartTimeout: HOST_PICKUP,
    startToCloseTimeout: limits.timeoutSeconds ? `${limits.timeoutSeconds + 60} seconds` : UNLIMITED_UPLOAD,
    heartbeatTimeout: uploadHeartbeatTimeout(limits.stallSeconds),
    retry,
  });
}

/** A copy between clouds: one long streaming step, retried into the same image. */
export function transferSteps() {
  return steps({ startToCloseTimeout: '6 hours', heartbeatTimeout: '30 seconds', retry: LONG_STEP_RETRY });
}

/** The doctor's checks of a worker host. */
export function doctorSteps() {
  return steps({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });
}

/** How many external tests the plan's image has; a plan of an older dibctl carried the commands themselves. */
function externalTestCount(plan: WorkflowTestPlan): number {
  const older = plan.image as { externalTests?: unknown[] };
  return plan.image.externalTestCount ?? older.externalTests?.length ?? 0;
}

/**
 * The image test's steps, each limited by the test environment's own timeouts.
 * Cloud trouble is retried until the step's overall limit; steps without
 * progress of their own still heartbeat (the activities keep alive), so a
 * killed worker's step moves on within KEEP_ALIVE_TIMEOUT. Steps on the host
 * queue read or write files there.
 */
export function imageTestSteps(hostQueue: string, plan: WorkflowTestPlan) {
  const t = plan.timeouts;
  const s = (seconds: number) => seconds * 1000;
  const retry: RetryPolicy = { initialInterval: 1000, maximumInterval: 10_000 };
  const onHost = (o: ActivityOptions) => steps({ taskQueue: hostQueue, ...o });
  // each test entry and each external test has its own limit: the step gets their sum and two minutes more
  const perTest = DEFAULTS['tests.tests_list[].timeout'];
  const testsTotal =
    plan.image.tests.testsList.reduce((sum, x) => sum + (x.timeout || perTest), 0) + perTest * externalTestCount(plan);
  const keypairLimit = Math.max(t.keypairTimeout, 1) + 30;
  const cleanupLimit = Math.max(t.cleanupTimeout, 5);
  const cleanup: ActivityOptions = {
    startToCloseTimeout: s(cleanupLimit),
    scheduleToCloseTimeout: s(cleanupLimit * 2 + 10),
    heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
    retry,
  };
  return {
    // uploadTimeout 0: no total limit, the attempt lasts while data moves, and a few attempts
    upload: onHost(
      t.uploadTimeout
        ? {
            startToCloseTimeout: s(t.uploadTimeout + 60),
            scheduleToCloseTimeout: s(3 * (t.uploadTimeout + 60)),
            heartbeatTimeout: uploadHeartbeatTimeout(plan.glance.uploadStallTimeout),
            retry,
          }
        : {
            startToCloseTimeout: UNLIMITED_UPLOAD,
            heartbeatTimeout: uploadHeartbeatTimeout(plan.glance.uploadStallTimeout),
            retry: { ...retry, maximumAttempts: LONG_STEP_RETRY.maximumAttempts },
          },
    ),
    hostShort: onHost({
      startToCloseTimeout: '1 minute',
      scheduleToCloseTimeout: '5 minutes',
      heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
      retry,
    }),
    boot: onHost({
      startToCloseTimeout: s(t.createTimeout + 60),
      scheduleToCloseTimeout: s(3 * (t.createTimeout + 60)),
      heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
      retry,
    }),
    portWait: onHost({
      startToCloseTimeout: s(t.portWaitTimeout + 30),
      heartbeatTimeout: '20s',
      retry: { ...retry, maximumAttempts: 2 },
    }),
    // reading the console for the host keys, beside the port wait and bounded by its limit
    consoleKeys: steps({
      startToCloseTimeout: s(t.portWaitTimeout + 60),
      heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
      retry: { ...retry, maximumAttempts: 2 },
    }),
    // checking (or learning) the host key and writing known_hosts on the host that runs the tests
    hostKeyPin: onHost({
      startToCloseTimeout: s(t.portWaitTimeout + 60),
      heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
      retry: { ...retry, maximumAttempts: 2 },
    }),
    // on cancellation, wait until the tests' process groups are gone before cleaning up under them
    tests: onHost({
      startToCloseTimeout: s(testsTotal + 120),
      heartbeatTimeout: '10s',
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { ...retry, maximumAttempts: 2 },
    }),
    keypair: steps({
      startToCloseTimeout: s(keypairLimit),
      scheduleToCloseTimeout: s(3 * keypairLimit),
      heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
      retry,
    }),
    short: steps({
      startToCloseTimeout: '1 minute',
      scheduleToCloseTimeout: '3 minutes',
      heartbeatTimeout: KEEP_ALIVE_TIMEOUT,
      retry,
    }),
    active: steps({
      startToCloseTimeout: s(t.activeTimeout + 60),
      scheduleToCloseTimeout: s(2 * (t.activeTimeout + 60)),
      heartbeatTimeout: '10s',
      retry,
    }),
    cleanup: steps(cleanup),
    cleanupOnHost: onHost(cleanup),
  };
}
