/**
 * What a failure means to the operator, wherever it is caught: in a workflow
 * (a child's or an activity's failure), or in the CLI (a failed workflow). An
 * activity's typed error crosses Temporal as an `ApplicationFailure` whose
 * details carry `{ exitCode }`; the workflow wraps it in an ActivityFailure or a
 * ChildWorkflowFailure, the client in a WorkflowFailedError. This walks that
 * chain once. Safe to import from workflow code (no Node APIs).
 */
import { ApplicationFailure, TemporalFailure, rootCause } from '@temporalio/common';

/** What every failure carries in its details: the exit code dibctl maps it to. */
export interface FailureDetails {
  exitCode: number;
}

export interface FailureSummary {
  /** The exit code the outermost failure that carries one names; 1 when none does. */
  exitCode: number;
  /** The innermost message: what the cloud, the config or the tests said. */
  message: string;
  /** The type of the innermost ApplicationFailure (the activity's error class), else the error's name. */
  type: string;
}

/** The chain from `err` to its root cause (each `cause` in turn; a cycle ends it). */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  const seen = new Set<unknown>();
  for (let cur = err; cur !== undefined && cur !== null && !seen.has(cur); cur = (cur as { cause?: unknown }).cause) {
    seen.add(cur);
    chain.push(cur);
  }
  return chain;
}

/**
 * The details of the outermost failure in the chain that carries an exit code
 * (and that `accept` takes): a workflow's own failure details (e.g. a failed
 * test's result) come before those of the activity that caused it.
 */
export function detailsOf<T extends FailureDetails = FailureDetails>(
  err: unknown,
  accept: (f: ApplicationFailure) => boolean = () => true,
): T | undefined {
  for (const cur of causeChain(err)) {
    if (!(cur instanceof ApplicationFailure) || !accept(cur)) continue;
    const d = cur.details?.[0] as Partial<FailureDetails> | undefined;
    if (d && typeof d === 'object' && typeof d.exitCode === 'number') return d as T;
  }
  return undefined;
}

/** The exit code a failure chain carries, if any. */
export function exitCodeOf(err: unknown): number | undefined {
  return detailsOf(err)?.exitCode;
}

/** Exit code, innermost message and type of any thrown value. */
export function failureOf(err: unknown): FailureSummary {
  const chain = causeChain(err);
  // the SDK's root cause of the Temporal part of the chain; the innermost non-empty message when that is empty
  const temporal = chain.find((cur) => cur instanceof TemporalFailure);
  let message = temporal ? rootCause(temporal) || '' : '';
  if (!message) {
    for (const cur of chain) if (cur instanceof Error && cur.message) message = cur.message;
  }
  if (!message) message = err instanceof Error ? err.name : String(err);
  let type = err instanceof Error ? err.name : 'Error';
  for (const cur of chain) if (cur instanceof ApplicationFailure && cur.type) type = cur.type;
  return { exitCode: exitCodeOf(err) ?? 1, message, type };
}

/** Whether anything in the chain is a failure of class `ctor` (e.g. a CancelledFailure). */
export function hasCause(err: unknown, ctor: abstract new (...args: never[]) => unknown): boolean {
  return causeChain(err).some((cur) => cur instanceof ctor);
}
