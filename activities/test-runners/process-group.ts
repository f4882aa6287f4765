/**
 * Runs one program in a process group of its own, streams its output line by
 * line, keeps all of it in a log file and the end of it in memory, and enforces
 * a time limit by killing the whole group (a test's `sleep` or `ssh` children
 * included). Leftover members of the group are killed when the program ends.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const TAIL_BYTES = 8 * 1024;
const KILL_GRACE_MS = 2_000;

/** Collects output: live lines to a callback, everything to a file, the end in memory. */
export class OutputLog {
  private tailText = '';
  private partial = new Map<string, string>();
  private readonly fd: number;

  constructor(
    readonly file: string,
    private readonly onOutput?: (line: string) => void,
  ) {
    this.fd = fs.openSync(file, 'a', 0o600);
  }

  /** Text from a named stream (stdout, stderr, ...). */
  write(chunk: string | Buffer, stream = 'out'): void {
    const text = chunk.toString();
    if (!text) return;
    fs.writeSync(this.fd, text);
    this.tailText = (this.tailText + text).slice(-TAIL_BYTES);
    const pending = (this.partial.get(stream) ?? '') + text;
    const lines = pending.split('\n');
    this.partial.set(stream, lines.pop() ?? '');
    for (const line of lines) this.emit(line);
  }

  /** A line of dibctl's own (what is run, why it stopped). */
  note(line: string): void {
    this.write(`${line}\n`, 'note');
  }

  private emit(line: string): void {
    try {
      this.onOutput?.(line.replace(/\r$/, ''));
    } catch {
      // a failing listener must not break the test run
    }
  }

  tail(): string {
    return this.tailText;
  }

  close(): void {
    for (const rest of this.partial.values()) if (rest) this.emit(rest);
    this.partial.clear();
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

export interface GroupRunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds; 0 or undefined: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  log: OutputLog;
  /** Sent to stdin, then stdin is closed (default: closed at once). */
  input?: string | Buffer;
}

export interface GroupRunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The program could not be started (e.g. ENOENT, EACCES). */
  error?: string;
  durationMs: number;
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // group already gone
  }
}

/** Whether any process of the group is still alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export function runInGroup(cmd: string, args: string[], opts: GroupRunOptions): Promise<GroupRunOutcome> {
  const started = Date.now();
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

    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(limitTimer);
      clearTimeout(killTimer);
      clearTimeout(closeTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pid) killGroup(pid, 'SIGKILL');
      resolve({
        code: exitCode,
        signal: exitSignal,
        timedOut,
        aborted,
        ...(error ? { error } : {}),
        durationMs: Date.now() - started,
      });
    };

    const stop = () => {
      if (!pid) return;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const onAbort = () => {
      aborted = true;
      opts.log.note('dibctl: cancelled, stopping the test');
      stop();
    };

    child.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ENOENT' ? `${cmd}: not found` : `${cmd}: ${err.message}`));
    child.stdout.on('data', (d: Buffer) => opts.log.write(d, 'stdout'));
    child.stderr.on('data', (d: Buffer) => opts.log.write(d, 'stderr'));
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
        opts.log.note(`dibctl: time limit of ${Math.round(opts.timeoutMs! / 1000)} s reached, killing the test's process group`);
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
export function failureReason(o: GroupRunOutcome, limitSeconds?: number): string | undefined {
  if (o.error) return o.error;
  if (o.timedOut) return `time limit of ${limitSeconds ?? '?'} s exceeded; the process group was killed`;
  if (o.aborted) return 'cancelled; the process group was killed';
  if (o.code === 0) return undefined;
  if (o.code === null) return `killed by ${o.signal ?? 'a signal'}`;
  return `exit code ${o.code}`;
}
