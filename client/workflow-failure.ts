/**
 * A failed workflow as the operator sees it: the innermost message (what the
 * cloud or the config said), the exit code the activity's typed error carried,
 * and the next step that code calls for.
 */
import { DibctlError, failureOf, nextStepOf } from '../errors';

/**
 * A DibctlError for a failed workflow, keeping the exit code (1 when none was
 * carried); the next step names the image label when the workflow was about one.
 */
export function asDibctlError(err: unknown, label?: string): DibctlError {
  if (err instanceof DibctlError) return err;
  const { message, exitCode, type } = failureOf(err);
  const step = nextStepOf({ exitCode, message, name: type });
  return new DibctlError(message, exitCode, { nextStep: label ? step?.replace(/\bLABEL\b/g, label) : step });
}
