/**
 * Where config files are found and how they combine. For each kind, files are
 * read from least to highest priority; an entry with a label seen before
 * replaces the earlier one, with a warning naming both files.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, LabelNotFoundError } from './errors';
import { ConfigKind, KindEntry } from './schema';
import { validateSource } from './validate-source';
import { KeyPath, YamlSource, formatKey, formatPath, locate, readYamlFile } from './yaml-source';

/** Where to look; every field has the default dibctl used. */
export interface LookupOptions {
  /** Working directory: `./<kind>.yaml` and relative paths inside configs resolve against it. */
  cwd?: string;
  /** System directory, default `/etc/dibctl` (or `$DIBCTL_SYSTEM_CONFIG_DIR`). */
  systemDir?: string;
  /** An explicit file for this kind (`--images-config` ...): used alone. */
  explicitFile?: string;
  /** Environment used for `DIBCTL_SYSTEM_CONFIG_DIR`, default process.env. */
  env?: NodeJS.ProcessEnv;
}

interface ConfigEntry<K extends ConfigKind> {
  label: string;
  /** The file that defined it, as shown to the operator. */
  file: string;
  value: KindEntry[K];
}

export interface LoadedConfig<K extends ConfigKind> {
  kind: K;
  /** Files read, in order, as shown to the operator. */
  files: string[];
  /** Labels in the order first seen; the value comes from the last file defining it. */
  entries: Map<string, ConfigEntry<K>>;
  /** One line per label redefined by a later file. */
  warnings: string[];
  /** Directory relative paths inside the configs resolve against. */
  baseDir: string;
  /** Parsed files by displayed name, to point at a key's line. */
  sources: Map<string, YamlSource>;
}

function systemConfigDir(opts: LookupOptions = {}): string {
  return opts.systemDir ?? (opts.env ?? process.env).DIBCTL_SYSTEM_CONFIG_DIR ?? '/etc/dibctl';
}

/** How a path is shown: relative to the working directory when inside it. */
export function displayPath(file: string, cwd: string): string {
  const rel = path.relative(cwd, file);
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel;
  return file;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function snippets(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return [];
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.yaml'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => path.join(dir, n))
    .filter(isFile);
}

/** The six places, least to highest priority, whether or not they exist. */
function searchLocations(kind: ConfigKind, opts: LookupOptions = {}): string[] {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const sys = systemConfigDir(opts);
  return [
    path.join(sys, `${kind}.yaml`),
    path.join(sys, `${kind}.d`, '*.yaml'),
    path.join(cwd, 'dibctl', `${kind}.yaml`),
    path.join(cwd, 'dibctl', `${kind}.d`, '*.yaml'),
    path.join(cwd, `${kind}.yaml`),
    path.join(cwd, `${kind}.d`, '*.yaml'),
  ];
}

/** The files that exist for a kind, least to highest priority (absolute paths). */
export function configFiles(kind: ConfigKind, opts: LookupOptions = {}): string[] {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  if (opts.explicitFile) {
    const file = path.resolve(cwd, opts.explicitFile);
    if (!isFile(file))
      throw new ConfigError(`${opts.explicitFile}: ${existsSync(file) ? 'is not a file' : 'no such config file'}`);
    return [file];
  }
  const out: string[] = [];
  for (const loc of searchLocations(kind, opts)) {
    if (loc.endsWith('*.yaml')) out.push(...snippets(path.dirname(loc)));
    else if (isFile(loc)) out.push(loc);
  }
  return out;
}

/** Reads, validates and combines every file of a kind. Any invalid file → ConfigError (exit 10). */
export function loadConfig<K extends ConfigKind>(kind: K, opts: LookupOptions = {}): LoadedConfig<K> {
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const files = configFiles(kind, opts);
  if (!files.length) {
    const where = searchLocations(kind, opts).map((p) => displayPath(p, cwd));
    throw new ConfigError(`No ${kind} config found: looked for ${where.join(', ')} (or pass --${kind}-config FILE)`);
  }
  const entries = new Map<string, ConfigEntry<K>>();
  const warnings: string[] = [];
  const problems: string[] = [];
  const shown: string[] = [];
  const sources = new Map<string, YamlSource>();
  for (const file of files) {
    const display = displayPath(file, cwd);
    shown.push(display);
    try {
      const source = readYamlFile(file, display);
      sources.set(display, source);
      const validated = validateSource(kind, source);
      for (const { label, value } of validated.entries) {
        const earlier = entries.get(label);
        if (earlier) {
          warnings.push(
            `Warning: ${kind} label '${formatKey(label)}' from ${earlier.file} is replaced by the one in ${display}`,
          );
        }
        entries.set(label, { label, file: display, value });
      }
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { kind, files: shown, entries, warnings, baseDir: cwd, sources };
}

const WHAT: Record<ConfigKind, string> = { images: 'image', test: 'test environment', upload: 'upload environment' };

/** The entry for a label, or LabelNotFoundError (exit 11) listing the labels that exist. */
export function entryOf<K extends ConfigKind>(config: LoadedConfig<K>, label: string): ConfigEntry<K> {
  const entry = config.entries.get(label);
  if (!entry)
    throw new LabelNotFoundError(
      WHAT[config.kind],
      formatKey(label),
      config.files,
      [...config.entries.keys()].map(formatKey),
    );
  return entry;
}

/** `file:line:col: label.key.path` of a key inside a loaded entry, for messages. */
export function whereIs(config: LoadedConfig<ConfigKind>, label: string, keyPath: KeyPath): string {
  const entry = config.entries.get(label);
  const src = entry && config.sources.get(entry.file);
  const full = [label, ...keyPath];
  if (!entry || !src) return `${entry?.file ?? config.files.join(', ')}: ${formatPath(full)}`;
  const pos = locate(src, full);
  return `${entry.file}:${pos.line}:${pos.col}: ${formatPath(full)}`;
}
