/** Runs that keep their output in memory, capped: short probes and commands whose output goes into a message. */
import { TailBuffer } from './bounded';
import { ProcessOptions, ProcessOutcome, runProcess } from './run';
import type { OutputSink } from './sink';

/** What a probe keeps of each stream. */
export const CAPTURE_LIMIT = 1024 * 1024;

/** stdout and stderr kept apart, and both together in arrival order, each capped. */
export class CapturedOutput implements OutputSink {
  private readonly streams = new Map<string, TailBuffer>();
  private readonly both: TailBuffer;

  constructor(private readonly limit: number) {
    this.both = new TailBuffer(limit);
  }

  write(chunk: string | Buffer, stream: string): void {
    const text = chunk.toString();
    let buf = this.streams.get(stream);
    if (!buf) this.streams.set(stream, (buf = new TailBuffer(this.limit)));
    buf.append(text);
    this.both.append(text);
  }

  of(stream: string): string {
    return this.streams.get(stream)?.text() ?? '';
  }

  combined(): string {
    return this.both.text();
  }
}

interface Captured {
  /** Exit code, or null when the program could not be started (see `error`). */
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/** Runs a short command and captures its output (for version probes and the like). */
export async function capture(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<Captured> {
  const limit = opts.timeoutMs ?? 30_000;
  const output = new CapturedOutput(CAPTURE_LIMIT);
  const o = await runProcess(cmd, args, {
    env: opts.env ?? process.env,
    timeoutMs: limit,
    killGraceMs: 0,
    output,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  const kept = { stdout: output.of('stdout'), stderr: output.of('stderr') };
  if (o.startError)
    return { code: null, ...kept, error: o.startError.code === 'ENOENT' ? 'not found' : o.startError.message };
  if (o.timedOut) return { code: null, ...kept, error: `timed out after ${limit} ms` };
  return { code: o.code, ...kept };
}

/** Runs a command line through /bin/sh. */
export function runCommandLine(cmdline: string, opts: ProcessOptions): Promise<ProcessOutcome> {
  return runProcess('/bin/sh', ['-c', cmdline], opts);
}

/** A command line whose combined output is wanted for a message: the last `limit` characters of it. */
export async function runCapturing(
  cmdline: string,
  opts: Omit<ProcessOptions, 'output'> & { limit: number },
): Promise<ProcessOutcome & { output: string }> {
  const { limit, ...rest } = opts;
  const output = new CapturedOutput(limit);
  const o = await runCommandLine(cmdline, { ...rest, output });
  return { ...o, output: output.combined() };
}
