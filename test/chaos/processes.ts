/**
 * The processes a chaos run owns: dibctl workers (real processes, so kill -9
 * is real) and the Temporal dev server persisted in a db file (so a restart
 * keeps every workflow). Every process started here is stopped by its owner.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { DevServer, startDevServer } from '../../temporal/dev-server';
import { DIBCTL_BIN, cleanTemporalEnv } from '../support/cli';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();
let exitHook = false;
/** Workers must not outlive the process that started them, even when it fails. */
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (exitHook) return;
  exitHook = true;
  const killAll = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  // Ctrl-C of a long chaos series: no worker may keep polling a dead server
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitExit(child: ChildProcess, graceMs: number): Promise<void> {
  if (exited(child)) return;
  const done = once(child, 'exit');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

/** The environment a worker or CLI of the run gets: this server, this state directory, nothing from the caller's Temporal or OpenStack settings. */
export function runEnv(address: string, stateDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OS_') || k.startsWith('DIBCTL_PAYLOAD')) delete env[k];
  const clean = cleanTemporalEnv({
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: 'default',
    DIBCTL_STATE_DIR: stateDir,
    ...extra,
  });
  for (const [k, v] of Object.entries(clean)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** `dibctl worker` processes, one at a time; each generation logs to its own file. */
export class WorkerProcesses {
  private child: ChildProcess | undefined;
  generation = 0;
  readonly logs: string[] = [];

  constructor(private readonly opts: { cwd: string; logDir: string; env: () => NodeJS.ProcessEnv; args?: string[] }) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts a worker and waits until it says it polls. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.generation += 1;
    const log = path.join(this.opts.logDir, `worker-${this.generation}.log`);
    this.logs.push(log);
    const fd = fs.openSync(log, 'a');
    const child = spawn(process.execPath, [DIBCTL_BIN, ...(this.opts.args ?? []), 'worker'], {
      cwd: this.opts.cwd,
      env: this.opts.env(),
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    track(child);
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    while (!/Worker polling/.test(fs.readFileSync(log, 'utf8'))) {
      if (exited(child))
        throw new Error(`worker exited (${child.exitCode ?? child.signalCode}) before polling; see ${log}`);
      if (Date.now() > deadline) throw new Error(`worker did not start polling within ${timeoutMs} ms; see ${log}`);
      await sleep(100);
    }
  }

  /** kill -9: no shutdown, running activities are abandoned mid-flight. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || exited(child)) return;
    child.kill('SIGKILL');
    await waitExit(child, 5_000);
  }

  /** An orderly stop (SIGTERM, SIGKILL after a grace period). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || exited(child)) return;
    child.kill('SIGTERM');
    await waitExit(child, 10_000);
  }
}

/** A dev server on a fixed port with its state in a file: restartable without losing anything. */
export class PersistentTemporal {
  private server: DevServer | undefined;
  restarts = 0;

  private constructor(
    readonly dbFilename: string,
    readonly port: number,
    readonly log: string,
  ) {}

  static async start(dbFilename: string, port: number, log: string): Promise<PersistentTemporal> {
    const t = new PersistentTemporal(dbFilename, port, log);
    await t.up();
    return t;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async up(): Promise<void> {
    this.server = await startDevServer({
      dbFilename: this.dbFilename,
      port: this.port,
      log: this.log,
      startTimeoutMs: 90_000,
    });
  }

  async restart(downMs: number): Promise<void> {
    await this.stop();
    await sleep(downMs);
    await this.up();
    this.restarts += 1;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop();
  }
}
