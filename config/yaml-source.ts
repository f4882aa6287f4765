/**
 * Reading YAML the way dibctl's users wrote it (YAML 1.1, as PyYAML reads it:
 * `True`, `yes`, merge keys) while keeping every node's position, so that an
 * error can name the file, line and column of the key it is about.
 */
import { readFileSync } from 'node:fs';
import { Document, LineCounter, Node, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import { ConfigError } from './errors';

export type KeyPath = ReadonlyArray<string | number>;

export interface YamlSource {
  /** The file as shown to the operator (relative to the working directory when inside it). */
  display: string;
  /** Absolute path. */
  file: string;
  /** The plain data (mappings, lists, scalars). */
  data: unknown;
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

interface Position {
  line: number;
  col: number;
}

const MAX_KEY_SHOWN = 64;

/**
 * A key as written in a message: at most 64 characters, and quoted with its
 * control characters escaped when it has any, so a problem stays on one line.
 */
export function formatKey(key: string): string {
  const short = key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN - 3)}...` : key;
  return /[\u0000-\u001f\u007f]/.test(short) ? JSON.stringify(short) : short;
}

/** `a.b[2].c`: how a key path is written in messages. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${formatKey(seg)}` : formatKey(seg);
  }
  return out;
}

function keyOf(node: unknown): string | undefined {
  if (isScalar(node)) return String(node.value);
  return undefined;
}

/** Reports keys repeated inside one mapping (YAML forbids them, PyYAML silently kept the last). */
function duplicateKeys(src: Omit<YamlSource, 'data'>): string[] {
  const problems: string[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const key = keyOf(pair.key);
        if (key === undefined) continue;
        const here = rangeStart(pair.key as Node, src);
        const first = seen.get(key);
        if (first !== undefined) {
          problems.push(
            `${src.display}:${here.line}:${here.col}: ${formatPath([...path, key])}: duplicate key (first defined on line ${first})`,
          );
        } else {
          seen.set(key, here.line);
        }
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...path, i]));
    }
  };
  walk(src.doc.contents, []);
  return problems;
}

function rangeStart(node: Node | null | undefined, src: Pick<YamlSource, 'lineCounter'>): Position {
  const offset = node?.range?.[0] ?? 0;
  const pos = src.lineCounter.linePos(offset);
  return { line: pos.line, col: pos.col };
}

/**
 * A message of the YAML library without the text it sometimes quotes from
 * the file (`Unexpected scalar token in YAML stream: "..."`): that text may be
 * a password of a keystone section, and the line and column already say where.
 */
function withoutSource(message: string): string {
  return message
    .split('\n')[0]
    .replace(/: ".*"$/, '')
    .replace(
      /^(Block scalar header includes extra characters|Not a valid tag|Could not resolve tag|Unresolved tag|Unresolved plain scalar|Ordered maps must not include duplicate keys): .*$/,
      '$1',
    )
    .replace(/^(Invalid escape sequence|Unsupported YAML version|Unknown directive) .*$/, '$1')
    .replace(/^The .* tag has no suffix$/, 'A tag has no suffix')
    .replace(/^Verbatim tags aren't resolved, so .* is invalid\.$/, "Verbatim tags aren't resolved");
}

/** Deeper than any config needs; deeper documents would exhaust the stack of the code that walks them. */
const MAX_DEPTH = 64;

/** The first collection nested deeper than MAX_DEPTH, found without recursion. */
function tooDeep(root: unknown): Node | undefined {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth > MAX_DEPTH) return node;
    for (const item of node.items) {
      if (isPair(item)) stack.push([item.key, depth + 1], [item.value, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/** Parses YAML text; syntax errors and duplicate keys become a ConfigError naming file, line and column. */
export function parseYaml(text: string, file: string, display: string): YamlSource {
  const lineCounter = new LineCounter();
  // logLevel 'error': the library would print odd constructs (a list as a key) as Node warnings
  const doc = parseDocument(text, {
    lineCounter,
    version: '1.1',
    merge: true,
    uniqueKeys: false,
    prettyErrors: false,
    logLevel: 'error',
  });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const what = /call stack/i.test(e.message)
          ? `nested too deeply (at most ${MAX_DEPTH} levels)`
          : withoutSource(e.message);
        return `${display}:${pos.line}:${pos.col}: invalid YAML: ${what}`;
      }),
    );
  }
  const partial = { display, file, doc, lineCounter };
  const deep = tooDeep(doc.contents);
  if (deep) {
    const pos = rangeStart(deep, partial);
    throw new ConfigError(
      `${display}:${pos.line}:${pos.col}: invalid YAML: nested too deeply (at most ${MAX_DEPTH} levels)`,
    );
  }
  const dups = duplicateKeys(partial);
  if (dups.length) throw new ConfigError(dups);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError(
      `${display}:1:1: invalid YAML: ${withoutSource(err instanceof Error ? err.message : String(err))}`,
    );
  }
  return { ...partial, data };
}

/** Reads and parses a YAML file; an unreadable file is a ConfigError too. */
export function readYamlFile(file: string, display: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${display}: cannot read the file (${code ?? 'error'})`);
  }
  return parseYaml(text, file, display);
}

/**
 * Where a key path is written: the key itself when `atKey`, else its value.
 * A path that does not exist (a missing key) points at the deepest node found.
 */
export function locate(src: Pick<YamlSource, 'doc' | 'lineCounter'>, path: KeyPath, atKey = false): Position {
  let node: unknown = src.doc.contents;
  let keyNode: unknown = undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyOf(p.key) === String(seg));
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      keyNode = node.items[seg];
      node = node.items[seg];
    } else {
      break;
    }
  }
  const target = atKey && keyNode ? keyNode : node;
  return rangeStart(target as Node | null, src);
}
