/**
 * The shell's question "what may come next?", answered fast: `dibctl
 * __complete -- WORD...` reads the command-line spec the completion script
 * carries (on stdin) and the configs in the current directory, and prints one
 * candidate per line; `:files` or `:dirs` ask the shell to complete paths.
 * It loads neither Temporal nor the command modules, and never fails loudly:
 * a broken config only means fewer candidates.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { configFiles } from '../config/files';
import type { ConfigKind } from '../config/schema';

/** What a positional argument or an option's value is. */
export type ValueKind = 'image' | 'test-env' | 'upload-env' | 'file' | 'dir' | 'text' | { choices: string[] };

export interface OptionSpec {
  /** Every spelling: `-i`, `--input`. */
  flags: string[];
  /** What the option's value is; absent for a flag without value. */
  value?: ValueKind;
}

export interface CommandSpec {
  commands: Record<string, CommandSpec>;
  options: OptionSpec[];
  /** One kind per positional argument; the last repeats when variadic. */
  args: ValueKind[];
  variadic: boolean;
}

const CONFIG_OF: Record<'image' | 'test-env' | 'upload-env', ConfigKind> = {
  image: 'images',
  'test-env': 'test',
  'upload-env': 'upload',
};

const EXPLICIT_FLAG: Record<ConfigKind, string> = {
  images: '--images-config',
  test: '--test-config',
  upload: '--upload-config',
};

/** The labels of one config kind, as the files found from cwd (or the one given on the line) define them. */
function labels(kind: ConfigKind, cwd: string, words: string[]): string[] {
  const at = words.indexOf(EXPLICIT_FLAG[kind]);
  const explicitFile = at >= 0 ? words[at + 1] : undefined;
  let files: string[];
  try {
    files = configFiles(kind, { cwd, ...(explicitFile ? { explicitFile } : {}) });
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const file of files) {
    try {
      const data: unknown = parse(readFileSync(path.resolve(cwd, file), 'utf8'));
      if (data && typeof data === 'object' && !Array.isArray(data)) for (const k of Object.keys(data)) out.add(k);
    } catch {
      // an unreadable file adds no labels
    }
  }
  return [...out];
}

function valuesOf(kind: ValueKind, cwd: string, words: string[]): string[] {
  if (typeof kind === 'object') return kind.choices;
  if (kind === 'file') return [':files'];
  if (kind === 'dir') return [':dirs'];
  if (kind === 'text') return [];
  return labels(CONFIG_OF[kind], cwd, words);
}

function findOption(spec: CommandSpec, root: CommandSpec, word: string): OptionSpec | undefined {
  return [...spec.options, ...root.options].find((o) => o.flags.includes(word));
}

/**
 * Candidates for the last word of `words` (the words after `dibctl`, the last
 * one being completed, possibly empty).
 */
export function candidates(root: CommandSpec, words: string[], cwd: string): string[] {
  const prior = words.slice(0, -1);
  let cur = words[words.length - 1] ?? '';
  // bash splits `--opt=value` into `--opt`, `=`, `value`
  const afterOption = (i: number) => i >= 0 && prior[i].startsWith('-');
  if (cur === '=' && afterOption(prior.length - 1)) cur = '';
  else if (prior[prior.length - 1] === '=' && afterOption(prior.length - 2)) prior.pop();
  const joined: string[] = [];
  for (let i = 0; i < prior.length; i++) {
    if (prior[i] === '=' && joined.length && joined[joined.length - 1].startsWith('-'))
      joined[joined.length - 1] += '=' + (prior[++i] ?? '');
    else joined.push(prior[i]);
  }
  let prefix = '';
  let spec = root;
  let positional = 0;
  let expecting: ValueKind | undefined;
  for (const w of joined) {
    if (expecting !== undefined) {
      expecting = undefined;
      continue;
    }
    if (w === '--') continue;
    if (w.startsWith('-')) {
      const opt = findOption(spec, root, w.split('=')[0]);
      if (opt?.value !== undefined && !w.includes('=')) expecting = opt.value;
      continue;
    }
    if (positional === 0 && spec.commands[w]) spec = spec.commands[w];
    else positional++;
  }
  if (expecting === undefined && cur.startsWith('-') && cur.includes('=')) {
    // `--opt=val` completed as one word (zsh): complete the value, keep the prefix
    const [flag] = cur.split('=');
    const opt = findOption(spec, root, flag);
    if (!opt?.value) return [];
    prefix = `${flag}=`;
    cur = cur.slice(prefix.length);
    expecting = opt.value;
  }
  let out: string[];
  if (expecting !== undefined) out = valuesOf(expecting, cwd, joined);
  else if (cur.startsWith('-')) {
    const options = spec === root ? root.options : [...spec.options, ...root.options];
    out = [...options.flatMap((o) => o.flags.filter((f) => f.startsWith('--'))), '--help'];
  } else if (positional === 0 && Object.keys(spec.commands).length) out = Object.keys(spec.commands);
  else {
    const kind = spec.args[positional] ?? (spec.variadic ? spec.args[spec.args.length - 1] : undefined);
    out = kind === undefined ? [] : valuesOf(kind, cwd, joined);
  }
  if (out[0]?.startsWith(':')) return out;
  return [...new Set(out)].filter((c) => c.startsWith(cur)).map((c) => prefix + c);
}

function readStdin(): Promise<string> {
  return new Promise((resolve) => {
    if (process.stdin.isTTY) return resolve('');
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', () => resolve(''));
  });
}

/** `dibctl __complete -- WORD...` with the spec on stdin: prints the candidates; always exits 0. */
export async function completeMain(args: string[], spec?: CommandSpec): Promise<number> {
  const words = args[0] === '--' ? args.slice(1) : args;
  let root = spec;
  if (!root) {
    try {
      root = JSON.parse(await readStdin()) as CommandSpec;
    } catch {
      // no spec on stdin (a script from an older dibctl, or a call by hand): take it from the program
      const [{ buildProgram }, { commandSpec }] = await Promise.all([import('./main'), import('./completion')]);
      root = commandSpec(buildProgram({ code: 0 }));
    }
  }
  for (const c of candidates(root, words, process.cwd())) process.stdout.write(c + '\n');
  return 0;
}
