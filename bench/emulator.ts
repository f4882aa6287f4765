/**
 * The bundled OpenStack emulator in a process of its own (`dibctl emulator
 * --json`), so that what it spends serving (hashing uploads, listing) is not
 * charged to the process being measured, and a request count it keeps can be
 * read back.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Credentials } from '../emulator';
import { passwordToken } from '../emulator/password-token';
import { freePort } from '../temporal/free-port';
import { DIBCTL } from './support';

export interface RequestCount {
  requests: number;
  /** e.g. `image GET /v2/images`, `compute GET /v2.1/servers/detail`. */
  byRoute: Record<string, number>;
}

export interface EmulatorProcess {
  pid: number;
  url: string;
  authUrl: string;
  admin: Credentials;
  user: Credentials;
  networks: Record<string, { id: string; name: string; cidr: string }>;
  dataDir: string;
  /** Requests served so far (every service, every method), as the emulator counts them: in all and per route. */
  requests(): Promise<RequestCount>;
  /** Sets fault knobs (e.g. `bootDelayMs: 0` for servers that boot at once). */
  setFaults(knobs: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `dibctl emulator --json`; with stateFile it loads (and keeps) that
 * state, with regions it serves those (RegionOne and RegionTwo without).
 */
export async function startEmulatorProcess(
  opts: { stateFile?: string; regions?: string[] } = {},
): Promise<EmulatorProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-bench-emulator-'));
  const port = await freePort();
  const args = [DIBCTL, '--json', 'emulator', '--port', String(port), '--data-dir', dataDir];
  if (opts.stateFile) args.push('--state-file', opts.stateFile);
  if (opts.regions) args.push('--regions', opts.regions.join(','));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  type Facts = Omit<EmulatorProcess, 'pid' | 'dataDir' | 'requests' | 'setFaults' | 'stop'>;
  const facts = await new Promise<Facts>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      try {
        resolve(JSON.parse(out) as Omit<EmulatorProcess, 'pid' | 'dataDir' | 'requests' | 'stop'>);
      } catch {
        // not whole yet
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => reject(new Error(`dibctl emulator exited ${code}:\n${err}`)));
  }).catch((err: unknown) => {
    // an emulator that never started leaves nothing behind either
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let token: string | undefined;
  const adminToken = async (): Promise<string> => {
    if (token) return token;
    token = await passwordToken(facts.authUrl, facts.admin);
    return token;
  };
  return {
    ...facts,
    pid: child.pid!,
    dataDir,
    async requests() {
      const t = await adminToken();
      const res = await fetch(`${facts.url}/_emulator/requests`, { headers: { 'X-Auth-Token': t } });
      return (await res.json()) as RequestCount;
    },
    async setFaults(knobs) {
      const res = await fetch(`${facts.url}/_emulator/faults`, {
        method: 'PUT',
        headers: { 'X-Auth-Token': await adminToken(), 'Content-Type': 'application/json' },
        body: JSON.stringify(knobs),
      });
      if (!res.ok) throw new Error(`setting faults ${JSON.stringify(knobs)}: ${res.status} ${await res.text()}`);
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
