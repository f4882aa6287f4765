/**
 * Starts the Temporal CLI's dev server (the real Temporal server on SQLite) on
 * free loopback ports, waits until its frontend answers, and stops it again.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DibctlError } from '../errors';
import { findTemporalCli } from './cli';
import { freePort, tcpAccepts } from './free-port';
import { searchAttributeFlags } from './search-attributes';

export interface DevServerOptions {
  /** Persist state in this SQLite file (in memory without it). */
  dbFilename?: string;
  ip?: string;
  port?: number;
  /** Serve the Web UI (on uiPort, default port + 1000 or a free port). */
  ui?: boolean;
  uiPort?: number;
  namespace?: string;
  /** Where the server's own output goes: a file path, 'inherit', or dropped. */
  log?: string | 'inherit';
  /** Progress lines (e.g. while the CLI is being built). */
  progress?: (line: string) => void;
  /** Called once the server process runs, before it answers: the caller can use the time it takes to boot. */
  onSpawn?: () => void;
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface DevServer {
  address: string;
  namespace: string;
  uiUrl?: string;
  pid?: number;
  stop(): Promise<void>;
}

/** Running servers and the signal that ends each when this process exits without stopping them. */
const live = new Map<ChildProcess, NodeJS.Signals>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess, signal: NodeJS.Signals): void {
  live.set(child, signal);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A dev server must never outlive the process that started it.
  process.once('exit', () => {
    for (const [c, sig] of live) killGroup(c, sig);
  });
}

/** Signals the watchdog shell and the server it started (they share a process group). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    child.kill(signal);
  }
}

/** The server process ended before it answered (e.g. a port taken between choosing it and binding it). */
class ExitedWhileStarting extends DibctlError {}

async function waitReady(address: string, namespace: string, child: ChildProcess, deadline: number): Promise<void> {
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  let lastError = 'no answer';
  // loaded here, while the server boots, rather than by whoever only imports this module
  const { Connection } = await import('@temporalio/client');
  // First the port, with plain sockets: a gRPC connection refused there sets the address back by
  // gRPC's reconnect backoff (a second at first, shared by every channel to it), while the server
  // itself answers a few hundred milliseconds after it started.
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  while (Date.now() < deadline && exited === null && !(await tcpAccepts(host, port, 200))) {
    await new Promise((r) => setTimeout(r, 10));
  }
  while (Date.now() < deadline) {
    if (exited !== null) throw new ExitedWhileStarting(`Temporal dev server exited with code ${exited} while starting`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await conn.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new DibctlError(`Temporal dev server at ${address} did not become ready: ${lastError}`);
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const env = opts.env ?? process.env;
  const cli = await findTemporalCli({ env, log: opts.progress });
  const namespace = opts.namespace ?? 'default';
  if (!cli) return startDownloadedServer(namespace);
  // A free port chosen here can be taken by another process before the server binds it (suites
  // start servers side by side): when the server then exits while starting, choose again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, cli.path, namespace, env);
    } catch (err) {
      if (!(err instanceof ExitedWhileStarting) || opts.port !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startOnce(
  opts: DevServerOptions,
  cliPath: string,
  namespace: string,
  env: NodeJS.ProcessEnv,
): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(ip));
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
  ];
  let uiUrl: string | undefined;
  if (opts.ui) {
    const uiPort = opts.uiPort ?? (await freePort(ip));
    args.push('--ui-port', String(uiPort));
    uiUrl = `http://${ip}:${uiPort}`;
  } else {
    args.push('--headless');
  }
  if (opts.dbFilename) {
    await fs.mkdir(path.dirname(opts.dbFilename), { recursive: true });
    args.push('--db-filename', opts.dbFilename);
  }
  args.push(...searchAttributeFlags());

  let stdio: 'inherit' | 'ignore' | ['ignore', number, number] = 'ignore';
  let logFd: fs.FileHandle | undefined;
  if (opts.log === 'inherit') stdio = 'inherit';
  else if (opts.log) {
    await fs.mkdir(path.dirname(opts.log), { recursive: true });
    logFd = await fs.open(opts.log, 'a');
    stdio = ['ignore', logFd.fd, logFd.fd];
  }
  // A small shell stands between us and the server: it stops the server when
  // this process goes away, even by SIGKILL, so no dev server is ever orphaned.
  const watchdog =
    '"$@" & pid=$!; trap \'kill -TERM $pid 2>/dev/null\' TERM INT; ' +
    'while kill -0 $pid 2>/dev/null; do kill -0 $PPID 2>/dev/null || kill -TERM $pid 2>/dev/null; sleep 1 & wait $!; done; wait $pid';
  // Its own process group, so that a server without state to keep is stopped at once, shell and all.
  const child = spawn('/bin/sh', ['-c', watchdog, 'temporal', cliPath, ...args], { stdio, env, detached: true });
  // in memory only: nothing to write back, so no graceful shutdown to wait for
  const stopSignal: NodeJS.Signals = opts.dbFilename ? 'SIGTERM' : 'SIGKILL';
  killOnExit(child, stopSignal);
  await logFd?.close();
  const address = `${ip}:${port}`;
  opts.onSpawn?.();

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    killGroup(child, stopSignal);
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitReady(address, namespace, child, Date.now() + (opts.startTimeoutMs ?? 60_000));
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, namespace, uiUrl, pid: child.pid, stop };
}

/** Last resort on a machine without the CLI and without Go: the SDK downloads the CLI. */
async function startDownloadedServer(namespace: string): Promise<DevServer> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { namespace, extraArgs: searchAttributeFlags() },
  });
  return {
    address: env.address,
    namespace,
    stop: () => env.teardown(),
  };
}
