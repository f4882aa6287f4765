/**
 * A failed workflow as the operator sees it: the innermost message (what the
 * cloud or the config said) and the exit code the activity's typed error carried.
 */
import { ApplicationFailure } from '@temporalio/common';
import { DibctlError, ExitCode, describeError } from '../errors';

/** The exit code carried in a failure's details (walking workflow → child → activity → application causes). */
export function exitCodeOfFailure(err: unknown): number | undefined {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 12; depth++) {
    if (cur instanceof ApplicationFailure) {
      const d = cur.details?.[0] as { exitCode?: unknown } | undefined;
      if (d && typeof d.exitCode === 'number') return d.exitCode;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The innermost message of a failure chain. */
export function messageOfFailure(err: unknown): string {
  let cur: unknown = err;
  let message = describeError(err);
  for (let depth = 0; cur && depth < 12; depth++) {
    if (cur instanceof Error && cur.message) message = cur.message;
    cur = (cur as { cause?: unknown }).cause;
  }
  return message;
}

/** A DibctlError for a failed workflow, keeping the exit code (1 when none was carried). */
export function asDibctlError(err: unknown): DibctlError {
  if (err instanceof DibctlError) return err;
  return new DibctlError(messageOfFailure(err), exitCodeOfFailure(err) ?? ExitCode.GENERIC);
}
