/** Where the tier's real Keystone and Glance are, and small helpers the suites share. */
import fs from 'node:fs';
import { CloudAuth, Cloud, ConnectOptions, connectCloud } from '../../openstack';
import type { RealOpenStack, RealUser } from '../support/real-openstack';

type Stack = Omit<RealOpenStack, 'stop'>;

function load(): Stack | { unavailable: string } {
  const file = process.env.REAL_TIER_INFO;
  if (!file || !fs.existsSync(file))
    return {
      unavailable:
        'run this tier with `npm run test:real` (jest -c jest.real.config.js), which starts the real services',
    };
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Stack | { unavailable: string };
}

const loaded = load();
/** The stack, or undefined when it could not run here (see `skipReason`). */
export const stack: Stack | undefined = 'unavailable' in loaded ? undefined : loaded;
const skipReason = 'unavailable' in loaded ? loaded.unavailable : '';
/** `describe` when the real services run, else a skipped describe whose name says why. */
export const describeReal = (name: string, fn: () => void): void =>
  stack ? describe(name, fn) : describe.skip(`${name} (skipped: ${skipReason})`, fn);

export type Who = 'admin' | 'demo' | 'alt';

export function user(who: Who): RealUser {
  return stack![who];
}

function authOf(who: Who, extra: Partial<CloudAuth> = {}): CloudAuth {
  const u = user(who);
  return {
    authUrl: stack!.keystone.authUrl,
    username: u.username,
    password: u.password,
    projectName: u.projectName,
    userDomainName: u.userDomainName,
    projectDomainName: u.projectDomainName,
    regionName: stack!.region,
    ...extra,
  };
}

/** Opens clients and closes them all at the end of the suite. */
export function cloudPool(): {
  connect(who: Who, extra?: Partial<CloudAuth>, opts?: ConnectOptions): Promise<Cloud>;
  closeAll(): void;
} {
  const clouds: Cloud[] = [];
  return {
    async connect(who, extra = {}, opts = {}) {
      const c = await connectCloud(authOf(who, extra), opts);
      clouds.push(c);
      return c;
    },
    closeAll() {
      for (const c of clouds.splice(0)) c.close();
    },
  };
}

/** A raw request to a real service with a token of `who`; returns status, headers and parsed body. */
export async function raw(
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const headers: Record<string, string> = { Accept: 'application/json', ...(opts.headers ?? {}) };
  if (opts.token) headers['X-Auth-Token'] = opts.token;
  if (opts.body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** A project-scoped token for `who` from a Keystone at authUrl (…/v3). */
export async function tokenFor(
  authUrl: string,
  u: { username: string; password: string; projectName: string },
): Promise<string> {
  const res = await raw('POST', `${authUrl}/auth/tokens`, {
    body: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: u.username, domain: { name: 'Default' }, password: u.password } },
        },
        scope: { project: { name: u.projectName, domain: { name: 'Default' } } },
      },
    },
  });
  if (res.status !== 201) throw new Error(`token for ${u.username}: ${res.status} ${res.text}`);
  return res.headers.get('x-subject-token')!;
}
