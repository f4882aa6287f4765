/**
 * Embedded-default bench: what running with nothing configured adds to a
 * command. `dibctl doctor` (a workflow of a few activities) runs once with the
 * embedded default (an ephemeral dev server and an in-process worker) and once
 * against a server and a `dibctl worker` that already run, alternately. The
 * two parts of the difference are measured on their own too: the dev server
 * from spawn until it answers, and the creation of the in-process workers.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import { NativeConnection, Runtime, DefaultLogger } from '@temporalio/worker';
import { startDevServer } from '../temporal/dev-server';
import { createDibctlWorkers, runWorkers } from '../worker/worker';
import { configTree } from './configs';
import { BenchRow, DIBCTL, alternate, median, nodeStart, timeDibctl, timeProcess } from './support';

export function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** `dibctl worker` against address; resolves once it says it polls. */
function startWorker(env: NodeJS.ProcessEnv, cwd: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIBCTL, 'worker', '--task-queue', 'dibctl'], {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Worker polling')) resolve(child);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`dibctl worker exited ${code}:\n${out}`)));
  });
}

export async function embeddedBench(rounds: number): Promise<BenchRow[]> {
  const tree = configTree();
  const server = await startDevServer({ env: tree.env });
  let worker: ChildProcess | undefined;
  try {
    const warmEnv = { ...tree.env, TEMPORAL_ADDRESS: server.address };
    worker = await startWorker(warmEnv, tree.dir);
    const embeddedEnv = { ...tree.env, DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${await deadPort()}` };
    const doctor = await alternate(
      rounds,
      () => timeDibctl(['doctor'], 0, { cwd: tree.dir, env: embeddedEnv }),
      () => timeDibctl(['--no-local-worker', 'doctor'], 0, { cwd: tree.dir, env: warmEnv }),
    );

    const rows: BenchRow[] = [
      {
        bench: 'dibctl doctor, embedded default',
        figure: doctor.figure,
        reference: 'dibctl doctor, server and worker running',
        referenceFigure: doctor.reference,
      },
      {
        bench: 'added by the embedded default',
        figure: doctor.figure - doctor.reference,
        reference: 'dibctl doctor, server and worker running',
        referenceFigure: doctor.reference,
        target: '≤ 1.5 s',
      },
    ];
    // the parts below are this checkout's code, whatever BENCH_DIBCTL names
    if (process.env.BENCH_DIBCTL) return rows;

    // the dev server alone: spawn until it answers, against spawning `true`
    const serverStarts: number[] = [];
    const trueRuns: number[] = [];
    for (let i = 0; i < rounds; i++) {
      trueRuns.push((await timeProcess('true', [])).seconds);
      const start = process.hrtime.bigint();
      const s = await startDevServer({ env: tree.env });
      serverStarts.push(Number(process.hrtime.bigint() - start) / 1e9);
      await s.stop();
    }

    // the in-process workers alone, against the warm server
    Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: [] });
    const connection = await NativeConnection.connect({ address: server.address });
    const creations: number[] = [];
    const nodeStarts: number[] = [];
    try {
      for (let i = 0; i < rounds; i++) {
        nodeStarts.push(await nodeStart());
        const start = process.hrtime.bigint();
        const workers = await createDibctlWorkers({
          connection,
          namespace: server.namespace,
          taskQueue: `dibctl-bench-${i}`,
          identity: `dibctl-bench@${os.hostname()}:${process.pid}`,
        });
        creations.push(Number(process.hrtime.bigint() - start) / 1e9);
        await runWorkers(workers, Promise.resolve());
      }
    } finally {
      await connection.close();
    }

    return [
      ...rows,
      {
        bench: 'dev server: spawn until it answers',
        figure: median(serverStarts),
        reference: 'spawn `true` until it exits',
        referenceFigure: median(trueRuns),
      },
      {
        bench: 'in-process workers: creation (2, prebuilt bundle)',
        figure: median(creations),
        reference: "node -e ''",
        referenceFigure: median(nodeStarts),
      },
    ];
  } finally {
    worker?.kill('SIGTERM');
    await server.stop();
    tree.remove();
  }
}
