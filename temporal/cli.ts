/**
 * Finding (and if need be building) the Temporal CLI, whose `server start-dev`
 * is the real Temporal server used by tests and the embedded default.
 *
 * Order: $TEMPORAL_CLI → `temporal` on PATH → the cache under the user's cache
 * directory → `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` into
 * that cache. Without Go the caller can let @temporalio/testing download the
 * CLI (only where the internet is reachable).
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MissingToolError } from '../errors';

/** The newest tag that `go install` can build (later tags carry a go.mod replace directive). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export type CliSource = 'env' | 'path' | 'cache' | 'built';

export interface LocatedCli {
  path: string;
  source: CliSource;
}

export interface FindCliOptions {
  env?: NodeJS.ProcessEnv;
  /** Build with Go when nothing is found (default true). */
  build?: boolean;
  /** Progress lines for the operator (the Go build takes minutes). */
  log?: (line: string) => void;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DIBCTL_CACHE_DIR) return env.DIBCTL_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'dibctl');
}

export function cachedCliPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), `temporal-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function whichOnPath(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Looks without building. */
export async function locateTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<LocatedCli | undefined> {
  if (env.TEMPORAL_CLI) {
    if (await isExecutable(env.TEMPORAL_CLI)) return { path: env.TEMPORAL_CLI, source: 'env' };
    throw new MissingToolError(
      'temporal',
      `TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file`,
      'point TEMPORAL_CLI at the temporal binary, or unset it to use the one on PATH or in the cache',
    );
  }
  const onPath = await whichOnPath('temporal', env);
  if (onPath) return { path: onPath, source: 'path' };
  const cached = cachedCliPath(env);
  if (await isExecutable(cached)) return { path: cached, source: 'cache' };
  return undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) log(`  ${line}`);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/**
 * Builds the CLI with `go install` into a temporary directory next to the cache
 * and renames it into place, so concurrent builders never see half a binary.
 */
export async function buildTemporalCli(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = () => undefined,
): Promise<string> {
  const go = await whichOnPath('go', env);
  if (!go) {
    throw new MissingToolError(
      'temporal',
      'not on PATH, not in the cache, and Go is not installed to build it',
      'install Go so dibctl builds it once, or put the temporal binary on PATH, or set TEMPORAL_ADDRESS to a running server',
    );
  }
  const target = cachedCliPath(env);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const staging = await fs.mkdtemp(path.join(path.dirname(target), '.build-'));
  const spec = `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`;
  log(`Building the Temporal CLI: go install ${spec} (this takes several minutes, once)`);
  try {
    const code = await run(go, ['install', spec], { ...env, GOBIN: staging }, log);
    if (code !== 0)
      throw new MissingToolError(
        'temporal',
        `go install ${spec} failed with exit code ${code}`,
        'read the go output above (network, proxy, Go version), or put the temporal binary on PATH',
      );
    await fs.rename(path.join(staging, 'temporal'), target);
    log(`Temporal CLI cached at ${target}`);
    return target;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Locates the CLI, building it into the cache when allowed and needed. */
export async function findTemporalCli(opts: FindCliOptions = {}): Promise<LocatedCli | undefined> {
  const env = opts.env ?? process.env;
  const found = await locateTemporalCli(env);
  if (found) return found;
  if (opts.build === false) return undefined;
  if (!(await whichOnPath('go', env))) return undefined;
  return { path: await buildTemporalCli(env, opts.log), source: 'built' };
}
