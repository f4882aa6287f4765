/**
 * Activities reach a cloud by naming a test or upload environment; the worker
 * resolves its credentials here, so no secret ever travels through Temporal.
 */
import { resolveCredentials } from '../config';
import { Cloud, connectCloud } from '../openstack';

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

export interface CloudDeps {
  env?: NodeJS.ProcessEnv;
}

export async function openCloud(ref: CloudRef, deps: CloudDeps = {}): Promise<Cloud> {
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
