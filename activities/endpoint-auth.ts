/**
 * The credentials of a transfer's end, as the worker resolves them; apart from
 * the transfer itself so that the CLI can check them before anything starts.
 */
import { buildCloudAuth, resolveCredentials } from '../config';
import type { CloudAuth } from '../openstack';
import type { ConfigLocation } from './cloud';

/** A cloud named by an upload environment label or a clouds.yaml cloud name. */
export type CloudEndpoint = { environment: string; config: ConfigLocation } | { cloud: string; config: ConfigLocation };

function withoutOsVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('OS_')));
}

/** Where an end's credentials lead; a missing or incomplete cloud is a CredentialsError (exit 12). */
export function authOf(endpoint: CloudEndpoint, env: NodeJS.ProcessEnv): CloudAuth {
  if ('environment' in endpoint)
    return resolveCredentials('upload', endpoint.environment, { ...endpoint.config, env }).auth;
  // a clouds.yaml cloud alone: OS_* variables would point both ends at the same cloud
  return buildCloudAuth({
    what: `cloud '${endpoint.cloud}'`,
    section: { cloud: endpoint.cloud },
    env: withoutOsVariables(env),
    clouds: { cwd: endpoint.config.cwd },
  }).auth;
}
