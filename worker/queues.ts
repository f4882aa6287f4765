/** This host's own task queue, apart from the worker code so the command line names it without loading the SDK. */
import os from 'node:os';
import { DEFAULT_TASK_QUEUE, hostTaskQueue } from '../common/ids';
import { DibctlError } from '../errors';
import { ExitCode } from '../errors/exit-codes';

/**
 * The name this host goes by in task queues and worker identities: `DIBCTL_HOSTNAME`
 * when set (hosts whose system names clash, or containers that get a random one),
 * else the system's host name. The CLI that starts a lifecycle and the worker that
 * keeps its file must agree on it.
 */
export function workerHostname(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.DIBCTL_HOSTNAME;
  if (name === undefined || name === '') return os.hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
    throw new DibctlError(
      `DIBCTL_HOSTNAME '${name}': must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      ExitCode.USAGE,
      { nextStep: 'give DIBCTL_HOSTNAME a name such as build-01, or unset it to use the system host name' },
    );
  return name;
}

/** The task queue only the worker on this host polls (one per shared queue). */
export function localHostQueue(sharedQueue: string = DEFAULT_TASK_QUEUE): string {
  return hostTaskQueue(sharedQueue, workerHostname());
}
