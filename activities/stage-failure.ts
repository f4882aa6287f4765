/**
 * How an image-test or build activity's error crosses Temporal: a typed
 * `ApplicationFailure` (type = the error class, details = `{ exitCode }`),
 * retried only when another attempt can help (connection trouble, 5xx, 409, 429,
 * a time limit). Everything an operator must fix is final.
 */
import { activityInfo, Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DibctlError, ExitCode, FailureDetails, describeError } from '../errors';
import { OpenStackConnectionError, OpenStackHttpError, UploadStalledError, UploadTimeoutError } from '../openstack';

/**
 * A bug in dibctl rather than trouble of the cloud or the host: the errors
 * JavaScript itself throws for wrong code. Another attempt runs the same code,
 * so such a step fails at once.
 */
function isInternalError(err: unknown): boolean {
  return (
    err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || err instanceof SyntaxError
  );
}

/** Worth another attempt: the cloud could not be reached or answered 5xx / 409 / 429, or an upload timed out or stalled. */
export function isTransient(err: unknown): boolean {
  if (err instanceof OpenStackConnectionError || err instanceof UploadTimeoutError || err instanceof UploadStalledError)
    return true;
  if (err instanceof OpenStackHttpError) return err.status >= 500 || err.status === 429 || err.status === 409;
  return !(err instanceof DibctlError) && !isInternalError(err);
}

/** Where a step runs, for the message of an internal error (outside an activity: nothing). */
function currentStep(): string {
  try {
    const info = activityInfo();
    return ` in ${info.activityType} of workflow ${info.workflowExecution?.workflowId ?? info.activityId}`;
  } catch {
    return '';
  }
}

export function toStageFailure(err: unknown): ApplicationFailure | CancelledFailure {
  // a cancelled activity must end as cancelled, not as an application failure
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  if (isInternalError(err)) {
    const details: FailureDetails = { exitCode: ExitCode.GENERIC };
    return ApplicationFailure.create({
      type: 'InternalError',
      message: `Internal error${currentStep()}: ${describeError(err)} (a bug in dibctl; not retried)`,
      nonRetryable: true,
      details: [details],
    });
  }
  const exitCode = err instanceof DibctlError ? err.exitCode : ExitCode.GENERIC;
  const type = err instanceof Error ? err.name : 'Error';
  const details: FailureDetails = { exitCode };
  return ApplicationFailure.create({
    type,
    message: describeError(err),
    nonRetryable: !isTransient(err),
    details: [details],
  });
}

/** How often an activity that does not report progress itself says it is alive. */
const KEEP_ALIVE_MS = 5_000;

/**
 * Heartbeats (without details) while fn runs, so that a worker killed mid-step
 * is noticed within the heartbeat timeout instead of the whole step's time limit.
 * Outside an activity (a plain call in a test) it just runs fn.
 */
export function keepAlive<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  everyMs = KEEP_ALIVE_MS,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    let ctx: Context | undefined;
    try {
      ctx = Context.current();
    } catch {
      ctx = undefined;
    }
    const ticker = ctx ? setInterval(() => ctx!.heartbeat(), everyMs) : undefined;
    try {
      ctx?.heartbeat();
      return await fn(...args);
    } finally {
      if (ticker) clearInterval(ticker);
    }
  };
}

/**
 * Wraps each activity so what it throws leaves as a typed failure, and keeps
 * alive (see keepAlive) every one not named in `reportsProgress`: those
 * heartbeat with their own details, which an empty heartbeat would overwrite.
 */
export function stageActivities<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
  opts: { reportsProgress?: Array<keyof T & string> } = {},
): T {
  const out: Record<string, unknown> = {};
  const own = new Set<string>(opts.reportsProgress ?? []);
  for (const [name, original] of Object.entries(activities)) {
    const fn = own.has(name) ? original : keepAlive(original);
    const wrapped = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toStageFailure(err);
      }
    };
    Object.defineProperty(wrapped, 'name', { value: name });
    out[name] = wrapped;
  }
  return out as T;
}
