/** Plain HTTP calls against the emulator, as a client with no OpenStack library would make them. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Credentials, Emulator } from '../../emulator';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export async function call(
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Accept: 'application/json', ...(opts.headers ?? {}) };
  if (opts.token) headers['X-Auth-Token'] = opts.token;
  let body: string | Buffer | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function passwordAuth(c: Credentials) {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: c.username, domain: { name: c.userDomainName }, password: c.password } },
      },
      scope: { project: { name: c.projectName, domain: { name: c.projectDomainName } } },
    },
  };
}

export interface Session {
  token: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  catalog: any[];
  url(type: 'image' | 'compute' | 'network' | 'identity', region?: string): string;
}

export async function login(emu: Emulator, who: 'admin' | 'user' = 'user'): Promise<Session> {
  const r = await call('POST', `${emu.authUrl}/auth/tokens`, { body: passwordAuth(emu[who]) });
  if (r.status !== 201) throw new Error(`login failed: ${r.status} ${r.text}`);
  const token = r.headers.get('x-subject-token')!;
  const catalog = r.json.token.catalog;
  return {
    token,
    catalog,
    url(type, region = emu.regions[0]) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const svc = catalog.find((s: any) => s.type === type);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return svc.endpoints.find((e: any) => e.region === region && e.interface === 'public').url as string;
    },
  };
}

export async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs a program without blocking the event loop (the emulator lives in the same process). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    // a program that exits without reading its input (ssh-keygen) closes the pipe first
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The absolute path of a program on PATH, or undefined. */
export function which(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = `${dir}/${program}`;
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
