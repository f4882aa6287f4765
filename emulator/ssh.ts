/**
 * The guests: each ACTIVE server gets an SSH server on its own loopback address
 * that accepts the server's keypair for its default users, runs commands in a
 * per-server directory and answers `hostname` with the server's hostname. Each
 * server has host keys of its own (ECDSA and ED25519, made at its first boot
 * and kept in its directory), which its console log prints as cloud-init does.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection, ParsedKey, Server as SshServer, ServerChannel, utils } from 'ssh2';
import { generateSshKeyPair } from './keys';

interface GuestSpec {
  id: string;
  hostname: string;
  ip: string;
  users: string[];
  publicKey: string | null;
  /** Present host keys other than the server's own (another machine answering at its address). */
  impostor?: boolean;
}

interface Guest {
  spec: GuestSpec;
  server: SshServer;
  connections: Set<Connection>;
  children: Set<ChildProcess>;
  dir: string;
}

let utsNamespaces: boolean | undefined;
/** Whether this machine lets us give each command its own hostname (needs root or user namespaces). */
function canUseUtsNamespace(): boolean {
  if (utsNamespaces === undefined) {
    const r = spawnSync('unshare', ['--uts', 'sh', '-c', 'hostname emulator-probe && hostname'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    utsNamespaces = r.status === 0 && r.stdout.trim() === 'emulator-probe';
  }
  return utsNamespaces;
}

const HOST_KEY_TYPES = ['ecdsa', 'ed25519'] as const;

interface HostKeyPair {
  private: string;
  /** `TYPE BASE64` */
  public: string;
}

/** The public line (`TYPE BASE64`) of a private key. */
function publicLine(privateKey: string): string {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error) throw key;
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/** A server's host keys from its directory, made there at first use so restarts keep them. */
function ownHostKeys(dir: string): HostKeyPair[] {
  fs.mkdirSync(dir, { recursive: true });
  return HOST_KEY_TYPES.map((type) => {
    const file = path.join(dir, `ssh_host_${type}_key`);
    let priv: string;
    try {
      priv = fs.readFileSync(file, 'utf8');
    } catch {
      priv = generateSshKeyPair(type).private;
      fs.writeFileSync(file, priv, { mode: 0o600 });
    }
    return { private: priv, public: publicLine(priv) };
  });
}

/** Fresh keys of the same types: what another machine at the server's address would present. */
function impostorHostKeys(): HostKeyPair[] {
  return HOST_KEY_TYPES.map((type) => {
    const priv = generateSshKeyPair(type).private;
    return { private: priv, public: publicLine(priv) };
  });
}

function parsePublic(key: string | null): ParsedKey | undefined {
  if (!key) return undefined;
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) return undefined;
  return Array.isArray(parsed) ? parsed[0] : parsed;
}

export class Guests {
  private guests = new Map<string, Guest>();

  constructor(
    readonly port: number,
    private readonly root: string,
  ) {}

  has(id: string): boolean {
    return this.guests.has(id);
  }

  /** The server's own host keys as `TYPE BASE64` lines (what its console log prints). */
  publicHostKeys(id: string): string[] {
    return ownHostKeys(path.join(this.root, id)).map((k) => k.public);
  }

  /** Starts answering SSH for a server; rejects when its address cannot be bound. */
  async start(spec: GuestSpec): Promise<void> {
    await this.stop(spec.id);
    const dir = path.join(this.root, spec.id);
    fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
    if (!canUseUtsNamespace()) {
      // Without namespaces, a `hostname` earlier on PATH answers for the guest
      const shim = path.join(dir, 'bin', 'hostname');
      fs.writeFileSync(shim, `#!/bin/sh\necho '${spec.hostname}'\n`, { mode: 0o755 });
    }
    const allowed = parsePublic(spec.publicKey);
    const guest: Guest = {
      spec,
      server: undefined as unknown as SshServer,
      connections: new Set(),
      children: new Set(),
      dir,
    };
    const hostKeys = (spec.impostor ? impostorHostKeys() : ownHostKeys(dir)).map((k) => k.private);
    const server = new SshServer({ hostKeys, ident: 'OpenSSH_9.2p1 Debian-2' }, (client) => {
      guest.connections.add(client);
      client.on('close', () => guest.connections.delete(client));
      client.on('error', () => client.end());
      client.on('authentication', (ctx) => {
        if (ctx.method !== 'publickey' || !allowed || !spec.users.includes(ctx.username))
          return ctx.reject(['publickey']);
        if (ctx.key.algo !== allowed.type || !ctx.key.data.equals(allowed.getPublicSSH()))
          return ctx.reject(['publickey']);
        if (!ctx.signature) return ctx.accept();
        if (allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
        return ctx.reject(['publickey']);
      });
      client.on('ready', () => {
        client.on('session', (acceptSession) => {
          const session = acceptSession();
          const env: Record<string, string> = {};
          let pty: { term: string; cols: number; rows: number } | undefined;
          session.on('pty', (accept, _reject, info) => {
            pty = { term: info.term, cols: info.cols, rows: info.rows };
            accept?.();
          });
          session.on('env', (accept, _reject, info) => {
            env[info.key] = info.val;
            accept?.();
          });
          session.on('window-change', (accept) => accept?.());
          session.on('exec', (accept, _reject, info) => this.run(guest, accept(), info.command, env, pty));
          session.on('shell', (accept) => this.run(guest, accept(), undefined, env, pty));
          session.on('sftp', (_accept, reject) => reject());
          session.on('subsystem', (_accept, reject) => reject());
        });
      });
    });
    guest.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, spec.ip, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.guests.set(spec.id, guest);
  }

  private run(
    guest: Guest,
    ch: ServerChannel,
    command: string | undefined,
    clientEnv: Record<string, string>,
    pty?: { term: string },
  ): void {
    const { dir, spec } = guest;
    const user = spec.users[0];
    const env: NodeJS.ProcessEnv = {
      ...clientEnv,
      HOME: dir,
      USER: user,
      LOGNAME: user,
      SHELL: '/bin/sh',
      PATH: `${path.join(dir, 'bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      ...(pty ? { TERM: pty.term || 'xterm' } : {}),
    };
    // An interactive shell with a terminal gets one through script(1); commands run in sh
    const inner = command ?? (pty ? `exec script -qfec '/bin/sh -i' /dev/null` : '/bin/sh -s');
    const child = canUseUtsNamespace()
      ? spawn(
          'unshare',
          [
            '--uts',
            '/bin/sh',
            '-c',
            'hostname "$1" && cd "$3" && exec /bin/sh -c "$2"',
            'sh',
            spec.hostname,
            inner,
            dir,
          ],
          { cwd: dir, env },
        )
      : spawn('/bin/sh', ['-c', inner], { cwd: dir, env });
    guest.children.add(child);
    ch.pipe(child.stdin!).on('error', () => undefined);
    child.stdin!.on('error', () => undefined);
    child.stdout!.pipe(ch, { end: false });
    child.stderr!.pipe(ch.stderr, { end: false });
    ch.on('close', () => {
      if (child.exitCode === null) child.kill('SIGHUP');
    });
    child.on('error', () => {
      ch.exit(127);
      ch.end();
    });
    child.on('close', (code, signal) => {
      guest.children.delete(child);
      try {
        if (signal) ch.exit(signal.replace(/^SIG/, ''), false, '');
        else ch.exit(code ?? 0);
        ch.end();
      } catch {
        // the client went away first
      }
    });
  }

  /** Stops a server's SSH endpoint: no new connections, open sessions are cut. */
  async stop(id: string, removeFiles = false): Promise<void> {
    const guest = this.guests.get(id);
    if (guest) {
      this.guests.delete(id);
      for (const c of guest.children) c.kill('SIGKILL');
      for (const conn of guest.connections) conn.end();
      await new Promise<void>((resolve) => guest.server.close(() => resolve()));
    }
    if (removeFiles) fs.rmSync(path.join(this.root, id), { recursive: true, force: true });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.guests.keys()].map((id) => this.stop(id)));
  }
}

/** The hostname Nova derives from a display name. */
export function hostnameFor(name: string): string {
  const h = name
    .replace(/[ _.]/g, '-')
    .replace(/[^\w-]+/g, '')
    .toLowerCase()
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 63);
  return h || 'server';
}
