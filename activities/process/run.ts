/**
 * Runs one program in a process group of its own (a detached spawn) and
 * enforces a time limit and cancellation by killing the whole group: SIGTERM,
 * then SIGKILL after a grace period, so a compound command's children (a
 * backgrounded `sleep`, an `ssh`) go too. Members left behind when the program
 * ends are killed as well. Output goes to a sink, scrubbed of known secrets.
 */
import { spawn } from 'node:child_process';
import { ScrubbingSink, environmentSecrets, knownSecrets } from './scrub';
import type { OutputSink } from './sink';

const KILL_GRACE_MS = 2_000;

export interface ProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds; 0 or undefined: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Receives stdout and stderr (and the runner's notes when it has `note`). */
  output: OutputSink;
  /** Strings removed from the output before the sink sees it (passwords, credential secrets). */
  secrets?: Iterable<string | undefined>;
  /** Sent to stdin, then stdin is closed (default: closed at once). */
  input?: string | Buffer;
  /** Between SIGTERM and SIGKILL when stopping the group (default KILL_GRACE_MS; 0: SIGKILL at once). */
  killGraceMs?: number;
}

export interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The program could not be started (e.g. `CMD: not found`). */
  error?: string;
  /** The error of a failed start, as Node reported it. */
  startError?: NodeJS.ErrnoException;
  /** Process (and group) id of the program, when it started. */
  pid?: number;
  durationMs: number;
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // group already gone
  }
}

export function runProcess(cmd: string, args: string[], opts: ProcessOptions): Promise<ProcessOutcome> {
  const started = Date.now();
  const grace = opts.killGraceMs ?? KILL_GRACE_MS;
  // what the caller names, and whatever secret-named variable the process or this worker holds
  const secrets = knownSecrets([...(opts.secrets ?? []), ...environmentSecrets(opts.env, process.env)]);
  const scrubber = secrets.length ? new ScrubbingSink(opts.output, secrets) : undefined;
  const out: OutputSink = scrubber ?? opts.output;
  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let limitTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;

    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const pid = child.pid;

    const finish = (startError?: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(limitTimer);
      clearTimeout(killTimer);
      clearTimeout(closeTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pid) killGroup(pid, 'SIGKILL');
      scrubber?.flush();
      const error = startError
        ? startError.code === 'ENOENT'
          ? `${cmd}: not found`
          : `${cmd}: ${startError.message}`
        : undefined;
      resolve({
        code: exitCode,
        signal: exitSignal,
        timedOut,
        aborted,
        ...(error ? { error, startError } : {}),
        ...(pid ? { pid } : {}),
        durationMs: Date.now() - started,
      });
    };

    const stop = () => {
      if (!pid) return;
      if (grace <= 0) return killGroup(pid, 'SIGKILL');
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), grace);
    };
    const onAbort = () => {
      aborted = true;
      out.note?.('dibctl: cancelled, stopping the test');
      stop();
    };

    child.on('error', (err: NodeJS.ErrnoException) => finish(err));
    child.stdout.on('data', (d: Buffer) => out.write(d, 'stdout'));
    child.stderr.on('data', (d: Buffer) => out.write(d, 'stderr'));
    child.stdin.on('error', () => undefined);
    child.on('exit', (code, sig) => {
      exitCode = code;
      exitSignal = sig;
      // members left behind (a backgrounded sleep) would keep the pipes open
      if (pid) killGroup(pid, 'SIGKILL');
      closeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, KILL_GRACE_MS);
    });
    child.on('close', () => finish());

    if (opts.timeoutMs && opts.timeoutMs > 0) {
      limitTimer = setTimeout(() => {
        timedOut = true;
        out.note?.(
          `dibctl: time limit of ${Math.round(opts.timeoutMs! / 1000)} s reached, killing the test's process group`,
        );
        stop();
      }, opts.timeoutMs);
    }
    if (opts.signal) {
      if (opts.signal.aborted) onAbort();
      else opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    child.stdin.end(opts.input ?? '');
  });
}

/** One line saying why a run did not pass, or undefined when it exited 0. */
export function failureReason(o: ProcessOutcome, limitSeconds?: number): string | undefined {
  if (o.error) return o.error;
  if (o.timedOut) return `time limit of ${limitSeconds ?? '?'} s exceeded; the process group was killed`;
  if (o.aborted) return 'cancelled; the process group was killed';
  if (o.code === 0) return undefined;
  if (o.code === null) return `killed by ${o.signal ?? 'a signal'}`;
  return `exit code ${o.code}`;
}
