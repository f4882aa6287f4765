/**
 * Validates one parsed file against its kind's schema and turns each zod
 * issue into `file:line:col: key.path: message (got X)`.
 */
import type { z } from 'zod';
import { ConfigError } from './errors';
import { ALL_KEYSTONE_ALIASES } from './keystone-keys';
import { ConfigKind, ENTRY_SCHEMAS, KindEntry } from './schema';
import { KeyPath, YamlSource, formatPath, locate } from './yaml-source';

function valueAt(data: unknown, path: KeyPath): unknown {
  let v: unknown = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** Values under a keystone section are never echoed: they may be secrets. */
function isSecretPath(path: KeyPath): boolean {
  return path.some((seg) => typeof seg === 'string' && seg.toLowerCase() === 'keystone');
}

/** How a value is shown after "got": short, and only its kind where it could be a secret. */
function describeValue(value: unknown, secret = false): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (secret) return typeof value === 'string' ? 'a string' : `a ${typeof value}`;
  if (typeof value === 'string') {
    const s = value.length > 40 ? value.slice(0, 37) + '...' : value;
    return JSON.stringify(s);
  }
  return String(value);
}

/** A message that quotes a value (`duplicate entry 'x'`) kept on one line and short. */
function oneLine(message: string): string {
  const flat = message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** `min-ram` → `min_ram`: the closest known key, when one is close. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  // a key far longer than any known one has no close match (and would make the distance costly)
  if (key.length > 64) return undefined;
  const norm = key.toLowerCase().replace(/-/g, '_');
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    const score = k === norm ? 0 : levenshtein(norm, k);
    if (score < bestScore) {
      best = k;
      bestScore = score;
    }
  }
  return best !== undefined && bestScore <= Math.max(1, Math.floor(best.length / 4)) ? best : undefined;
}

function knownKeysFor(schema: z.ZodType, path: KeyPath, isKeystone: boolean): readonly string[] {
  if (isKeystone) return ALL_KEYSTONE_ALIASES;
  // walk the schema along the path to the object that rejected the key
  let s: unknown = schema;
  for (const seg of path) {
    s = unwrap(s);
    const def = (s as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown } }).def;
    if (def?.type === 'object' && typeof seg === 'string' && def.shape) s = def.shape[seg];
    else if (def?.type === 'array' && typeof seg === 'number') s = def.element;
    else return [];
  }
  s = unwrap(s);
  const shape = (s as { def?: { shape?: Record<string, unknown> } }).def?.shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(s: unknown): unknown {
  let cur = s as { def?: { type?: string; innerType?: unknown; in?: unknown } } | undefined;
  while (
    cur?.def &&
    (cur.def.type === 'optional' ||
      cur.def.type === 'default' ||
      cur.def.type === 'nullable' ||
      cur.def.type === 'pipe')
  ) {
    cur = (cur.def.innerType ?? cur.def.in) as typeof cur;
  }
  return cur;
}

interface ValidatedFile<K extends ConfigKind> {
  source: YamlSource;
  entries: Array<{ label: string; value: KindEntry[K] }>;
}

/** Problems of one file, each as one line; empty when the file is valid. */
function problemsOf<K extends ConfigKind>(
  kind: K,
  src: YamlSource,
): { problems: string[]; entries: Array<{ label: string; value: KindEntry[K] }> } {
  const at = (path: KeyPath, atKey = false) => {
    const pos = locate(src, path, atKey);
    return `${src.display}:${pos.line}:${pos.col}`;
  };
  const data = src.data;
  if (data === null || data === undefined || typeof data !== 'object' || Array.isArray(data)) {
    const got = data === undefined || data === null ? 'an empty document' : describeValue(data);
    return {
      problems: [
        `${at([])}: must be a mapping of labels to ${kind === 'images' ? 'images' : 'environments'} (got ${got})`,
      ],
      entries: [],
    };
  }
  const schema = ENTRY_SCHEMAS[kind] as unknown as z.ZodType<KindEntry[K]>;
  const problems: string[] = [];
  const entries: Array<{ label: string; value: KindEntry[K] }> = [];
  for (const [label, value] of Object.entries(data as Record<string, unknown>)) {
    const result = schema.safeParse(value);
    if (result.success) {
      entries.push({ label, value: result.data });
      continue;
    }
    for (const issue of result.error.issues) {
      const path: (string | number)[] = [label, ...(issue.path as (string | number)[])];
      const secret = isSecretPath(path);
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const known = knownKeysFor(schema, issue.path as KeyPath, false);
          const hint = suggestKey(key, known);
          problems.push(
            `${at([...path, key], true)}: ${formatPath([...path, key])}: unknown key${hint ? ` (did you mean ${hint}?)` : ''}`,
          );
        }
        continue;
      }
      if ((issue as { params?: { unknownKey?: boolean } }).params?.unknownKey) {
        const key = String(path[path.length - 1]);
        const hint = suggestKey(key, ALL_KEYSTONE_ALIASES);
        problems.push(`${at(path, true)}: ${formatPath(path)}: unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
        continue;
      }
      const got = valueAt(data, path);
      if (got === undefined && issue.code === 'invalid_type') {
        problems.push(`${at(path)}: ${formatPath(path)}: is required`);
        continue;
      }
      const showGot = got !== undefined && (issue.code !== 'custom' || got === null || typeof got !== 'object');
      problems.push(
        `${at(path)}: ${formatPath(path)}: ${oneLine(issue.message)}${showGot ? ` (got ${describeValue(got, secret)})` : ''}`,
      );
    }
  }
  return { problems, entries };
}

/** Validates one parsed file; throws a ConfigError listing every problem. */
export function validateSource<K extends ConfigKind>(kind: K, src: YamlSource): ValidatedFile<K> {
  const { problems, entries } = problemsOf(kind, src);
  if (problems.length) throw new ConfigError(problems);
  return { source: src, entries };
}
