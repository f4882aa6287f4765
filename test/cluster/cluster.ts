/**
 * The deployment's topology on this machine, without containers: Debian's
 * PostgreSQL in a temporary directory, the databases `temporal` and
 * `temporal_visibility` made by Temporal's schema tool, the real Temporal server
 * (frontend, history, matching, worker) run from deploy/temporal-server.yaml with
 * the compose file's environment and ports of its own, then the namespace and
 * the compose setup step's search attributes. Every process is started here and
 * stopped by its PID; nothing is installed as a service.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { freePort, tcpAccepts } from '../../temporal/free-port';
import { ComposeSettings, DYNAMIC_CONFIG, REPO_ROOT, SERVER_CONFIG, composeSettings } from './compose';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// eslint-disable-next-line @typescript-eslint/no-require-imports
const serverScript = require(path.join(REPO_ROOT, 'scripts', 'temporal-server.js')) as {
  TEMPORAL_SERVER_VERSION: string;
  cacheDir(): string;
};
export const TEMPORAL_SERVER_VERSION = serverScript.TEMPORAL_SERVER_VERSION;
export const serverDir = serverScript.cacheDir();

/** The newest PostgreSQL server Debian installed (initdb and postgres), if any. */
function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs
    .readdirSync(base)
    .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(base, versions[0], 'bin') : undefined;
}

/** Why the cluster tier cannot run here, or undefined when it can. */
export function missingParts(): string | undefined {
  if (!postgresBin()) return 'PostgreSQL is not installed (Debian package postgresql: /usr/lib/postgresql/*/bin)';
  for (const f of ['server', 'sql', 'schema', 'docker.yaml'])
    if (!fs.existsSync(path.join(serverDir, f)))
      return `the Temporal server ${TEMPORAL_SERVER_VERSION} is not built (${path.join(serverDir, f)} missing; node scripts/temporal-server.js builds it)`;
  return undefined;
}

const owned = new Set<ChildProcess>();
let exitHook = false;
/** A process of the cluster: killed when the test process ends, whatever happens. */
function own(child: ChildProcess): ChildProcess {
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of owned) c.kill('SIGKILL');
    });
  }
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal` to the process by its PID and waits for it, SIGKILL after `graceMs`. */
async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!child || exited(child)) return;
  const done = once(child, 'exit');
  process.kill(child.pid!, signal);
  const timer = setTimeout(() => {
    if (!exited(child)) process.kill(child.pid!, 'SIGKILL');
  }, graceMs);
  await done;
  clearTimeout(timer);
}

/** The end of a log; of the server's JSON log, its errors only (message and error, no stack traces). */
function tail(file: string, lines = 8): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
  const all = text.trimEnd().split('\n');
  const errors = all.flatMap((line) => {
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string; error?: string };
      return e.level === 'error' || e.level === 'fatal' ? [`${e.level}: ${e.msg}${e.error ? `: ${e.error}` : ''}`] : [];
    } catch {
      return [];
    }
  });
  return (errors.length ? errors : all).slice(-lines).join('\n');
}

/**
 * A free loopback port below 32768: the server records its services' ports in
 * PostgreSQL as smallint, so the kernel's ephemeral ports do not fit.
 */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port between 20000 and 32000 on 127.0.0.1');
}

interface ClusterOptions {
  dir: string;
  /** The Temporal CLI (namespace and search attributes). */
  temporalCli: string;
}

export class Cluster {
  readonly compose: ComposeSettings = composeSettings();
  readonly password = `pw-${Math.random().toString(36).slice(2)}`;
  pgPort = 0;
  ports: Record<string, number> = {};
  private postgres: ChildProcess | undefined;
  private server: ChildProcess | undefined;
  serverStarts = 0;

  constructor(private readonly opts: ClusterOptions) {}

  get address(): string {
    return `127.0.0.1:${this.ports.FRONTEND_GRPC_PORT}`;
  }

  get namespace(): string {
    return this.compose.namespace;
  }

  get pgLog(): string {
    return path.join(this.opts.dir, 'postgres.log');
  }

  get serverLog(): string {
    return path.join(this.opts.dir, 'temporal-server.log');
  }

  /** PostgreSQL, the schema, the server, the namespace and the search attributes. */
  async start(): Promise<void> {
    await this.startPostgres();
    await this.createSchema();
    await this.choosePorts();
    await this.startServer();
    await this.setUpNamespace();
  }

  private async startPostgres(): Promise<void> {
    const bin = postgresBin()!;
    const pgDir = path.join(this.opts.dir, 'postgres');
    fs.mkdirSync(pgDir, { recursive: true });
    const pwFile = path.join(pgDir, 'password');
    fs.writeFileSync(pwFile, this.password + '\n', { mode: 0o600 });
    // PostgreSQL refuses to run as root: as root, its directory belongs to the postgres user
    let ids: { uid?: number; gid?: number } = {};
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
        throw new Error('PostgreSQL cannot run as root and there is no postgres user (Debian package postgresql)');
      });
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      ids = { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
      fs.chmodSync(this.opts.dir, 0o755);
      for (const f of [pgDir, pwFile]) fs.chownSync(f, ids.uid!, ids.gid!);
    }
    const data = path.join(pgDir, 'data');
    const user = this.compose.serverEnv.POSTGRES_USER;
    await run(
      path.join(bin, 'initdb'),
      ['-D', data, '-U', user, '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--no-sync'],
      { ...ids, cwd: pgDir },
    ).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`initdb failed: ${err.stderr || err.message}`);
    });
    for (let attempt = 1; ; attempt++) {
      this.pgPort = await freePort();
      const fd = fs.openSync(this.pgLog, 'a');
      const child = own(
        spawn(
          path.join(bin, 'postgres'),
          ['-D', data, '-p', String(this.pgPort), '-k', pgDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
          { ...ids, stdio: ['ignore', fd, fd] },
        ),
      );
      fs.closeSync(fd);
      this.postgres = child;
      const deadline = Date.now() + 30_000;
      while (!exited(child) && !(await tcpAccepts('127.0.0.1', this.pgPort, 500))) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not listen within 30 s:\n${tail(this.pgLog)}`);
        await sleep(200);
      }
      if (!exited(child)) return;
      // the port was taken between choosing and binding it
      if (attempt === 3) throw new Error(`PostgreSQL exited while starting:\n${tail(this.pgLog)}`);
    }
  }

  private sqlTool(database: string, args: string[]): Promise<unknown> {
    const common = [
      '--plugin',
      this.compose.serverEnv.DB,
      '--ep',
      '127.0.0.1',
      '-p',
      String(this.pgPort),
      '-u',
      this.compose.serverEnv.POSTGRES_USER,
      '--db',
      database,
    ];
    return run(path.join(serverDir, 'sql'), [...common, ...args], {
      env: { ...process.env, SQL_PASSWORD: this.password },
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed: ${err.stderr || err.message}`);
    });
  }

  /** As the auto-setup container does: create each database, set up the base schema, update it to the newest version. */
  private async createSchema(): Promise<void> {
    for (const [database, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ]) {
      await this.sqlTool(database, ['create-database']);
      await this.sqlTool(database, ['setup-schema', '-v', '0.0']);
      await this.sqlTool(database, ['update-schema', '-d', path.join(serverDir, 'schema', schema, 'versioned')]);
    }
  }

  private async choosePorts(): Promise<void> {
    const names = [
      'FRONTEND_GRPC_PORT',
      'FRONTEND_HTTP_PORT',
      'FRONTEND_MEMBERSHIP_PORT',
      'HISTORY_GRPC_PORT',
      'HISTORY_MEMBERSHIP_PORT',
      'MATCHING_GRPC_PORT',
      'MATCHING_MEMBERSHIP_PORT',
      'WORKER_GRPC_PORT',
      'WORKER_MEMBERSHIP_PORT',
    ];
    const chosen = new Set<number>();
    for (const n of names) {
      const p = await freeLowPort(chosen);
      chosen.add(p);
      this.ports[n] = p;
    }
  }

  /** The server's environment: the compose file's, with this machine's database address and ports. */
  private serverEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    for (const [k, v] of Object.entries(this.compose.serverEnv)) env[k] = v;
    env.POSTGRES_SEEDS = '127.0.0.1';
    env.DB_PORT = String(this.pgPort);
    env.POSTGRES_PWD = this.password;
    env.BIND_ON_IP = '127.0.0.1';
    env.DYNAMIC_CONFIG_FILE_PATH = DYNAMIC_CONFIG;
    for (const [k, v] of Object.entries(this.ports)) env[k] = String(v);
    return env;
  }

  /** The server from deploy/temporal-server.yaml; resolves once its frontend answers. */
  async startServer(): Promise<void> {
    const root = path.join(this.opts.dir, 'temporal');
    fs.mkdirSync(path.join(root, 'config'), { recursive: true });
    fs.copyFileSync(SERVER_CONFIG, path.join(root, 'config', 'production.yaml'));
    fs.appendFileSync(this.serverLog, `--- start ${++this.serverStarts} at ${new Date().toISOString()}\n`);
    const fd = fs.openSync(this.serverLog, 'a');
    const child = own(
      spawn(path.join(serverDir, 'server'), ['--root', root, '--config', 'config', '--env', 'production', 'start'], {
        cwd: root,
        env: this.serverEnv(),
        stdio: ['ignore', fd, fd],
      }),
    );
    fs.closeSync(fd);
    this.server = child;
    const deadline = Date.now() + 60_000;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (exited(child))
        throw new Error(
          `the Temporal server exited (${child.exitCode ?? child.signalCode}) while starting:\n${tail(this.serverLog)}`,
        );
      try {
        const c = await Connection.connect({ address: this.address, connectTimeout: 2_000 });
        try {
          await c.healthService.check({});
          await c.workflowService.getSystemInfo({});
          return;
        } finally {
          await c.close();
        }
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await sleep(500);
    }
    throw new Error(`the Temporal server did not answer within 60 s (${last}):\n${tail(this.serverLog)}`);
  }

  /** SIGTERM to the server's PID (SIGKILL after 20 s). PostgreSQL keeps running. */
  async stopServer(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await stopProcess(s, 'SIGTERM', 20_000);
  }

  async restartServer(downMs: number): Promise<void> {
    await this.stopServer();
    await sleep(downMs);
    await this.startServer();
  }

  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  temporal(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(this.opts.temporalCli, [...args, '--address', this.address], { env: process.env });
  }

  /**
   * The namespace as the auto-setup container registers it (retention 24h), then
   * the compose file's own setup command, run by sh with this server's address.
   */
  private async setUpNamespace(): Promise<void> {
    const ns = this.namespace;
    const described = await this.temporal(['operator', 'namespace', 'describe', '--namespace', ns]).then(
      () => true,
      () => false,
    );
    if (!described)
      await this.temporal([
        'operator',
        'namespace',
        'create',
        '--namespace',
        ns,
        '--retention',
        '24h',
        '--description',
        'Default namespace for Temporal Server.',
      ]);
    // the frontend answers for a new namespace once its namespace cache has refreshed
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await this.temporal(['operator', 'search-attribute', 'list', '--namespace', ns]).then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`namespace ${ns} did not become usable within 60 s`);
      await sleep(1_000);
    }
    const cliDir = path.dirname(this.opts.temporalCli);
    const setupEnv = { ...process.env, PATH: `${cliDir}:${process.env.PATH}`, TEMPORAL_ADDRESS: this.address };
    const wanted = Object.keys(this.compose.searchAttributes);
    for (let attempt = 1; ; attempt++) {
      await run('sh', ['-c', this.compose.setupCommand], { env: setupEnv });
      const listed = await this.searchAttributes();
      const missing = wanted.filter((n) => !(n in listed));
      if (!missing.length) return this.awaitSearchAttributesInUse(wanted);
      if (attempt === 10)
        throw new Error(`the setup command did not register the search attributes ${missing.join(', ')}`);
      await sleep(2_000);
    }
  }

  /**
   * Registered is not yet usable: the frontend maps search attributes through
   * its namespace cache, which refreshes every few seconds, and until then
   * refuses workflows and queries that name them. Waits until a query naming
   * every one of them is accepted.
   */
  private async awaitSearchAttributesInUse(names: string[]): Promise<void> {
    const query = names.map((n) => `${n} = 'probe'`).join(' AND ');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await this.temporal([
        'workflow',
        'list',
        '--namespace',
        this.namespace,
        '--query',
        query,
        '--limit',
        '1',
      ]).then(
        () => true,
        () => false,
      );
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(`the search attributes ${names.join(', ')} were not usable in queries within 60 s`);
      await sleep(1_000);
    }
  }

  /** The custom search attributes of the namespace: name → type. */
  async searchAttributes(): Promise<Record<string, string>> {
    const { stdout } = await this.temporal([
      'operator',
      'search-attribute',
      'list',
      '--namespace',
      this.namespace,
      '--output',
      'json',
    ]);
    const parsed = JSON.parse(stdout) as { customAttributes?: Record<string, string> };
    // INDEXED_VALUE_TYPE_KEYWORD_LIST → KeywordList, the name `search-attribute create --type` takes
    const typeName = (t: string) =>
      t
        .replace(/^INDEXED_VALUE_TYPE_/, '')
        .toLowerCase()
        .split('_')
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
        .join('');
    const names: Record<string, string> = {};
    for (const [n, t] of Object.entries(parsed.customAttributes ?? {})) names[n] = typeName(String(t));
    return names;
  }

  /** Stops the server and PostgreSQL (by PID) and removes nothing: the caller owns the directory. */
  async stop(): Promise<void> {
    await this.stopServer();
    // SIGINT: PostgreSQL's fast shutdown
    const pg = this.postgres;
    this.postgres = undefined;
    await stopProcess(pg, 'SIGINT', 20_000);
  }
}

/** A cluster in a new temporary directory. */
export async function startCluster(temporalCli: string): Promise<{ cluster: Cluster; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-cluster-'));
  const cluster = new Cluster({ dir, temporalCli });
  try {
    await cluster.start();
  } catch (err) {
    // the error carries the end of the logs
    await cluster.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { cluster, dir };
}
