/**
 * The deployment settings docker-compose.yml holds, read from the file itself so
 * the cluster tier runs what the compose file deploys: the Temporal server and
 * admin-tools versions, the database plugin and user, the namespace the worker
 * uses, and the search attributes its setup step registers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');
export const SERVER_CONFIG = path.join(REPO_ROOT, 'deploy', 'temporal-server.yaml');
export const DYNAMIC_CONFIG = path.join(REPO_ROOT, 'deploy', 'temporal-dynamicconfig.yaml');

interface Service {
  image?: string;
  environment?: Record<string, string>;
  command?: string[] | string;
}

export interface ComposeSettings {
  serverImage: string;
  serverVersion: string;
  adminToolsVersion: string;
  /** The `temporal` container's environment (values with ${...} left as written). */
  serverEnv: Record<string, string>;
  /** The namespace the dibctl worker uses. */
  namespace: string;
  /** The setup step's shell command, with compose's `$$` escapes resolved. */
  setupCommand: string;
  /** name → type, as the setup step registers them. */
  searchAttributes: Record<string, string>;
}

function service(services: Record<string, Service>, name: string): Service {
  const s = services[name];
  if (!s) throw new Error(`${COMPOSE_FILE}: no service '${name}'`);
  return s;
}

function tag(image: string | undefined, what: string): string {
  const m = /:([^:/]+)$/.exec(image ?? '');
  if (!m) throw new Error(`${COMPOSE_FILE}: the ${what} image '${image}' names no version tag`);
  return m[1];
}

export function composeSettings(file = COMPOSE_FILE): ComposeSettings {
  const doc = parse(fs.readFileSync(file, 'utf8')) as { services: Record<string, Service> };
  const temporal = service(doc.services, 'temporal');
  const setup = service(doc.services, 'temporal-setup');
  const worker = service(doc.services, 'dibctl-worker');
  const command = Array.isArray(setup.command) ? setup.command.join(' ') : (setup.command ?? '');
  const setupCommand = command.replace(/\$\$/g, '$');
  const list = /for sa in ([^;]+);/.exec(setupCommand);
  if (!list)
    throw new Error(`${COMPOSE_FILE}: the temporal-setup command lists no search attributes ("for sa in ...;")`);
  const searchAttributes: Record<string, string> = {};
  for (const pair of list[1].trim().split(/\s+/)) {
    const [name, type] = pair.split('=');
    searchAttributes[name] = type;
  }
  const namespace = worker.environment?.TEMPORAL_NAMESPACE;
  if (!namespace) throw new Error(`${COMPOSE_FILE}: the dibctl-worker service sets no TEMPORAL_NAMESPACE`);
  return {
    serverImage: temporal.image ?? '',
    serverVersion: tag(temporal.image, 'temporal'),
    adminToolsVersion: tag(setup.image, 'temporal-setup'),
    serverEnv: { ...(temporal.environment ?? {}) },
    namespace,
    setupCommand,
    searchAttributes,
  };
}
