/**
 * What the benches share: timing a process from spawn to exit, medians, and the
 * one table `npm run bench` prints. Every figure comes with a reference measured
 * in the same run, on the same machine, so the ratio says more than the seconds.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { Cloud, connectCloud } from '../openstack';

/** One line of the table. */
export interface BenchRow {
  bench: string;
  /** Seconds (or what unit says) of what is measured. */
  figure: number;
  /** What the figure is compared with, measured in the same run. */
  reference: string;
  referenceFigure: number;
  unit?: 's' | 'MiB/s' | 'MB' | '/min';
  /** What the figure should stay within, when the project has a target for it. */
  target?: string;
  note?: string;
}

/**
 * The dibctl entry point of this checkout (built with `npm run build`; the benches
 * run from their own copy in dist/bench/, which never rewrites the build), or
 * BENCH_DIBCTL's, to measure another build (an earlier commit) the same way.
 */
export const DIBCTL = process.env.BENCH_DIBCTL
  ? path.resolve(process.env.BENCH_DIBCTL)
  : path.resolve(__dirname, '..', '..', '..', 'bin', 'dibctl.js');

interface Timed {
  seconds: number;
  code: number | null;
  stderr: string;
}

/** Runs a command to its end and returns its wall time in seconds. */
export function timeProcess(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, code, stderr }));
  });
}

/** `node bin/dibctl.js args`, timed; an exit code other than `expect` is a broken bench. */
export async function timeDibctl(
  args: string[],
  expect: number,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<number> {
  const r = await timeProcess(process.execPath, [DIBCTL, ...args], opts);
  if (r.code !== expect) {
    throw new Error(`dibctl ${args.join(' ')} exited ${r.code}, expected ${expect}:\n${r.stderr}`);
  }
  return r.seconds;
}

/** `node -e ''`: what starting Node costs on this machine right now. */
export async function nodeStart(): Promise<number> {
  return (await timeProcess(process.execPath, ['-e', ''])).seconds;
}

export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Medians of a figure and its reference, measured alternately so that the load
 * other processes put on the machine weighs on both alike.
 */
export async function alternate(
  rounds: number,
  figure: () => Promise<number>,
  reference: () => Promise<number>,
): Promise<{ figure: number; reference: number }> {
  const f: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < rounds; i++) {
    r.push(await reference());
    f.push(await figure());
  }
  return { figure: median(f), reference: median(r) };
}

function format(n: number, unit: BenchRow['unit'] = 's'): string {
  return unit === 's' ? `${n.toFixed(3)} s` : `${n.toFixed(0)} ${unit}`;
}

/** The table: one line per figure, with its reference and their ratio. */
export function renderTable(rows: BenchRow[]): string {
  const header = ['bench', 'figure', 'reference', 'reference figure', 'ratio', 'target', 'note'];
  const lines = rows.map((r) => [
    r.bench,
    format(r.figure, r.unit),
    r.reference,
    format(r.referenceFigure, r.unit),
    (r.figure / r.referenceFigure).toFixed(2),
    r.target ?? '',
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(line)].join('\n');
}

/** Where a bench's cloud is: Keystone and the admin (of the Default domains) the bench acts as. */
export interface BenchCloud {
  authUrl: string;
  admin: { username: string; password: string; projectName: string };
}

/** A client of the cloud as its admin, in one region. */
export function adminCloud(cloud: BenchCloud, regionName: string): Promise<Cloud> {
  return connectCloud({
    authUrl: cloud.authUrl,
    username: cloud.admin.username,
    password: cloud.admin.password,
    projectName: cloud.admin.projectName,
    userDomainName: 'Default',
    projectDomainName: 'Default',
    regionName,
  });
}
