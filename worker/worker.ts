/**
 * Creating dibctl workers. One worker process polls the shared task queue and
 * its host's own queue (activities that read the image file run on the host
 * that holds it).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import { createActivities, ActivityDeps } from '../activities';
import { removeOrphanedDataFiles } from '../activities/test-runners/data-file';
import { DEFAULT_TASK_QUEUE } from '../common/ids';
import { projectRoot } from '../common/project';
import { dataConverterFromEnv } from '../temporal/codec';
import { localHostQueue, workerHostname } from './queues';

export { localHostQueue, workerHostname };

/** The prebuilt workflow bundle (`npm run build`), else the sources to bundle now. */
export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const bundle = process.env.DIBCTL_WORKFLOW_BUNDLE ?? path.join(projectRoot(), 'dist', 'workflow-bundle.js');
  if (existsSync(bundle)) return { workflowBundle: { codePath: bundle } };
  return { workflowsPath: require.resolve('../workflows') };
}

interface DibctlWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  activityDeps?: ActivityDeps;
  identity?: string;
  /** Payload codecs (encryption); defaults to the environment's settings. */
  dataConverter?: WorkerOptions['dataConverter'];
}

/** One Worker per task queue: the shared one (workflows and activities) and this host's (activities). */
export async function createDibctlWorkers(opts: DibctlWorkerOptions): Promise<Worker[]> {
  // test data files a killed worker left behind hold credentials
  removeOrphanedDataFiles();
  const activities = createActivities(opts.activityDeps);
  const shared = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
  const common = {
    connection: opts.connection,
    namespace: opts.namespace,
    activities,
    identity: opts.identity ?? `dibctl-worker@${workerHostname()}:${process.pid}`,
    dataConverter: opts.dataConverter ?? dataConverterFromEnv(),
  };
  const source = workflowSource();
  // Workflows run on the shared queue only; the host's queue carries activities (those that read
  // the image file), so its worker runs no workflow code and starts no workflow thread.
  return Promise.all([
    Worker.create({ ...common, ...source, taskQueue: shared, maxCachedWorkflows: 200 }),
    Worker.create({ ...common, taskQueue: localHostQueue(shared) }),
  ]);
}

/** Runs the workers until `until` settles (or a signal shuts them down). */
export async function runWorkers(workers: Worker[], until?: Promise<unknown>): Promise<void> {
  if (until) {
    await Promise.all(workers.map((w) => w.runUntil(until.catch(() => undefined))));
  } else {
    await Promise.all(workers.map((w) => w.run()));
  }
}
