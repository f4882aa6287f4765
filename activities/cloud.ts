/**
 * Activities reach a cloud by naming a test or upload environment; the worker
 * resolves its credentials here, so no secret ever travels through Temporal.
 */
import os from 'node:os';
import { CredentialsError, resolveCredentials } from '../config';
import { Cloud, connectCloud, TokenCache } from '../openstack';
import type { CloudAuth } from '../openstack';
import { isTransient } from './stage-failure';
import { CloudTarget, targetOf } from './cloud-target';

export { targetOf };
export type { CloudTarget };

/** Which environment's cloud, and where its config files are read (as the CLI read them). */
export interface CloudRef {
  kind: 'test' | 'upload';
  environment: string;
  config: ConfigLocation;
  /** Where the command that started the workflow resolved it (absent in workflows started by earlier versions). */
  target?: CloudTarget;
  /** The image label the step is about: its glance.endpoint applies when the environment sets none. */
  image?: string;
}

/** An upload environment as workflows name it to activities. */
interface EnvironmentRef {
  environment: string;
  config: ConfigLocation;
  target?: CloudTarget;
}

function describeTarget(t: CloudTarget): string {
  const project = t.project
    ? `project ${t.project}${t.projectDomain ? ` (domain ${t.projectDomain})` : ''}`
    : 'no project';
  return `${t.authUrl}, region ${t.region ?? '(any)'}, ${project}`;
}

/**
 * Refuses credentials that lead elsewhere than the workflow's target: a worker
 * whose config files or OS_* variables differ from those of the command that
 * started the workflow must not act on another cloud or project.
 */
export function checkTarget(ref: Pick<CloudRef, 'kind' | 'environment' | 'target'>, auth: CloudAuth): void {
  if (!ref.target) return;
  const here = targetOf(auth);
  const keys: Array<keyof CloudTarget> = ['authUrl', 'region', 'project', 'projectDomain'];
  const differ = keys.filter((k) => (here[k] ?? '') !== (ref.target![k] ?? ''));
  if (!differ.length) return;
  throw new CredentialsError(
    `The ${ref.kind} environment '${ref.environment}' resolves on worker host ${os.hostname()} to ${describeTarget(here)}, ` +
      `but the workflow was started for ${describeTarget(ref.target)} (${differ.join(', ')} differ): ` +
      `nothing was done; give this worker the same config files and OS_* variables as the command`,
  );
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
export function uploadCloud(ref: EnvironmentRef): CloudRef {
  return {
    kind: 'upload',
    environment: ref.environment,
    config: ref.config,
    ...(ref.target ? { target: ref.target } : {}),
  };
}

export interface CloudDeps {
  env?: NodeJS.ProcessEnv;
  /** Receives one line per OpenStack request and answer, secrets redacted (`--debug`). */
  debug?: (line: string) => void;
}

/**
 * Keystone tokens this worker's steps share: a lifecycle's steps each open the
 * cloud anew, and authenticate once per set of credentials instead of once each.
 */
export const workerTokens = new TokenCache();

async function openCloud(ref: CloudRef, deps: CloudDeps = {}): Promise<Cloud> {
  const env = deps.env ?? process.env;
  const { auth } = resolveCredentials(ref.kind, ref.environment, {
    ...ref.config,
    env,
    ...(ref.image ? { image: ref.image } : {}),
  });
  checkTarget(ref, auth);
  return connectCloud(auth, { debug: deps.debug, tokenCache: workerTokens });
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
