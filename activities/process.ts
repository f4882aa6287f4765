import { spawn } from 'node:child_process';

export interface Captured {
  /** Exit code, or null when the program could not be started (see `error`). */
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/** Runs a short command and captures its output (for version probes and the like). */
export function capture(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Captured> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (r: Captured) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ code: null, stdout, stderr, error: `timed out after ${opts.timeoutMs ?? 30_000} ms` });
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      finish({ code: null, stdout, stderr, error: err.code === 'ENOENT' ? 'not found' : err.message }),
    );
    child.on('close', (code) => finish({ code, stdout, stderr }));
  });
}
