/**
 * How a command reaches Temporal:
 * - configured (TEMPORAL_ADDRESS or a profile): connect there, fail clearly if it does not answer;
 * - otherwise a server on localhost:7233 (e.g. `dibctl server`);
 * - otherwise an ephemeral dev server that lives as long as the command.
 * When no worker polls dibctl's task queue, the command runs one in-process.
 * The SDK and the worker code load only here, and while an ephemeral server boots.
 */
import type { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { DibctlError, TemporalUnavailableError, describeError } from '../errors';
import { localAddress, temporalSettings } from '../temporal/connection';
import { DevServer, startDevServer } from '../temporal/dev-server';
import { tcpAccepts } from '../temporal/free-port';
import type { ActivityDeps } from '../activities';
import { DEFAULT_TASK_QUEUE } from '../common/ids';
import { workerHostname } from '../worker/queues';

export type SessionMode = 'configured' | 'local' | 'embedded';

interface SessionOptions {
  env?: NodeJS.ProcessEnv;
  /** 'auto': run an in-process worker when no other polls the task queue. */
  localWorker?: 'auto' | 'never' | 'always';
  /** False for commands that only read (status): no worker is started or required. */
  needsWorker?: boolean;
  taskQueue?: string;
  activityDeps?: ActivityDeps;
  /** Notes for the operator (stderr). */
  note?: (line: string) => void;
  /** Where the session runs, when the command has decided it already (sessionMode). */
  mode?: SessionMode;
  /** Installs the SDK's runtime (its logging) before a worker starts in this process. */
  installRuntime?: () => Promise<void>;
  /** Called before a worker starts in this process: what it throws ends the session before the worker runs. */
  beforeLocalWorker?: () => void;
}

export interface Session {
  client: Client;
  address: string;
  namespace: string;
  mode: SessionMode;
  taskQueue: string;
  inProcessWorker: boolean;
  close(): Promise<void>;
}

function hostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}

async function connect(address: string, settings: ReturnType<typeof temporalSettings>): Promise<Connection> {
  const o = settings.connectionOptions;
  const { Connection } = await import('@temporalio/client');
  try {
    return await Connection.connect({
      address,
      tls: o.tls,
      apiKey: o.apiKey,
      metadata: o.metadata,
      connectTimeout: '5s',
    });
  } catch (err) {
    throw new TemporalUnavailableError(address, describeError(err).split('\n')[0]);
  }
}

/**
 * The server lists pollers for minutes after their worker died, so a listed
 * poller only counts when it is plausibly alive: a dibctl worker on this host
 * whose process exists, or any other poller seen within the long-poll interval.
 */
function pollerAlive(
  poller: { identity?: string | null; lastAccessTime?: { seconds?: unknown } | null },
  now = Date.now(),
  hostname = workerHostname(),
): boolean {
  const m = /@([^:@]+):(\d+)$/.exec(poller.identity ?? '');
  if (m && m[1] === hostname) {
    try {
      process.kill(Number(m[2]), 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  const seconds = Number(poller.lastAccessTime?.seconds ?? 0);
  return now / 1000 - seconds < 75;
}

async function hasPollers(client: Client, namespace: string, taskQueue: string): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return (res.pollers ?? []).some((p) => pollerAlive(p));
}

/**
 * Where a session would run, decided without contacting Temporal: configured,
 * else a server accepting connections on the local address, else embedded.
 */
export async function sessionMode(env: NodeJS.ProcessEnv = process.env): Promise<SessionMode> {
  if (temporalSettings(env).address) return 'configured';
  if (await tcpAccepts(...hostPort(localAddress(env)), 500)) return 'local';
  return 'embedded';
}

/** Starts the ephemeral server and returns once its process runs; `ready` resolves when it answers. */
async function launchDevServer(
  env: NodeJS.ProcessEnv,
  note: (line: string) => void,
): Promise<{ ready: Promise<DevServer> }> {
  let spawned!: () => void;
  const running = new Promise<void>((resolve) => (spawned = resolve));
  const ready = startDevServer({ env, progress: note, onSpawn: spawned });
  // a server that cannot start at all (no Temporal CLI) rejects before it spawns
  await Promise.race([running, ready]);
  return { ready };
}

async function openSession(opts: SessionOptions = {}): Promise<Session> {
  const env = opts.env ?? process.env;
  const note = opts.note ?? (() => undefined);
  const settings = temporalSettings(env);
  const taskQueue = opts.taskQueue ?? DEFAULT_TASK_QUEUE;
  const mode = opts.mode ?? (await sessionMode(env));
  const wanted = opts.localWorker ?? 'auto';
  let address: string;
  let launched: { ready: Promise<DevServer> } | undefined;

  if (mode === 'configured') {
    address = settings.address!;
  } else if (mode === 'local') {
    address = localAddress(env);
  } else {
    note(
      `No Temporal server configured (TEMPORAL_ADDRESS) and none at ${localAddress(env)}: starting an ephemeral one.`,
    );
    address = '';
  }

  const cleanups: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // keep closing the rest
      }
    }
  };
  if (mode === 'embedded') {
    const started = await launchDevServer(env, note);
    // a server that never became ready has stopped itself
    cleanups.push(async () => (await started.ready).stop());
    launched = started;
  }

  try {
    // The SDK and the worker code load while an ephemeral server boots.
    const { Client } = await import('@temporalio/client');
    const { dataConverterFromEnv } = await import('../temporal/codec');
    const dataConverter = dataConverterFromEnv(env);
    // an embedded session always runs its worker: its code loads now, before the server answers
    const workerCode = launched && opts.needsWorker !== false ? loadWorkerCode(opts) : undefined;
    workerCode?.catch(() => undefined);
    let devServer: DevServer | undefined;
    if (launched) {
      devServer = await launched.ready;
      address = devServer.address;
    }

    const namespace = devServer?.namespace ?? settings.namespace;
    let inProcessWorker = false;
    /** Runs dibctl's workers in this process; their stop comes first at close. */
    const startLocalWorker = async () => {
      opts.beforeLocalWorker?.();
      if (mode !== 'embedded')
        note(`No worker polls task queue '${taskQueue}' at ${address}: running one in this process.`);
      const { NativeConnection, createDibctlWorkers, runWorkers } = await (workerCode ?? loadWorkerCode(opts));
      const o = settings.connectionOptions;
      const nativeConnection: NativeConnection = await NativeConnection.connect({
        address,
        tls: o.tls,
        apiKey: o.apiKey,
        metadata: o.metadata,
      });
      cleanups.push(() => nativeConnection.close());
      const workers = await createDibctlWorkers({
        connection: nativeConnection,
        namespace,
        taskQueue,
        activityDeps: opts.activityDeps,
        identity: `dibctl-cli@${workerHostname()}:${process.pid}`,
        dataConverter,
      });
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      const running = runWorkers(workers, stopped);
      cleanups.push(async () => {
        stop();
        await running;
      });
      inProcessWorker = true;
    };

    // An embedded session always runs its worker: it starts while the client connects.
    const embeddedWorker = mode === 'embedded' && opts.needsWorker !== false ? startLocalWorker() : undefined;
    const [connection] = await Promise.all([connect(address, settings), embeddedWorker]);
    cleanups.push(() => connection.close());
    // a workflow the workers cannot read (payload keys that differ) ends with the reason instead of waiting
    const watching = new AbortController();
    cleanups.push(async () => watching.abort());
    const { unreadableStartInterceptor } = await import('./unreadable-start');
    const made: { client?: InstanceType<typeof Client> } = {};
    const client = new Client({
      connection,
      namespace,
      dataConverter,
      interceptors: { workflow: [unreadableStartInterceptor(() => made.client, watching.signal)] },
    });
    made.client = client;

    if (opts.needsWorker !== false && !embeddedWorker) {
      let startWorker = wanted === 'always';
      if (!startWorker && !(await hasPollers(client, namespace, taskQueue))) {
        if (wanted === 'never') {
          throw new DibctlError(`No worker polls task queue '${taskQueue}' at ${address}`, undefined, {
            nextStep:
              "start one with 'dibctl worker' (with the same TEMPORAL_* settings), or leave out --no-local-worker",
          });
        }
        startWorker = true;
      }
      if (startWorker) await startLocalWorker();
    }
    return { client, address, namespace, mode, taskQueue, inProcessWorker, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The worker SDK and dibctl's workers and activities, with the runtime installed. */
async function loadWorkerCode(opts: SessionOptions) {
  const [{ NativeConnection }, { createDibctlWorkers, runWorkers }] = await Promise.all([
    import('@temporalio/worker'),
    import('../worker/worker'),
  ]);
  await opts.installRuntime?.();
  return { NativeConnection, createDibctlWorkers, runWorkers };
}

/** Opens a session, runs fn, and always closes what the session started. */
export async function withSession<T>(opts: SessionOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  const session = await openSession(opts);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}
