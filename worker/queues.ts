/** This host's own task queue, apart from the worker code so the command line names it without loading the SDK. */
import os from 'node:os';
import { DEFAULT_TASK_QUEUE, hostTaskQueue } from '../common/ids';

/** The task queue only the worker on this host polls (one per shared queue). */
export function localHostQueue(sharedQueue: string = DEFAULT_TASK_QUEUE): string {
  return hostTaskQueue(sharedQueue, os.hostname());
}
