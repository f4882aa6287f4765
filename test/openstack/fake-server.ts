/**
 * A tiny HTTP(S) server for cases the emulator cannot easily produce: odd
 * catalog URLs, a compute API that ignores microversions, recorded error
 * bodies. Bodies are hashed as they arrive; only small ones are kept.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  /** Path and query. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  md5: string;
  sha512: string;
  /** The body as text when it is smaller than 1 MiB. */
  text?: string;
  json?: unknown;
}

export interface FakeAnswer {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, strings as they are. */
  body?: unknown;
}

type FakeHandler = (req: FakeRequest, server: FakeServer) => FakeAnswer | Promise<FakeAnswer>;

export interface FakeServer {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

export async function startFakeServer(handler: FakeHandler, tls?: { key: string; cert: string }): Promise<FakeServer> {
  const requests: FakeRequest[] = [];
  const fake: FakeServer = { url: '', requests, close: async () => undefined };
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const md5 = createHash('md5');
    const sha = createHash('sha512');
    const kept: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      md5.update(chunk);
      sha.update(chunk);
      bytes += chunk.length;
      if (bytes <= 1 << 20) kept.push(chunk);
    });
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://fake');
      const r: FakeRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        bytes,
        md5: md5.digest('hex'),
        sha512: sha.digest('hex'),
      };
      if (bytes <= 1 << 20) {
        r.text = Buffer.concat(kept).toString('utf8');
        try {
          r.json = r.text ? JSON.parse(r.text) : undefined;
        } catch {
          r.json = undefined;
        }
      }
      requests.push(r);
      Promise.resolve(handler(r, fake)).then(
        (a) => {
          const body = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
          const headers: Record<string, string> = {
            ...(typeof a.body === 'object' ? { 'Content-Type': 'application/json' } : {}),
            ...a.headers,
          };
          res.writeHead(a.status ?? 200, headers);
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(String(err));
        },
      );
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

export const TOKEN = 'gAAAAAfake-token-value-0123456789';
export const PROJECT_ID = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';

/** A Keystone v3 token body with a catalog whose URLs the caller chooses. */
export function v3Token(
  catalog: { type: string; url: string; region?: string; interface?: string }[],
  expiresInMs = 3600_000,
) {
  return {
    token: {
      methods: ['password'],
      expires_at: new Date(Date.now() + expiresInMs).toISOString(),
      issued_at: new Date().toISOString(),
      project: { id: PROJECT_ID, name: 'demo', domain: { id: 'default', name: 'Default' } },
      user: { id: 'u1', name: 'demo', domain: { id: 'default', name: 'Default' } },
      roles: [{ id: 'r1', name: 'member' }],
      catalog: catalog.map((c, i) => ({
        type: c.type,
        name: c.type,
        id: `s${i}`,
        endpoints: [
          {
            id: `e${i}`,
            interface: c.interface ?? 'public',
            region: c.region ?? 'RegionOne',
            region_id: c.region ?? 'RegionOne',
            url: c.url,
          },
        ],
      })),
    },
  };
}
