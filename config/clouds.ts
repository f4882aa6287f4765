/**
 * clouds.yaml and secure.yaml, found where openstacksdk looks for them:
 * `$OS_CLIENT_CONFIG_FILE`, then the working directory, then the user's
 * config directory (`$XDG_CONFIG_HOME/openstack`, default `~/.config/openstack`),
 * then `/etc/openstack`. The first clouds file found is used; secure.yaml
 * (same places, `$OS_CLIENT_SECURE_FILE` first) is merged over it.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, CredentialsError } from './errors';
import { displayPath } from './files';
import { readYamlFile } from './yaml-source';

export interface CloudsOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Home directory, default os.homedir(). */
  home?: string;
  /** System directory, default `/etc/openstack`. */
  systemDir?: string;
}

const EXTENSIONS = ['yaml', 'yml', 'json'];

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Directories searched, in order. */
function cloudsDirectories(opts: CloudsOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const home = opts.home ?? env.HOME ?? os.homedir();
  const userDir = env.XDG_CONFIG_HOME
    ? path.join(env.XDG_CONFIG_HOME, 'openstack')
    : path.join(home, '.config', 'openstack');
  return [cwd, userDir, opts.systemDir ?? '/etc/openstack'];
}

function firstFile(base: 'clouds' | 'secure', override: string | undefined, opts: CloudsOptions): string | undefined {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  if (override) {
    const f = path.resolve(cwd, override);
    if (isFile(f)) return f;
  }
  for (const dir of cloudsDirectories(opts)) {
    for (const ext of EXTENSIONS) {
      const f = path.join(dir, `${base}.${ext}`);
      if (isFile(f)) return f;
    }
  }
  return undefined;
}

function findCloudsFile(opts: CloudsOptions = {}): string | undefined {
  return firstFile('clouds', (opts.env ?? process.env).OS_CLIENT_CONFIG_FILE, opts);
}

function findSecureFile(opts: CloudsOptions = {}): string | undefined {
  return firstFile('secure', (opts.env ?? process.env).OS_CLIENT_SECURE_FILE, opts);
}

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge of mappings; `over` wins. */
function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k] as Plain, v) : v;
  return out;
}

function cloudsOf(file: string, cwd: string): Plain {
  const display = displayPath(file, cwd);
  const src = readYamlFile(file, display);
  if (!isPlain(src.data)) throw new ConfigError(`${display}:1:1: must be a mapping with a 'clouds' key`);
  const clouds = src.data.clouds;
  if (clouds === undefined) return {};
  if (!isPlain(clouds)) throw new ConfigError(`${display}:1:1: clouds: must be a mapping of cloud names`);
  return clouds;
}

interface CloudEntry {
  name: string;
  /** The clouds file, as shown to the operator. */
  file: string;
  secureFile?: string;
  /** The cloud's settings with secure.yaml merged in. Holds secrets: never print it. */
  settings: Plain;
}

/** The named cloud from clouds.yaml (+ secure.yaml). Missing file or cloud → CredentialsError (exit 12). */
export function loadCloud(name: string, opts: CloudsOptions = {}): CloudEntry {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const file = findCloudsFile(opts);
  if (!file) {
    const where = cloudsDirectories(opts).map((d) => path.join(d, 'clouds.yaml'));
    throw new CredentialsError(
      `Cloud '${name}' is asked for, but no clouds.yaml was found (looked in $OS_CLIENT_CONFIG_FILE, ${where.join(', ')})`,
      `write cloud '${name}' into a clouds.yaml in one of those places, or set OS_CLIENT_CONFIG_FILE to yours`,
    );
  }
  const clouds = cloudsOf(file, cwd);
  const secureFile = findSecureFile(opts);
  const secure = secureFile ? cloudsOf(secureFile, cwd) : {};
  const cloud = clouds[name];
  if (!isPlain(cloud)) {
    const known = Object.keys(clouds);
    throw new CredentialsError(
      `Cloud '${name}' is not in ${displayPath(file, cwd)} (${known.length ? `clouds: ${known.join(', ')}` : 'it defines no clouds'})`,
      `${known.length ? 'use one of its clouds, or ' : ''}add '${name}' under clouds: in ${displayPath(file, cwd)}`,
    );
  }
  const extra = secure[name];
  return {
    name,
    file: displayPath(file, cwd),
    ...(secureFile && isPlain(extra) ? { secureFile: displayPath(secureFile, cwd) } : {}),
    settings: isPlain(extra) ? deepMerge(cloud, extra) : cloud,
  };
}
