/**
 * Where the Temporal server is: the standard TEMPORAL_* variables and
 * envconfig profiles (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
 * TEMPORAL_TLS*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE).
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { DibctlError, ExitCode } from '../errors';

export const LOCAL_ADDRESS = '127.0.0.1:7233';

/** Where an unconfigured dibctl looks for a local server (`dibctl server`'s default). */
export function localAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DIBCTL_LOCAL_TEMPORAL || LOCAL_ADDRESS;
}

export interface TemporalSettings {
  /** Undefined when nothing is configured. */
  address?: string;
  namespace: string;
  connectionOptions: NativeConnectionOptions;
}

export function temporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  let loaded;
  try {
    const overrideEnvVars = Object.fromEntries(
      Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined),
    );
    loaded = loadClientConnectConfig({ overrideEnvVars });
  } catch (err) {
    throw new DibctlError(`Temporal connection settings are invalid: ${(err as Error).message}`, ExitCode.GENERIC);
  }
  const options = loaded.connectionOptions;
  return {
    address: options.address || undefined,
    namespace: loaded.namespace || 'default',
    connectionOptions: options,
  };
}
