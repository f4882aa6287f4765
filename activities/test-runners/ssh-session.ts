/**
 * An SSH connection to the test instance on ssh2: run commands with their exit
 * codes, stream output, send stdin, and upload files through `cat` (no SFTP
 * needed, which minimal images and some appliances lack). With a known_hosts
 * file, the server must present a host key pinned there.
 */
import fs from 'node:fs';
import { Client, ClientChannel } from 'ssh2';
import { shellQuote } from '../../common/shell';
import { pinnedConnectOptions } from './host-keys';

export { shellQuote };

interface SshTarget {
  ip: string;
  port: number;
  username: string;
  privateKeyFile: string;
  /** The instance's known_hosts: the host key must be one it pins (absent: not checked). */
  knownHostsFile?: string;
}

export interface ExecOptions {
  /** Sent to the command's stdin, then closed. */
  input?: string | Buffer;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Run with `sudo -n` (no password prompt). */
  sudo?: boolean;
  /** Milliseconds; the channel is closed when it passes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Exit code; null when the command ended by a signal or was cut off. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export class SshSession {
  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
  ) {}

  static connect(target: SshTarget, opts: { readyTimeoutMs?: number } = {}): Promise<SshSession> {
    const privateKey = fs.readFileSync(target.privateKeyFile);
    const pinned = target.knownHostsFile ? pinnedConnectOptions(target, target.knownHostsFile) : undefined;
    return new Promise((resolve, reject) => {
      const client = new Client();
      const onError = (err: Error) => {
        client.end();
        reject(pinned?.mismatch() ?? new Error(`ssh ${target.username}@${target.ip}:${target.port}: ${err.message}`));
      };
      client.once('error', onError);
      client.once('ready', () => {
        client.removeListener('error', onError);
        client.on('error', () => undefined);
        resolve(new SshSession(client, target));
      });
      client.connect({
        host: target.ip,
        port: target.port,
        username: target.username,
        privateKey,
        readyTimeout: opts.readyTimeoutMs ?? 20_000,
        keepaliveInterval: 10_000,
        ...(pinned?.options ?? {}),
      });
    });
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const cmd = opts.sudo ? `sudo -n sh -c ${shellQuote(command)}` : command;
    return new Promise((resolve, reject) => {
      this.client.exec(cmd, (err, channel: ClientChannel) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        let code: number | null = null;
        let signal: string | undefined;
        let timedOut = false;
        let timer: NodeJS.Timeout | undefined;
        const cut = () => {
          try {
            channel.signal('KILL');
          } catch {
            // servers may refuse signals; closing the channel ends the session anyway
          }
          channel.close();
        };
        if (opts.timeoutMs && opts.timeoutMs > 0) {
          timer = setTimeout(() => {
            timedOut = true;
            cut();
          }, opts.timeoutMs);
        }
        const onAbort = () => cut();
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        channel.on('data', (d: Buffer) => {
          stdout += d.toString();
          opts.onStdout?.(d);
        });
        channel.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          opts.onStderr?.(d);
        });
        channel.on('exit', (c: number | null, sig?: string) => {
          code = typeof c === 'number' ? c : null;
          if (sig) signal = sig;
        });
        channel.on('close', () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          resolve({ code, ...(signal ? { signal } : {}), stdout, stderr, timedOut });
        });
        channel.end(opts.input ?? '');
      });
    });
  }

  /** Writes `content` (or a local file's content) to `remotePath` with `mode`. */
  async upload(
    content: string | Buffer | { file: string },
    remotePath: string,
    opts: { mode?: number; sudo?: boolean } = {},
  ): Promise<void> {
    const data = typeof content === 'object' && 'file' in content ? fs.readFileSync(content.file) : content;
    const mode = (opts.mode ?? 0o644).toString(8);
    const q = shellQuote(remotePath);
    const r = await this.exec(`umask 077 && cat > ${q} && chmod ${mode} ${q}`, { input: data, sudo: opts.sudo });
    if (r.code !== 0) throw new Error(`upload to ${remotePath} failed (exit ${r.code}): ${r.stderr.trim()}`);
  }

  close(): void {
    this.client.end();
  }
}
