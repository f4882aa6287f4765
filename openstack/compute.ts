/**
 * Nova v2.1 (and the legacy v2 some catalogs still point at): flavors,
 * keypairs, servers and their actions.
 */
import { DibctlError, ExitCode } from '../errors';
import { isLegacyCompute } from './endpoints';
import { LookupError, OpenStackHttpError, UnexpectedResponseError } from './errors';
import { asObject, listOf, memberOf, nextLink, nextQuery, Query, Response, ServiceHttp, ServiceRequest } from './http';

interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  swap?: number | string;
  'OS-FLV-EXT-DATA:ephemeral'?: number;
  'OS-FLV-DISABLED:disabled'?: boolean;
  'os-flavor-access:is_public'?: boolean;
  rxtx_factor?: number;
  description?: string | null;
  /** In the flavor body since microversion 2.61; filled from os-extra_specs otherwise when asked for. */
  extra_specs?: Record<string, string>;
  links?: { rel: string; href: string }[];
  [key: string]: unknown;
}

interface Keypair {
  name: string;
  public_key: string;
  fingerprint: string;
  type?: string;
  user_id?: string;
  created_at?: string;
  [key: string]: unknown;
}

interface ServerAddress {
  addr: string;
  version: 4 | 6;
  'OS-EXT-IPS:type'?: 'fixed' | 'floating';
  'OS-EXT-IPS-MAC:mac_addr'?: string;
}

type ServerStatus =
  | 'ACTIVE'
  | 'BUILD'
  | 'DELETED'
  | 'ERROR'
  | 'HARD_REBOOT'
  | 'REBOOT'
  | 'REBUILD'
  | 'SHUTOFF'
  | 'SUSPENDED'
  | 'PAUSED'
  | 'RESIZE'
  | 'VERIFY_RESIZE'
  | 'MIGRATING'
  | 'RESCUE'
  | 'SHELVED'
  | 'SHELVED_OFFLOADED'
  | 'SOFT_DELETED'
  | 'UNKNOWN'
  | string;

interface ServerFault {
  code: number;
  message: string;
  details?: string;
  created?: string;
}

export interface Server {
  id: string;
  name: string;
  status: ServerStatus;
  tenant_id?: string;
  user_id?: string;
  /** Network name → addresses; names may contain `/` and addresses. */
  addresses: Record<string, ServerAddress[]>;
  /** `{id}` before microversion 2.47, the flavor's details after. */
  flavor: {
    id?: string;
    original_name?: string;
    ram?: number;
    vcpus?: number;
    disk?: number;
    extra_specs?: Record<string, string>;
    [k: string]: unknown;
  };
  /** `{id}`, or an empty string for a server booted from a volume. */
  image: { id: string; [k: string]: unknown } | '';
  key_name?: string | null;
  metadata?: Record<string, string>;
  created?: string;
  updated?: string;
  fault?: ServerFault;
  config_drive?: string;
  tags?: string[];
  'OS-EXT-AZ:availability_zone'?: string;
  'OS-EXT-STS:vm_state'?: string;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:power_state'?: number;
  accessIPv4?: string;
  accessIPv6?: string;
  links?: { rel: string; href: string }[];
  [key: string]: unknown;
}

/** One `networks` entry of a server create request (Nova's names). */
interface ServerNetwork {
  uuid?: string;
  port?: string;
  fixed_ip?: string;
  tag?: string;
}

interface ServerCreate {
  name: string;
  imageRef: string;
  flavorRef: string;
  key_name?: string;
  networks?: ServerNetwork[] | 'auto' | 'none';
  /** Plain user data; sent base64-encoded as the API requires. */
  user_data?: string | Buffer;
  config_drive?: boolean;
  availability_zone?: string;
  tags?: string[];
  metadata?: Record<string, string>;
  security_groups?: { name: string }[];
}

interface ServerCreated {
  id: string;
  links?: { rel: string; href: string }[];
}

interface ServerQuery {
  /** Servers of every project (admins only; otherwise Nova answers 403 → exit 61). */
  all_tenants?: boolean;
  name?: string;
  status?: string;
  image?: string;
  flavor?: string;
  project_id?: string;
  tenant_id?: string;
  limit?: number;
  marker?: string;
  [key: string]: string | number | boolean | undefined;
}

interface InterfaceAttachment {
  port_id: string;
  net_id: string;
  mac_addr: string;
  port_state: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  tag?: string | null;
}

interface RebuildOptions {
  name?: string;
  metadata?: Record<string, string>;
}

/** The server went to a state it cannot leave for the wanted one (exit 70). */
export class ServerStateError extends DibctlError {
  constructor(
    readonly serverId: string,
    readonly status: string,
    readonly expected: string,
    readonly fault?: ServerFault,
  ) {
    const f = fault ? `: ${fault.message}${fault.details ? ` (${fault.details.split('\n')[0]})` : ''}` : '';
    super(`Instance ${serverId} state is '${status}' (expected '${expected}')${f}`, ExitCode.INSTANCE_ERROR);
  }
}

/** The server did not reach the wanted state in time. */
class ServerWaitTimeoutError extends DibctlError {
  constructor(
    readonly serverId: string,
    readonly status: string,
    readonly expected: string,
    readonly limitMs: number,
  ) {
    super(
      `Instance ${serverId} is still '${status}' after ${Math.round(limitMs / 1000)} s (expected '${expected}')`,
      ExitCode.INSTANCE_ERROR,
    );
  }
}

function versionNumber(v: string): [number, number] {
  const [a, b] = v.split('.').map((x) => parseInt(x, 10));
  return [a || 2, b || 0];
}

/** The larger of two microversions ("2.52" > "2.9"). */
function maxMicroversion(a: string, b: string): string {
  const [a1, a2] = versionNumber(a);
  const [b1, b2] = versionNumber(b);
  return a1 > b1 || (a1 === b1 && a2 >= b2) ? a : b;
}

/**
 * From this microversion on, Nova lists a server of a cell it cannot reach with
 * status UNKNOWN and only a few fields; below it, such servers are left out of
 * the list without a word.
 */
const DOWN_CELLS_MICROVERSION = '2.69';

/** One page of a server list and the microversion Nova answered it with. */
interface ServerPage {
  servers: Server[];
  /** Undefined when the API ignores microversions (legacy v2). */
  microversion?: string;
}

/** A query as a comparable text: keys sorted, every value a list of strings. */
function querySignature(q: Query): string {
  return JSON.stringify(
    Object.keys(q)
      .sort()
      .map((k) => {
        const v = q[k];
        const values = (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined && x !== null).map(String);
        return [k, values];
      }),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function is404(err: unknown): boolean {
  return err instanceof OpenStackHttpError && err.status === 404;
}

interface ComputeOptions {
  /** The microversion asked for by default (default "2.1"); calls that need more ask for more. */
  microversion?: string;
  /** True when the endpoint is the legacy v2 API: no microversion headers are sent (default: judged from the URL). */
  legacy?: boolean;
}

export class ComputeClient {
  readonly microversion: string;
  /** The microversion the last answer declared; undefined when the API ignores microversions. */
  answeredMicroversion?: string;
  /** False once the cloud refused DOWN_CELLS_MICROVERSION (406): it is older than that. */
  private downCellsOffered?: boolean;

  constructor(
    readonly http: ServiceHttp,
    private readonly options: ComputeOptions = {},
  ) {
    this.microversion = options.microversion ?? '2.1';
  }

  private async call<T>(req: ServiceRequest, microversion = this.microversion): Promise<Response<T>> {
    const legacy = this.options.legacy ?? isLegacyCompute(await this.http.baseUrl());
    const headers: Record<string, string> = legacy
      ? {}
      : { 'OpenStack-API-Version': `compute ${microversion}`, 'X-OpenStack-Nova-API-Version': microversion };
    const res = await this.http.request<T>({ ...req, headers: { ...headers, ...req.headers } });
    const answered = res.headers['openstack-api-version'] ?? res.headers['x-openstack-nova-api-version'];
    this.answeredMicroversion = answered ? answered.replace(/^compute\s+/i, '') : undefined;
    return res;
  }

  private async get<T>(path: string, query?: Query, microversion?: string): Promise<T> {
    return asObject<T>(
      'compute',
      `GET ${path}`,
      (await this.call<T>({ method: 'GET', path, query }, microversion)).data,
    );
  }

  /** Pages through a list that answers `{<key>: [...], <key>_links: [{rel: next}]}`. */
  private async *paginate<T extends { id?: string; name?: string }>(
    path: string,
    key: string,
    query: Query,
    idKey: 'id' | 'name' = 'id',
  ): AsyncGenerator<T> {
    let q: Query | undefined = query;
    let previous = '';
    while (q) {
      const body: Record<string, unknown> = await this.get<Record<string, unknown>>(path, q);
      const items = listOf<T>('compute', `GET ${path}`, body, key);
      for (const item of items) yield item;
      let next = nextQuery(nextLink(body[`${key}_links`]));
      const limit = Number(q.limit);
      if (!next && limit > 0 && items.length >= limit) next = { ...q, marker: String(items[items.length - 1][idKey]) };
      const signature = JSON.stringify(next);
      if (!items.length || signature === previous) break;
      previous = signature;
      q = next;
    }
  }

  // ---- flavors ----

  async getFlavor(id: string): Promise<Flavor> {
    return memberOf<Flavor>(
      'compute',
      'GET flavors/{id}',
      await this.get(`flavors/${encodeURIComponent(id)}`),
      'flavor',
    );
  }

  async *flavors(query: Query = {}): AsyncGenerator<Flavor> {
    yield* this.paginate<Flavor>('flavors/detail', 'flavors', query);
  }

  async flavorExtraSpecs(id: string): Promise<Record<string, string>> {
    return (
      (await this.get<{ extra_specs?: Record<string, string> }>(`flavors/${encodeURIComponent(id)}/os-extra_specs`))
        .extra_specs ?? {}
    );
  }

  /**
   * dibctl's rule: the value is tried as a flavor id first, then as a flavor
   * name. Not found, or a name shared by several flavors → exit 60.
   * `extraSpecs` fills `extra_specs` when the body lacks them.
   */
  async findFlavor(idOrName: string, opts: { extraSpecs?: boolean } = {}): Promise<Flavor> {
    let flavor: Flavor | undefined;
    try {
      flavor = await this.getFlavor(idOrName);
    } catch (err) {
      if (!is404(err)) throw err;
    }
    if (!flavor) {
      const matches: Flavor[] = [];
      for await (const f of this.flavors()) if (f.name === idOrName) matches.push(f);
      if (matches.length > 1) {
        throw new LookupError(
          `Several flavors are named '${idOrName}' (${matches.map((f) => f.id).join(', ')}); use the id`,
          ExitCode.NOVA_BAD_REQUEST,
        );
      }
      flavor = matches[0];
    }
    if (!flavor)
      throw new LookupError(`Flavor '${idOrName}' not found (neither as id nor as name)`, ExitCode.NOVA_BAD_REQUEST);
    if (opts.extraSpecs && !flavor.extra_specs)
      flavor = { ...flavor, extra_specs: await this.flavorExtraSpecs(flavor.id) };
    return flavor;
  }

  // ---- keypairs ----

  /**
   * Imports a public key generated locally (Nova no longer generates keys
   * since 2.92). Importing the same key under the same name again returns the
   * existing keypair; a different key under that name is Nova's 409.
   */
  async importKeypair(name: string, publicKey: string): Promise<Keypair> {
    try {
      const res = await this.call<{ keypair: Keypair }>({
        method: 'POST',
        path: 'os-keypairs',
        json: { keypair: { name, public_key: publicKey } },
      });
      return memberOf<Keypair>('compute', 'POST os-keypairs', res.data, 'keypair');
    } catch (err) {
      if (!(err instanceof OpenStackHttpError) || err.status !== 409) throw err;
      const existing = await this.findKeypair(name);
      if (existing && existing.public_key.trim() === publicKey.trim()) return existing;
      throw err;
    }
  }

  async getKeypair(name: string): Promise<Keypair> {
    return memberOf<Keypair>(
      'compute',
      'GET os-keypairs/{name}',
      await this.get(`os-keypairs/${encodeURIComponent(name)}`),
      'keypair',
    );
  }

  async findKeypair(name: string): Promise<Keypair | undefined> {
    try {
      return await this.getKeypair(name);
    } catch (err) {
      if (is404(err)) return undefined;
      throw err;
    }
  }

  async keypairs(): Promise<Keypair[]> {
    const body = await this.get('os-keypairs');
    return listOf<{ keypair: unknown }>('compute', 'GET os-keypairs', body, 'keypairs').map((k) =>
      memberOf<Keypair>('compute', 'GET os-keypairs', k, 'keypair'),
    );
  }

  async deleteKeypair(name: string, opts: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    try {
      await this.call({ method: 'DELETE', path: `os-keypairs/${encodeURIComponent(name)}` });
      return true;
    } catch (err) {
      if (opts.ignoreMissing && is404(err)) return false;
      throw err;
    }
  }

  // ---- servers ----

  /** Boots a server. Tags ask for microversion 2.52, tagged NICs for 2.42 (both need `networks`). */
  async createServer(req: ServerCreate): Promise<ServerCreated> {
    const server: Record<string, unknown> = { name: req.name, imageRef: req.imageRef, flavorRef: req.flavorRef };
    let mv = this.microversion;
    if (req.tags?.length) mv = maxMicroversion(mv, '2.52');
    if (Array.isArray(req.networks) && req.networks.some((n) => n.tag)) mv = maxMicroversion(mv, '2.42');
    if (req.key_name) server.key_name = req.key_name;
    if (req.networks !== undefined) server.networks = req.networks;
    else if (maxMicroversion(mv, '2.37') === mv) server.networks = 'auto';
    if (req.user_data !== undefined) server.user_data = Buffer.from(req.user_data).toString('base64');
    if (req.config_drive !== undefined) server.config_drive = req.config_drive;
    if (req.availability_zone) server.availability_zone = req.availability_zone;
    if (req.tags?.length) server.tags = req.tags;
    if (req.metadata) server.metadata = req.metadata;
    if (req.security_groups) server.security_groups = req.security_groups;
    const res = await this.call<{ server: ServerCreated & { adminPass?: string } }>(
      { method: 'POST', path: 'servers', json: { server } },
      mv,
    );
    const { id, links } = memberOf<ServerCreated>('compute', 'POST servers', res.data, 'server');
    return { id, links };
  }

  async getServer(id: string): Promise<Server> {
    return memberOf<Server>(
      'compute',
      'GET servers/{id}',
      await this.get(`servers/${encodeURIComponent(id)}`),
      'server',
    );
  }

  async findServer(id: string): Promise<Server | undefined> {
    try {
      return await this.getServer(id);
    } catch (err) {
      if (is404(err)) return undefined;
      throw err;
    }
  }

  /** Servers with details, page by page (marker/limit); `all_tenants` lists every project's. */
  async *servers(query: ServerQuery = {}): AsyncGenerator<Server> {
    const { all_tenants, ...rest } = query;
    yield* this.paginate<Server>('servers/detail', 'servers', {
      ...rest,
      ...(all_tenants ? { all_tenants: '1' } : {}),
    });
  }

  /**
   * Every server of every project, a page at a time, for proving that no
   * server uses an image. It asks for microversion 2.69 where the cloud has it,
   * so the servers of a cell that is down are listed (status UNKNOWN, no image)
   * instead of left out, and sends no filter, sort or page size: with any of
   * them Nova leaves down cells out even at 2.69. A `next` link without a query
   * or one that repeats a page already read is an error, never the end of the
   * list. `load` wraps each page's request (e.g. to retry it).
   */
  async *serverPagesOfEveryProject(
    load: (fetch: () => Promise<Record<string, unknown>>) => Promise<Record<string, unknown>> = (fetch) => fetch(),
  ): AsyncGenerator<ServerPage> {
    const path = 'servers/detail';
    const legacy = this.options.legacy ?? isLegacyCompute(await this.http.baseUrl());
    let q: Query = { all_tenants: '1' };
    const read = new Set<string>([querySignature(q)]);
    for (;;) {
      const query = q;
      const body = await load(async () => {
        if (legacy || this.downCellsOffered === false) return this.get<Record<string, unknown>>(path, query);
        const mv = maxMicroversion(this.microversion, DOWN_CELLS_MICROVERSION);
        try {
          const answer = await this.get<Record<string, unknown>>(path, query, mv);
          this.downCellsOffered = true;
          return answer;
        } catch (err) {
          if (this.downCellsOffered || !(err instanceof OpenStackHttpError) || err.status !== 406) throw err;
          // a cloud older than 2.69: it cannot say which servers it left out
          this.downCellsOffered = false;
          return this.get<Record<string, unknown>>(path, query);
        }
      });
      const servers = listOf<Server>('compute', `GET ${path}`, body, 'servers');
      yield { servers, ...(this.answeredMicroversion ? { microversion: this.answeredMicroversion } : {}) };
      const link = nextLink(body.servers_links);
      if (link === undefined) return;
      const next = nextQuery(link);
      if (!next)
        throw new UnexpectedResponseError('compute', `GET ${path} answered a next link without a query (${link})`);
      const signature = querySignature(next);
      if (read.has(signature))
        throw new UnexpectedResponseError(
          'compute',
          `GET ${path} answered a next link to a page already read (${link}): the list would never end`,
        );
      read.add(signature);
      q = next;
    }
  }

  async listServers(query: ServerQuery = {}): Promise<Server[]> {
    const out: Server[] = [];
    for await (const s of this.servers(query)) out.push(s);
    return out;
  }

  /** Servers with exactly this name (Nova's name filter is a regular expression). */
  async findServersByName(name: string, query: ServerQuery = {}): Promise<Server[]> {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return (await this.listServers({ ...query, name: `^${escaped}$` })).filter((s) => s.name === name);
  }

  async deleteServer(id: string, opts: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    try {
      await this.call({ method: 'DELETE', path: `servers/${encodeURIComponent(id)}` });
      return true;
    } catch (err) {
      if (opts.ignoreMissing && is404(err)) return false;
      throw err;
    }
  }

  async interfaces(id: string): Promise<InterfaceAttachment[]> {
    return listOf<InterfaceAttachment>(
      'compute',
      'GET servers/{id}/os-interface',
      await this.get(`servers/${encodeURIComponent(id)}/os-interface`),
      'interfaceAttachments',
    );
  }

  private async action<T = unknown>(id: string, body: unknown, mv?: string): Promise<T> {
    return (await this.call<T>({ method: 'POST', path: `servers/${encodeURIComponent(id)}/action`, json: body }, mv))
      .data;
  }

  /** The console log, or its last `length` lines. */
  async consoleOutput(id: string, length?: number): Promise<string> {
    const body = await this.action<{ output?: string }>(id, {
      'os-getConsoleOutput': length !== undefined ? { length } : {},
    });
    return body?.output ?? '';
  }

  async reboot(id: string, type: 'SOFT' | 'HARD' = 'SOFT'): Promise<void> {
    await this.action(id, { reboot: { type } });
  }

  async rebuild(id: string, imageRef: string, opts: RebuildOptions = {}): Promise<Server | undefined> {
    const rebuild: Record<string, unknown> = { imageRef };
    if (opts.name) rebuild.name = opts.name;
    if (opts.metadata) rebuild.metadata = opts.metadata;
    const body = await this.action<{ server?: Server }>(id, { rebuild });
    return body?.server;
  }

  /**
   * Polls the server until it has the wanted status. ERROR (or DELETED when
   * waiting for something else) ends the wait with exit 70 and Nova's fault.
   */
  async waitForServerStatus(
    id: string,
    status: string,
    opts: { timeoutMs: number; pollMs?: number; onPoll?: (s: Server) => void },
  ): Promise<Server> {
    const deadline = Date.now() + opts.timeoutMs;
    let last = 'UNKNOWN';
    for (;;) {
      const s = await this.getServer(id);
      last = s.status;
      opts.onPoll?.(s);
      if (s.status === status) return s;
      if (s.status === 'ERROR' || s.status === 'DELETED') throw new ServerStateError(id, s.status, status, s.fault);
      if (Date.now() >= deadline) throw new ServerWaitTimeoutError(id, last, status, opts.timeoutMs);
      await sleep(Math.min(opts.pollMs ?? 2000, Math.max(deadline - Date.now(), 0)));
    }
  }

  /** Polls until Nova no longer knows the server; true when it disappeared in time. */
  async waitForServerDeleted(id: string, opts: { timeoutMs: number; pollMs?: number }): Promise<boolean> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const s = await this.findServer(id);
      if (!s || s.status === 'DELETED') return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(opts.pollMs ?? 2000, Math.max(deadline - Date.now(), 0)));
    }
  }
}
