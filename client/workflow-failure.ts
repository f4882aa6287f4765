/**
 * A failed workflow as the operator sees it: the innermost message (what the
 * cloud or the config said) and the exit code the activity's typed error carried.
 */
import { DibctlError, failureOf } from '../errors';

/** A DibctlError for a failed workflow, keeping the exit code (1 when none was carried). */
export function asDibctlError(err: unknown): DibctlError {
  if (err instanceof DibctlError) return err;
  const { message, exitCode } = failureOf(err);
  return new DibctlError(message, exitCode);
}
