/**
 * Worker memory bench: a real `dibctl worker` process (the built CLI) against
 * a dev server, its resident memory read from /proc/<pid>/status while it
 * idles and while it uploads a large image (a sparse file, 4 GiB by default)
 * to the emulator, which runs in a process of its own and stores the data on
 * disk. The reference is the same worker's memory once it polls, before any
 * work.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startDevServer } from '../temporal/dev-server';
import { configTree } from './configs';
import { EmulatorProcess, startEmulatorProcess } from './emulator';
import { BenchRow, DIBCTL, timeDibctl } from './support';

/** VmRSS and VmHWM (peak) of a process, MB (10^6 bytes, as the targets are stated). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: (kib('VmRSS') * 1024) / 1e6, peak: (kib('VmHWM') * 1024) / 1e6 };
}

/** `dibctl worker` with this environment; resolves once it polls. */
export function startWorker(env: NodeJS.ProcessEnv, cwd: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIBCTL, 'worker'], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Worker polling')) resolve(child);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => reject(new Error(`dibctl worker exited ${code}:\n${out}`)));
  });
}

export async function stopWorker(worker: ChildProcess | undefined): Promise<void> {
  if (!worker || worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise((r) => worker.once('exit', r));
  worker.kill('SIGTERM');
  await exited;
}

/** An upload environment `bench` with the emulator's admin (RegionOne). */
export function uploadYaml(emu: EmulatorProcess, extra: string[] = []): string {
  const c = emu.admin;
  return (
    [
      'bench:',
      '  keystone:',
      `    auth_url: ${emu.authUrl}`,
      `    username: ${c.username}`,
      `    password: ${c.password}`,
      `    project_name: ${c.projectName}`,
      '    user_domain_name: Default',
      '    project_domain_name: Default',
      '    region_name: RegionOne',
      ...extra,
    ].join('\n') + '\n'
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface WorkerMemory {
  polling: { rss: number; peak: number };
  sampled: number;
  after: { rss: number; peak: number };
  idleAfter: { rss: number; peak: number };
  seconds: number;
}

/** A fresh `dibctl worker`: idle after its start-up settled, during `dibctl upload big`, idle again. */
async function measureWorker(env: NodeJS.ProcessEnv, cwd: string): Promise<WorkerMemory> {
  const worker = await startWorker(env, cwd);
  try {
    const pid = worker.pid!;
    await sleep(5_000);
    const polling = memoryOf(pid);
    let sampled = polling.rss;
    const sampler = setInterval(() => (sampled = Math.max(sampled, memoryOf(pid).rss)), 100);
    let seconds: number;
    try {
      seconds = await timeDibctl(['--no-local-worker', 'upload', 'big', 'bench'], 0, { cwd, env });
    } finally {
      clearInterval(sampler);
    }
    const after = memoryOf(pid);
    await sleep(5_000);
    return { polling, sampled, after, idleAfter: memoryOf(pid), seconds };
  } finally {
    await stopWorker(worker);
  }
}

/**
 * The worker as `dibctl worker` runs on a host, then as the container image
 * runs it: with MALLOC_ARENA_MAX=2, which keeps glibc from giving each of the
 * native core's threads a heap of its own.
 */
export async function workerMemoryBench(gib: number): Promise<BenchRow[]> {
  const tree = configTree();
  const server = await startDevServer({ env: tree.env });
  const emu = await startEmulatorProcess();
  try {
    const file = path.join(tree.dir, 'big.raw');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, gib * 1024 ** 3);
    fs.writeFileSync(
      path.join(tree.dir, 'images.yaml'),
      'big:\n  filename: big.raw\n  glance:\n    name: Big Image\n    disk_format: raw\n    container_format: bare\n',
    );
    fs.writeFileSync(path.join(tree.dir, 'upload.yaml'), uploadYaml(emu));
    const env: NodeJS.ProcessEnv = {
      ...tree.env,
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
    };
    delete env.MALLOC_ARENA_MAX;
    const rows: BenchRow[] = [];
    for (const [how, extra] of [
      ['', {}],
      [' (MALLOC_ARENA_MAX=2, as in the container image)', { MALLOC_ARENA_MAX: '2' }],
    ] as const) {
      const m = await measureWorker({ ...env, ...extra }, tree.dir);
      rows.push(
        {
          bench: `dibctl worker: resident memory, idle (polling)${how}`,
          figure: m.polling.rss,
          unit: 'MB',
          reference: 'peak of its start-up (VmHWM)',
          referenceFigure: m.polling.peak,
          target: '≤ 150 MB',
          note: `${m.idleAfter.rss.toFixed(0)} MB idle again after the upload`,
        },
        {
          bench: `dibctl worker: resident memory, peak during a ${gib} GiB upload${how}`,
          figure: Math.max(m.sampled, m.after.peak),
          unit: 'MB',
          reference: 'idle, polling',
          referenceFigure: m.polling.rss,
          target: '≤ 200 MB',
          note: `VmHWM ${m.after.peak.toFixed(0)} MB, sampled VmRSS max ${m.sampled.toFixed(0)} MB; ${((gib * 1024) / m.seconds).toFixed(0)} MiB/s end to end (dibctl upload ${m.seconds.toFixed(1)} s)`,
        },
      );
    }
    return rows;
  } finally {
    await emu.stop();
    await server.stop();
    tree.remove();
  }
}
