/**
 * The HTTP layer shared by all service clients: one axios instance per cloud
 * (TLS settings, keep-alive agents, time limit), debug output with secrets
 * redacted, error answers turned into typed errors, and token injection with
 * one re-authentication when a service answers 401.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { Stream } from 'node:stream';
import type { Readable } from 'node:stream';
import axios, { AxiosInstance, AxiosResponse, RawAxiosRequestHeaders } from 'axios';
import {
  httpError,
  OpenStackConnectionError,
  OpenStackHttpError,
  ServiceType,
  UnexpectedResponseError,
} from './errors';
import { redactHeaders, redactJson, redactUrl, scrub, urlPath } from './redact';

export type DebugSink = (line: string) => void;

/**
 * The most an answer read whole (JSON, text, an error body) may hold. No API
 * answer comes near it; a cloud sending more is broken, and reading on would
 * only exhaust the worker's memory. Image data is streamed and not limited.
 */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_BODY_SHOWN = `${MAX_BODY_BYTES / (1024 * 1024)} MiB`;

interface TransportOptions {
  debug?: DebugSink;
  /** Limit for one ordinary request, ms (default 60 s). Uploads set their own. */
  timeoutMs?: number;
  insecure?: boolean;
  /** CA bundle file or a directory holding PEM files. */
  cacert?: string;
}

type QueryValue = string | number | boolean | undefined | null;
export type Query = Record<string, QueryValue | QueryValue[]>;

interface SendRequest {
  service: ServiceType;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  url: string;
  query?: Query;
  headers?: Record<string, string>;
  json?: unknown;
  /** A body streamed from a source; a factory so that a retry can reopen it. */
  stream?: () => Readable;
  /**
   * A body the caller writes into the request itself (called again for a
   * retry), sent with Node's http directly: the caller learns when each chunk
   * has left (write callbacks) and can reuse its buffers. Resolves once all is written.
   */
  writeBody?: (request: http.ClientRequest) => Promise<void>;
  streamLength?: number;
  contentType?: string;
  /** Set when the request is about one image, so a 404 maps to exit 50. */
  imageId?: string;
  /** Statuses that are not errors besides 2xx (e.g. 300 for version discovery, 404 for lookups). */
  accept?: number[];
  /** 0 disables the per-request limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Answer the body as a stream (`data` is a Readable) instead of reading it whole (image downloads). */
  responseStream?: boolean;
}

export interface Response<T = unknown> {
  status: number;
  headers: Record<string, string>;
  data: T;
  /** The raw body text (empty for streams). */
  text: string;
}

/** Reads a CA bundle, or every PEM / CRT file of a directory. */
function readCa(cacert: string): Buffer[] {
  const st = fs.statSync(cacert);
  if (!st.isDirectory()) return [fs.readFileSync(cacert)];
  return fs
    .readdirSync(cacert)
    .filter((f) => /\.(pem|crt|cer)$/i.test(f))
    .sort()
    .map((f) => fs.readFileSync(path.join(cacert, f)));
}

/** Builds a URL with the query appended (repeated keys for arrays, empty values dropped). */
function withQuery(url: string, query?: Query): string {
  if (!query) return url;
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) {
    const values = Array.isArray(v) ? v : [v];
    for (const one of values) {
      if (one === undefined || one === null) continue;
      u.searchParams.append(k, String(one));
    }
  }
  return u.toString();
}

/** Joins a base URL and a path without doubling or losing a slash. */
export function joinUrl(base: string, p: string): string {
  if (/^https?:\/\//i.test(p)) return p;
  return `${base.replace(/\/+$/, '')}/${p.replace(/^\/+/, '')}`;
}

/** Text without HTML tags and runs of whitespace, at most 500 characters. */
function plainText(text: string): string {
  const plain = text
    .replace(/<head>[\s\S]*?<\/head>/gi, ' ')
    .replace(/<h1>[\s\S]*?<\/h1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > 500 ? `${plain.slice(0, 500)}...` : plain;
}

/**
 * The service's own message from an error body: Nova (`{"badRequest":
 * {"message"}}`), Neutron (`{"NeutronError": {...}}`), Keystone (`{"error":
 * {"message"}}`), Glance (HTML, or JSON whose message still carries `<br />`).
 */
export function extractServerMessage(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  if (trimmed.startsWith('{')) {
    try {
      const body = JSON.parse(trimmed) as Record<string, unknown>;
      const fromObj = (o: unknown): string | undefined => {
        if (!o || typeof o !== 'object') return undefined;
        const r = o as Record<string, unknown>;
        for (const k of ['message', 'detail', 'description', 'title']) {
          if (typeof r[k] === 'string' && (r[k] as string).trim()) return r[k] as string;
        }
        return undefined;
      };
      const direct = fromObj(body);
      if (direct) return plainText(direct);
      if (typeof body.error === 'string') return plainText(body.error);
      for (const v of Object.values(body)) {
        const m = fromObj(v);
        if (m) return plainText(m);
      }
      if (Array.isArray(body.errors)) {
        const msg = body.errors
          .map((e) => fromObj(e) ?? '')
          .filter(Boolean)
          .join('; ');
        if (msg) return plainText(msg);
      }
    } catch {
      // not JSON after all: fall through to plain text
    }
  }
  return plainText(trimmed);
}

function requestIdOf(headers: Record<string, string>): string | undefined {
  return headers['x-openstack-request-id'] ?? headers['x-compute-request-id'] ?? headers['x-request-id'];
}

function lowerHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h || typeof h !== 'object') return out;
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
    if (v === undefined || v === null) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function describeBody(text: string, secrets: string[]): string {
  if (!text) return '';
  let shown: string;
  try {
    shown = JSON.stringify(redactJson(JSON.parse(text)));
  } catch {
    shown = text.replace(/\s+/g, ' ');
  }
  shown = scrub(shown, secrets);
  return shown.length > 1000 ? `${shown.slice(0, 1000)}... (${text.length} bytes)` : shown;
}

/** What a body is, for a message: its kind, never its content (it may hold anything). */
function kindOf(value: unknown): string {
  if (value === undefined || value === '') return 'an empty body';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'text that is not JSON';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A JSON object answer; anything else is UnexpectedResponseError (exit 1), not a crash later. */
export function asObject<T = Record<string, unknown>>(service: ServiceType, what: string, data: unknown): T {
  if (!isObject(data))
    throw new UnexpectedResponseError(service, `${what} answered ${kindOf(data)} where an object was expected`);
  return data as T;
}

/** `body[key]` as an object, e.g. the server of `{"server": {...}}`. */
export function memberOf<T>(service: ServiceType, what: string, data: unknown, key: string): T {
  const body = asObject(service, what, data);
  if (!isObject(body[key]))
    throw new UnexpectedResponseError(
      service,
      `${what} answered without an object '${key}' (got ${kindOf(body[key])})`,
    );
  return body[key] as T;
}

/** `body[key]` as a list of objects; absent or null is an empty list. */
export function listOf<T>(service: ServiceType, what: string, data: unknown, key: string): T[] {
  const body = asObject(service, what, data);
  const list = body[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || !list.every(isObject))
    throw new UnexpectedResponseError(service, `${what} answered a '${key}' that is not a list of objects`);
  return list as T[];
}

/** `rel: next` of a links list, ignoring entries of the wrong shape. */
export function nextLink(links: unknown): string | undefined {
  if (!Array.isArray(links)) return undefined;
  const next = links.find(
    (l): l is { rel: string; href: string } => isObject(l) && l.rel === 'next' && typeof l.href === 'string',
  );
  return next?.href;
}

/** One cloud's HTTP connection settings and the debug printer. */
export class Transport {
  readonly axios: AxiosInstance;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly debugSink?: DebugSink;
  private readonly timeoutMs: number;
  /** Values that must never be printed (passwords, secrets, tokens). */
  private readonly secrets = new Set<string>();

  constructor(opts: TransportOptions = {}) {
    this.debugSink = opts.debug;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.httpAgent = new http.Agent({ keepAlive: true });
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      rejectUnauthorized: !opts.insecure,
      ...(opts.cacert ? { ca: readCa(opts.cacert) } : {}),
    });
    this.axios = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      proxy: false,
      // Redirect support in axios buffers request bodies; OpenStack APIs do not redirect.
      maxRedirects: 0,
      maxBodyLength: Infinity,
      maxContentLength: MAX_BODY_BYTES,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      transitional: { silentJSONParsing: false, forcedJSONParsing: false, clarifyTimeoutError: true },
      validateStatus: () => true,
      decompress: true,
    });
  }

  /** Registers a value to be blanked out of debug lines and error messages. */
  addSecret(value: string | undefined): void {
    if (value) this.secrets.add(value);
  }

  debug(line: string): void {
    if (this.debugSink) this.debugSink(scrub(line, this.secrets));
  }

  get debugging(): boolean {
    return this.debugSink !== undefined;
  }

  scrub(text: string): string {
    return scrub(text, this.secrets);
  }

  /** The request id for a message: scrubbed (a cloud may echo anything there) and short. */
  private shownRequestId(headers: Record<string, string>): string | undefined {
    const rid = requestIdOf(headers);
    if (!rid) return undefined;
    const clean = this.scrub(rid);
    return clean.length > 100 ? `${clean.slice(0, 97)}...` : clean;
  }

  /** An answer too large to read whole: final (asking again brings the same), exit 1. */
  private tooLarge(req: SendRequest, url: string): UnexpectedResponseError {
    return new UnexpectedResponseError(
      req.service,
      `the answer to ${req.method} ${urlPath(url)} is larger than ${MAX_BODY_SHOWN}, more than any API answer needs`,
    );
  }

  /** Sends one request; returns the response for 2xx and accepted statuses, throws a typed error otherwise. */
  async send<T = unknown>(req: SendRequest): Promise<Response<T>> {
    const url = withQuery(req.url, req.query);
    const headers: RawAxiosRequestHeaders = { Accept: 'application/json', ...req.headers };
    let data: unknown;
    if (req.writeBody) {
      headers['Content-Type'] = req.contentType ?? 'application/octet-stream';
      if (req.streamLength !== undefined) headers['Content-Length'] = String(req.streamLength);
    } else if (req.stream) {
      data = req.stream();
      headers['Content-Type'] = req.contentType ?? 'application/octet-stream';
      if (req.streamLength !== undefined) headers['Content-Length'] = String(req.streamLength);
    } else if (req.json !== undefined) {
      data = JSON.stringify(req.json);
      headers['Content-Type'] = req.contentType ?? 'application/json';
    }
    const secrets = [...this.secrets];
    if (this.debugSink) {
      const shownBody =
        req.stream || req.writeBody
          ? ` body=<stream${req.streamLength !== undefined ? ` ${req.streamLength} bytes` : ''}>`
          : typeof data === 'string'
            ? ` body=${describeBody(data, secrets)}`
            : '';
      this.debug(
        `REQ: ${req.method} ${redactUrl(url)} headers=${JSON.stringify(redactHeaders(headers as Record<string, unknown>))}${shownBody}`,
      );
    }
    const started = Date.now();
    if (req.writeBody) return this.sendWritten<T>(req, url, headers as Record<string, string>, started, secrets);
    let res: AxiosResponse<string>;
    try {
      res = await this.axios.request<string>({
        method: req.method,
        url,
        headers,
        data,
        timeout: req.timeoutMs ?? this.timeoutMs,
        signal: req.signal,
        ...(req.responseStream ? { responseType: 'stream' as const, maxContentLength: Infinity } : {}),
      });
    } catch (err) {
      // a body still flowing into a request that ended (aborted, refused) must stop: its next write would fail unheard
      if (data instanceof Stream) (data as Readable).destroy();
      if (req.signal?.aborted) {
        this.debug(`ERR: ${req.method} ${redactUrl(url)} abandoned after ${Date.now() - started} ms`);
        throw req.signal.reason ?? err;
      }
      const e = err as { code?: string; message?: string };
      if (e.code === 'ERR_BAD_RESPONSE' && e.message?.startsWith('maxContentLength')) {
        this.debug(`ERR: ${req.method} ${redactUrl(url)} answer larger than ${MAX_BODY_SHOWN}`);
        throw this.tooLarge(req, url);
      }
      const reason = this.scrub([e.code, e.message].filter(Boolean).join(': ') || 'request failed');
      this.debug(`ERR: ${req.method} ${redactUrl(url)} ${reason}`);
      throw new OpenStackConnectionError(req.service, req.method, urlPath(url), reason);
    }
    const resHeaders = lowerHeaders(res.headers);
    if (req.responseStream) {
      const body = res.data as unknown as Readable;
      if (res.status >= 200 && res.status < 300) {
        this.debug(`RESP: ${res.status} ${req.method} ${redactUrl(url)} (${Date.now() - started} ms) body=<stream>`);
        return { status: res.status, headers: resHeaders, data: body as T, text: '' };
      }
      // an error answer: read it like any other
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const c of body) {
        chunks.push(Buffer.from(c as Buffer));
        bytes += (c as Buffer).length;
        if (bytes > MAX_BODY_BYTES) {
          body.destroy();
          throw this.tooLarge(req, url);
        }
      }
      res = { ...res, data: Buffer.concat(chunks).toString('utf8') };
    }
    const text =
      typeof res.data === 'string' ? res.data : res.data === undefined || res.data === null ? '' : String(res.data);
    return this.answer<T>(req, url, res.status, resHeaders, text, started, secrets);
  }

  /** An answer read whole: logged, an error status thrown as a typed error, JSON parsed. */
  private answer<T>(
    req: SendRequest,
    url: string,
    status: number,
    resHeaders: Record<string, string>,
    text: string,
    started: number,
    secrets: string[],
  ): Response<T> {
    if (this.debugSink) {
      const rid = requestIdOf(resHeaders);
      this.debug(
        `RESP: ${status} ${req.method} ${redactUrl(url)} (${Date.now() - started} ms)${rid ? ` request-id=${rid}` : ''} headers=${JSON.stringify(redactHeaders(resHeaders))}${text ? ` body=${describeBody(text, secrets)}` : ''}`,
      );
    }
    const ok = (status >= 200 && status < 300) || (req.accept ?? []).includes(status);
    if (!ok) {
      throw httpError({
        service: req.service,
        method: req.method,
        url: urlPath(url),
        status,
        requestId: this.shownRequestId(resHeaders),
        serverMessage: this.scrub(extractServerMessage(text)),
        imageId: req.imageId,
      });
    }
    let parsed: unknown = text;
    const ct = resHeaders['content-type'] ?? '';
    if (text && (ct.includes('json') || /^\s*[{[]/.test(text))) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    } else if (!text) {
      parsed = undefined;
    }
    return { status, headers: resHeaders, data: parsed as T, text };
  }

  /** A request whose body the caller writes (SendRequest.writeBody), with Node's http and this transport's agents. */
  private async sendWritten<T>(
    req: SendRequest,
    url: string,
    headers: Record<string, string>,
    started: number,
    secrets: string[],
  ): Promise<Response<T>> {
    const target = new URL(url);
    const tls = target.protocol === 'https:';
    let status: number;
    let resHeaders: Record<string, string>;
    let text: string;
    try {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const request = (tls ? https : http).request(target, {
          method: req.method,
          headers,
          agent: tls ? this.httpsAgent : this.httpAgent,
          ...(req.signal ? { signal: req.signal } : {}),
        });
        request.on('response', resolve);
        request.on('error', reject);
        const limit = req.timeoutMs ?? this.timeoutMs;
        if (limit) request.setTimeout(limit, () => request.destroy(new Error(`timeout of ${limit}ms exceeded`)));
        req.writeBody!(request).then(
          () => {
            if (!request.destroyed) request.end();
          },
          (err: unknown) => request.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      });
      status = res.statusCode ?? 0;
      resHeaders = lowerHeaders(res.headers);
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const c of res) {
        chunks.push(c as Buffer);
        bytes += (c as Buffer).length;
        if (bytes > MAX_BODY_BYTES) {
          res.destroy();
          throw this.tooLarge(req, url);
        }
      }
      text = Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      if (err instanceof UnexpectedResponseError) throw err;
      if (req.signal?.aborted) {
        this.debug(`ERR: ${req.method} ${redactUrl(url)} abandoned after ${Date.now() - started} ms`);
        throw req.signal.reason ?? err;
      }
      const e = err as { code?: string; message?: string };
      const reason = this.scrub([e.code, e.message].filter(Boolean).join(': ') || 'request failed');
      this.debug(`ERR: ${req.method} ${redactUrl(url)} ${reason}`);
      throw new OpenStackConnectionError(req.service, req.method, urlPath(url), reason);
    }
    return this.answer<T>(req, url, status, resHeaders, text, started, secrets);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Gives a service client a token, and a fresh one after a 401. */
export interface TokenSource {
  token(): Promise<string>;
  /** Forgets the token if it is still the current one. */
  invalidate(token: string): void;
}

export interface ServiceRequest extends Omit<SendRequest, 'service' | 'url'> {
  path: string;
}

/** Base of the per-service clients: endpoint, token and the 401 retry. */
export class ServiceHttp {
  private root?: string;
  private rootPromise?: Promise<string>;

  constructor(
    readonly transport: Transport,
    readonly service: ServiceType,
    /** Versioned API root (e.g. https://glance:9292/v2), or how to find it in the catalog. */
    root: string | (() => Promise<string>),
    private readonly tokens: TokenSource,
    private readonly defaultHeaders: () => Record<string, string> = () => ({}),
  ) {
    if (typeof root === 'string') this.root = root;
    else this.resolveRoot = root;
  }

  private resolveRoot?: () => Promise<string>;

  /** The versioned API root, looked up once. */
  async baseUrl(): Promise<string> {
    if (this.root !== undefined) return this.root;
    const resolve = this.resolveRoot;
    if (!resolve) throw new Error('no endpoint');
    this.rootPromise ??= resolve().then(
      (r) => (this.root = r),
      (err: unknown) => {
        this.rootPromise = undefined;
        throw err;
      },
    );
    return this.rootPromise;
  }

  async url(p: string): Promise<string> {
    return joinUrl(await this.baseUrl(), p);
  }

  async request<T = unknown>(req: ServiceRequest): Promise<Response<T>> {
    const { path: p, ...rest } = req;
    const url = await this.url(p);
    const first = await this.tokens.token();
    const attempt = (token: string) =>
      this.transport.send<T>({
        ...rest,
        service: this.service,
        url,
        headers: { ...this.defaultHeaders(), ...rest.headers, 'X-Auth-Token': token },
      });
    try {
      return await attempt(first);
    } catch (err) {
      if (!(err instanceof OpenStackHttpError) || err.status !== 401) throw err;
      this.transport.debug(`token refused by ${this.service}, authenticating again`);
      this.tokens.invalidate(first);
      const second = await this.tokens.token();
      return attempt(second);
    }
  }

  /** GET of a resource or a list: the answer must be a JSON object. */
  async get<T>(p: string, query?: Query, extra: Partial<ServiceRequest> = {}): Promise<T> {
    return asObject<T>(
      this.service,
      `GET ${p}`,
      (await this.request<T>({ method: 'GET', path: p, query, ...extra })).data,
    );
  }

  async post<T>(p: string, json?: unknown, extra: Partial<ServiceRequest> = {}): Promise<T> {
    return (await this.request<T>({ method: 'POST', path: p, json, ...extra })).data;
  }

  async put<T>(p: string, json?: unknown, extra: Partial<ServiceRequest> = {}): Promise<T> {
    return (await this.request<T>({ method: 'PUT', path: p, json, ...extra })).data;
  }

  async delete(p: string, extra: Partial<ServiceRequest> = {}): Promise<void> {
    await this.request({ method: 'DELETE', path: p, ...extra });
  }
}

/**
 * Follows a `next` link by taking its query string only and applying it to our
 * own endpoint: real clouds return links with internal host names, other
 * ports or without the version prefix.
 */
export function nextQuery(next: unknown): Query | undefined {
  if (!next || typeof next !== 'string') return undefined;
  const q = next.indexOf('?');
  if (q < 0) return undefined;
  const params = new URLSearchParams(next.slice(q + 1));
  const out: Record<string, string[]> = {};
  for (const [k, v] of params) (out[k] ??= []).push(v);
  return out;
}
