/** Runs the built `dibctl` binary as an operator would, capturing everything. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const DIBCTL_BIN = path.resolve(__dirname, '..', '..', 'bin', 'dibctl.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runDibctl(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
    const child = spawn(process.execPath, [DIBCTL_BIN, ...args], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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
