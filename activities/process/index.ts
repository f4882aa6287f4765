/**
 * The one way dibctl starts a child process: in a process group of its own,
 * killed as a whole on cancellation or at its time limit, with its output
 * capped in memory and scrubbed of known secrets (see run.ts).
 */
export { failureReason, runProcess } from './run';
export { CAPTURE_LIMIT, CapturedOutput, capture, runCapturing, runCommandLine } from './capture';
export { OutputLog } from './output-log';
export { truncationMarker } from './bounded';
export type { OutputSink } from './sink';
