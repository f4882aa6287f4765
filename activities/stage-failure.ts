/**
 * How an image-test or build activity's error crosses Temporal: a typed
 * `ApplicationFailure` (type = the error class, details = `{ exitCode }`),
 * retried only when another attempt can help (connection trouble, 5xx, 409, 429,
 * a time limit). Everything an operator must fix is final.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DibctlError, ExitCode, describeError } from '../errors';
import { OpenStackConnectionError, OpenStackHttpError, UploadTimeoutError } from '../openstack';

export interface StageFailureDetails {
  exitCode: number;
}

/** Worth another attempt: the cloud could not be reached or answered 5xx / 409 / 429. */
export function isTransient(err: unknown): boolean {
  if (err instanceof OpenStackConnectionError || err instanceof UploadTimeoutError) return true;
  if (err instanceof OpenStackHttpError) return err.status >= 500 || err.status === 429 || err.status === 409;
  return !(err instanceof DibctlError);
}

export function toStageFailure(err: unknown): ApplicationFailure | CancelledFailure {
  // a cancelled activity must end as cancelled, not as an application failure
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const exitCode = err instanceof DibctlError ? err.exitCode : ExitCode.GENERIC;
  const type = err instanceof Error ? err.name : 'Error';
  const details: StageFailureDetails = { exitCode };
  return ApplicationFailure.create({ type, message: describeError(err), nonRetryable: !isTransient(err), details: [details] });
}

/** Wraps each activity so what it throws leaves as a typed failure. */
export function stageActivities<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
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
