/** Runs the built `dibctl` binary as an operator would, capturing everything. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const DIBCTL_BIN = path.resolve(__dirname, '..', '..', 'bin', 'dibctl.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runDibctl(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, [DIBCTL_BIN, ...args], {
      env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** An environment with no Temporal settings from the caller's shell. */
export function cleanTemporalEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of Object.keys(process.env)) if (k.startsWith('TEMPORAL_') && k !== 'TEMPORAL_CLI') env[k] = undefined;
  return { ...env, ...extra };
}

/**
 * Runs dibctl in a pseudo-terminal (script(1)), as an operator at a terminal:
 * waits until the output matches `ready`, types `typed`, and returns the exit
 * code and everything the terminal showed.
 */
export async function runDibctlInTerminal(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; ready: RegExp; typed: string; timeoutMs?: number },
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, DIBCTL_BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const env = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    cwd: opts.cwd,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const limit = opts.timeoutMs ?? 60_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), 2 * limit);
  try {
    const deadline = Date.now() + limit;
    while (!opts.ready.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`the terminal never showed ${opts.ready}:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // the remote shell reads its terminal only once it runs
    await new Promise((r) => setTimeout(r, 1_500));
    child.stdin.write(opts.typed);
    return { code: await exited, output };
  } finally {
    clearTimeout(timer);
  }
}
