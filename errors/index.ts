/**
 * Typed errors. Every error a user can cause carries the exit code dibctl used
 * for it; only the CLI entry point turns an error into a process exit code.
 */

import { ExitCode } from './exit-codes';
import { hostKeyStep } from './next-step';

export { ExitCode };

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode] | number;

/**
 * Base class: a message meant for the operator plus the exit code it maps to,
 * and, where there is one, the next step: what the operator can do about it
 * (the command line prints it on a line of its own after the message).
 */
export class DibctlError extends Error {
  readonly exitCode: number;
  readonly nextStep: string | undefined;

  constructor(
    message: string,
    exitCode: number = ExitCode.GENERIC,
    options?: { cause?: unknown; nextStep?: string | undefined },
  ) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.nextStep = options?.nextStep;
  }
}

/** The Temporal server could not be reached or refused us. */
export class TemporalUnavailableError extends DibctlError {
  constructor(
    readonly address: string,
    reason: string,
  ) {
    super(`Cannot reach the Temporal server at ${address}: ${reason}`, ExitCode.GENERIC, {
      nextStep: "start it ('dibctl server' runs one on this host), or set TEMPORAL_ADDRESS to a server that runs",
    });
  }
}

/** A tool the project needs is missing and cannot be obtained here. */
export class MissingToolError extends DibctlError {
  constructor(
    readonly tool: string,
    detail: string,
    nextStep?: string,
  ) {
    super(`${tool} is not available: ${detail}`, ExitCode.GENERIC, { nextStep });
  }
}

/**
 * The test instance's address answers SSH with a host key other than the
 * ones pinned for it (printed on its console, or accepted on first use):
 * something else may answer there, so nothing is sent to it.
 */
export class HostKeyMismatchError extends DibctlError {
  constructor(
    readonly target: { ip: string; port: number; serverId?: string },
    readonly expected: string[],
    readonly presented: string,
    readonly pinnedFrom: string,
  ) {
    super(
      `Host key mismatch: ${target.ip}:${target.port}${target.serverId ? ` (server ${target.serverId})` : ''} presented ${presented}, ` +
        `but ${pinnedFrom} are ${expected.join(', ')}; ` +
        'refusing to send tests there (another machine may answer at this address)',
      ExitCode.HOST_KEY_MISMATCH,
      { nextStep: hostKeyStep(target.serverId) },
    );
  }
}

export function isDibctlError(err: unknown): err is DibctlError {
  return err instanceof DibctlError;
}

/** A short one-line description of any thrown value, never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export { NO_SUCH_WORKFLOW_STEP, nextStepOf } from './next-step';
export { causeChain, detailsOf, exitCodeOf, failureOf, hasCause } from './failure';
export type { FailureDetails, FailureSummary } from './failure';
