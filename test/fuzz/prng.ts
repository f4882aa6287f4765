/**
 * A small seeded generator for the fuzz tests: the same seed gives the same
 * cases, so a failure can be replayed. `DIBCTL_FUZZ_SEED` replaces the fixed
 * seed, `DIBCTL_FUZZ_RUNS` the number of cases.
 */

export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** mulberry32: a uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A child generator, so that one case's choices do not shift the next case's. */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.seed ^ 0x5bd1e995, 31) + Math.imul(salt + 1, 0x27d4eb2d)) >>> 0);
  }

  string(maxLen: number, alphabet: readonly string[] = ASCII): string {
    const n = this.int(0, maxLen);
    let s = '';
    for (let i = 0; i < n; i++) s += this.pick(alphabet);
    return s;
  }
}

const ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));

/** Characters that break naive parsers and printers: controls, quotes, RTL marks, emoji, lone surrogates. */
export const HOSTILE_CHARS: readonly string[] = [
  '\t',
  '\n',
  '\r',
  '\0',
  '\u0007',
  '\u001b[31m',
  '\u007f',
  '"',
  "'",
  '\\',
  ':',
  '#',
  '&',
  '*',
  '!',
  '|',
  '>',
  '%',
  '@',
  '`',
  '{',
  '}',
  '[',
  ']',
  ',',
  '-',
  '?',
  '\u00e9',
  '\u202e',
  '\u200b',
  '\ufeff',
  '\u2028',
  '\ud83d\ude00',
  '\ud800',
  '\u4e2d',
  ' ',
];

export function fuzzSeed(fixed: number): number {
  const v = process.env.DIBCTL_FUZZ_SEED;
  if (v === undefined || v === '') return fixed;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`DIBCTL_FUZZ_SEED must be an integer (got ${v})`);
  return n >>> 0;
}

export function fuzzRuns(fixed: number): number {
  const v = process.env.DIBCTL_FUZZ_RUNS;
  if (v === undefined || v === '') return fixed;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`DIBCTL_FUZZ_RUNS must be a positive integer (got ${v})`);
  return n;
}

/**
 * Runs `runs` cases, each with its own generator forked from the seed. A
 * failing case is reported with the seed and case number to replay it.
 */
export async function forEachCase(
  name: string,
  seed: number,
  runs: number,
  fn: (rng: Rng, index: number) => Promise<void> | void,
): Promise<void> {
  const root = new Rng(seed);
  for (let i = 0; i < runs; i++) {
    try {
      await fn(root.fork(i), i);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const replay = `${name}: case ${i} failed; replay with DIBCTL_FUZZ_SEED=${seed} DIBCTL_FUZZ_RUNS=${i + 1}`;
      const wrapped = new Error(`${replay}\n${msg}`);
      if (err instanceof Error && err.stack) wrapped.stack = `${replay}\n${err.stack}`;
      throw wrapped;
    }
  }
}
