/**
 * Activities reach a cloud by naming a test or upload environment; the worker
 * resolves its credentials here, so no secret ever travels through Temporal.
 */
import { resolveCredentials } from '../config';
import { Cloud, connectCloud } from '../openstack';
import type { CloudAuth } from '../openstack';
import { isTransient } from './stage-failure';

/** Which environment's cloud, and where its config files are read (as the CLI read them). */
export interface CloudRef {
  kind: 'test' | 'upload';
  environment: string;
  config: ConfigLocation;
}

export interface ConfigLocation {
  cwd: string;
  imagesConfig?: string;
  testConfig?: string;
  uploadConfig?: string;
}

/** The secret values of resolved credentials: what a command given them must not echo into its output. */
export function authSecrets(auth: CloudAuth | undefined): string[] {
  return [auth?.password, auth?.applicationCredentialSecret].filter(
    (s): s is string => typeof s === 'string' && s !== '',
  );
}

/** The cloud of an upload environment. */
export function uploadCloud(environment: string, config: ConfigLocation): CloudRef {
  return { kind: 'upload', environment, config };
}

export interface CloudDeps {
  env?: NodeJS.ProcessEnv;
}

async function openCloud(ref: CloudRef, deps: CloudDeps = {}): Promise<Cloud> {
  const env = deps.env ?? process.env;
  const { auth } = resolveCredentials(ref.kind, ref.environment, { ...ref.config, env });
  return connectCloud(auth);
}

/** Opens the cloud, runs fn, and closes the connections whatever happens. */
export async function withCloud<T>(ref: CloudRef, deps: CloudDeps, fn: (cloud: Cloud) => Promise<T>): Promise<T> {
  const cloud = await openCloud(ref, deps);
  try {
    return await fn(cloud);
  } finally {
    cloud.close();
  }
}

/**
 * Runs fn again while it fails with cloud trouble (unreachable, 5xx, 409, 429),
 * backing off up to 5 s between tries (shorter than any heartbeat timeout), until `withinMs` has passed. For a cloud
 * read inside a step whose own activity retries are few because the step is
 * long (the tests): one 503 must not cost the whole test run. `beat` is called
 * before each wait, so a heartbeating activity stays alive.
 */
export async function retryTransient<T>(
  fn: () => Promise<T>,
  opts: { withinMs: number; beat?: () => void; signal?: AbortSignal },
): Promise<T> {
  const deadline = Date.now() + opts.withinMs;
  for (let wait = 500; ; wait = Math.min(wait * 2, 5_000)) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || Date.now() + wait > deadline || opts.signal?.aborted) throw err;
      opts.beat?.();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        opts.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  }
}
