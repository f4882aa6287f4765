/**
 * The one way dibctl starts a child process: in a process group of its own,
 * killed as a whole on cancellation or at its time limit, with its output
 * capped in memory and scrubbed of known secrets (see run.ts).
 */
export { KILL_GRACE_MS, failureReason, groupAlive, killGroup, runProcess } from './run';
export type { ProcessOptions, ProcessOutcome } from './run';
export { CAPTURE_LIMIT, CapturedOutput, capture, runCapturing, runCommandLine } from './capture';
export type { Captured } from './capture';
export { OutputLog } from './output-log';
export { TailBuffer, truncationMarker } from './bounded';
export { ScrubbingSink, knownSecrets } from './scrub';
export type { OutputSink } from './sink';
