/**
 * Small HTTP plumbing shared by the emulated services: routing, body reading,
 * and the error bodies each OpenStack service really sends.
 */
import http from 'node:http';

export type ServiceName = 'identity' | 'image' | 'compute' | 'network' | 'emulator';

/** An error that becomes an HTTP answer in the shape of the service that raised it. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Neutron's exception type name, Nova's error key override, ... */
    readonly kind?: string,
  ) {
    super(message);
  }
}

const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

const NOVA_KEYS: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  406: 'notAcceptable',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/**
 * The form of a Glance error body for an Accept header, chosen as webob does:
 * the offer (HTML, JSON, plain text, in that order of preference) with the
 * highest quality, the most specific media range deciding an offer's quality;
 * no Accept header at all gives plain text. So "any type" and axios' default
 * (JSON, plain text, any type) get HTML; only a client preferring JSON gets JSON.
 */
export function glanceErrorFormat(accept: string | string[] | undefined): 'html' | 'json' | 'plain' {
  const header = Array.isArray(accept) ? accept.join(',') : accept;
  if (header === undefined || header.trim() === '') return 'plain';
  const ranges = header.split(',').map((part) => {
    const [range, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q\s*=\s*([\d.]+)\s*$/.exec(p)).find(Boolean);
    return { range: range.trim(), q: q ? Number(q[1]) : 1 };
  });
  const offers = [
    ['html', 'text/html'],
    ['json', 'application/json'],
    ['plain', 'text/plain'],
  ] as const;
  let best: { format: 'html' | 'json' | 'plain'; q: number } = { format: 'plain', q: 0 };
  for (const [format, type] of offers) {
    const [major] = type.split('/');
    const match =
      ranges.find((r) => r.range === type) ??
      ranges.find((r) => r.range === `${major}/*`) ??
      ranges.find((r) => r.range === '*/*');
    if (match && match.q > best.q) best = { format, q: match.q };
  }
  return best.format;
}

/** The body a service sends for an error, as the real services format it. */
export function errorBody(
  service: ServiceName,
  status: number,
  message: string,
  kind?: string,
  acceptsJson: boolean | 'html' | 'json' | 'plain' = true,
): { body: string; contentType: string } {
  const title = STATUS_TITLES[status] ?? 'Error';
  switch (service) {
    case 'identity':
    case 'emulator':
      return { body: JSON.stringify({ error: { code: status, message, title } }), contentType: 'application/json' };
    case 'compute': {
      const key = kind ?? NOVA_KEYS[status] ?? 'computeFault';
      return {
        body: JSON.stringify({ [key]: { code: status, message } }),
        contentType: 'application/json; charset=UTF-8',
      };
    }
    case 'network':
      return {
        body: JSON.stringify({ NeutronError: { type: kind ?? `HTTP${title.replace(/ /g, '')}`, message, detail: '' } }),
        contentType: 'application/json',
      };
    case 'image':
      // Glance answers through webob: HTML, JSON or plain text (see glanceErrorFormat)
      if (acceptsJson === 'html') {
        return {
          body: `<html>\n <head>\n  <title>${status} ${title}</title>\n </head>\n <body>\n  <h1>${status} ${title}</h1>\n  ${message}<br /><br />\n\n\n\n </body>\n</html>`,
          contentType: 'text/html; charset=UTF-8',
        };
      }
      if (acceptsJson === true || acceptsJson === 'json') {
        return {
          body: JSON.stringify({ message: `${message}<br /><br />\n\n\n`, code: `${status} ${title}`, title }),
          contentType: 'application/json',
        };
      }
      return { body: `${status} ${title}\n\n${message}\n\n   `, contentType: 'text/plain; charset=UTF-8' };
  }
}

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  raw: http.IncomingMessage;
  /** Base URL the client used to reach us (scheme://host:port). */
  base: string;
}

type Params = Record<string, string>;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Already written (streamed answers). */
  handled?: boolean;
}

type Handler = (req: Request, params: Params, res: http.ServerResponse) => Promise<Reply> | Reply;

interface Route {
  method: string;
  /** As added, e.g. `/v2/images/:id`. */
  path: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** A tiny path router: `/v2/images/:id/file`. Unknown paths are 404, known paths with another method 405. */
export class Router {
  private routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((part) => {
        if (part.startsWith(':')) {
          names.push(part.slice(1));
          return '([^/]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, path, pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  match(method: string, path: string): { handler: Handler; params: Params; route: string } | 'method' | undefined {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params: Params = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return { handler: r.handler, params, route: `${r.method} ${r.path}` };
    }
    return pathMatched ? 'method' : undefined;
  }
}

/** Reads a request body up to a limit (API bodies are small; image data is streamed elsewhere). */
async function readBody(req: http.IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new HttpError(413, 'Request body too large.');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body; the message on failure is the caller's (each service words it differently). */
export async function readJson(req: http.IncomingMessage, malformedMessage: string): Promise<unknown> {
  const raw = (await readBody(req)).toString('utf8');
  if (raw.trim() === '') throw new HttpError(400, malformedMessage);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new HttpError(400, malformedMessage);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function nowIso(withMillis = false): string {
  const s = new Date().toISOString();
  return withMillis ? s.replace(/Z$/, '000Z') : s.replace(/\.\d{3}Z$/, 'Z');
}
