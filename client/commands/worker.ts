import { NativeConnection } from '@temporalio/worker';
import { TemporalUnavailableError, describeError } from '../../errors';
import { localAddress, temporalSettings } from '../../temporal/connection';
import { DEFAULT_TASK_QUEUE } from '../../common/ids';
import { createDibctlWorkers, localHostQueue, runWorkers, workerHostname } from '../../worker/worker';
import { Output } from '../render';

export interface WorkerCommandOptions {
  taskQueue?: string;
}

interface WorkerSettings {
  /** With --debug: where the activities' OpenStack requests are traced. */
  debug?: (line: string) => void;
}

/** Runs dibctl's workers against the configured server until interrupted. */
export async function worker(
  opts: WorkerCommandOptions,
  o: Output,
  stopSignal: Promise<void>,
  extras: WorkerSettings = {},
): Promise<number> {
  // a host name that cannot name a task queue is refused before anything connects
  workerHostname();
  const settings = temporalSettings();
  const address = settings.address ?? localAddress();
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ ...settings.connectionOptions, address });
  } catch (err) {
    throw new TemporalUnavailableError(address, describeError(err).split('\n')[0]);
  }
  try {
    const taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
    const workers = await createDibctlWorkers({
      connection,
      namespace: settings.namespace,
      taskQueue,
      ...(extras.debug ? { activityDeps: { debug: extras.debug } } : {}),
    });
    o.out(
      `Worker polling '${taskQueue}' and '${localHostQueue(taskQueue)}' at ${address} (namespace ${settings.namespace}). Ctrl-C to stop.`,
    );
    await runWorkers(workers, stopSignal);
    o.err('Worker stopped.');
    return 0;
  } finally {
    await connection.close();
  }
}
