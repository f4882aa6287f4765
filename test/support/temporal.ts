/**
 * A real Temporal dev server per suite, on free ports, stopped in afterAll.
 * Usage:
 *   const t = useTemporal();          // at describe level
 *   t().client.workflow.execute(...)  // inside tests
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { DevServer, startDevServer } from '../../temporal/dev-server';
import { ActivityDeps } from '../../activities';
import { createDibctlWorkers } from '../../worker/worker';

export interface TestTemporal {
  server: DevServer;
  connection: Connection;
  client: Client;
  nativeConnection: NativeConnection;
  /** Starts dibctl's workers on a task queue of its own; they stop at the end of the suite. */
  startWorkers(taskQueue: string, deps?: ActivityDeps): Promise<Worker[]>;
}

let runtimeInstalled = false;

async function startTestTemporal(
  opts: { dbFilename?: string } = {},
): Promise<TestTemporal & { stop(): Promise<void> }> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({ logger: new DefaultLogger('WARN') });
  }
  const server = await startDevServer({ dbFilename: opts.dbFilename });
  const connection = await Connection.connect({ address: server.address });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const running: Array<{ worker: Worker; done: Promise<void> }> = [];
  return {
    server,
    connection,
    client,
    nativeConnection,
    async startWorkers(taskQueue, deps) {
      const workers = await createDibctlWorkers({
        connection: nativeConnection,
        namespace: server.namespace,
        taskQueue,
        activityDeps: deps,
      });
      for (const worker of workers) running.push({ worker, done: worker.run() });
      return workers;
    },
    async stop() {
      for (const r of running) if (r.worker.getState() === 'RUNNING') r.worker.shutdown();
      await Promise.allSettled(running.map((r) => r.done));
      await nativeConnection.close();
      await connection.close();
      await server.stop();
    },
  };
}

export function useTemporal(opts: { dbFilename?: string } = {}): () => TestTemporal {
  let env: (TestTemporal & { stop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    env = await startTestTemporal(opts);
  }, 120_000);
  afterAll(async () => {
    await env?.stop();
  }, 60_000);
  return () => {
    if (!env) throw new Error('Temporal test server is not started');
    return env;
  };
}
