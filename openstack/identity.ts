/**
 * Keystone: version discovery, authentication (v3 password or application
 * credential, v2.0 password), token reuse, service catalog lookup.
 */
import { createHash } from 'node:crypto';
import type { CloudAuth } from './auth-types';
import {
  CredentialsError,
  EndpointNotFoundError,
  LookupError,
  OpenStackHttpError,
  UnexpectedResponseError,
} from './errors';
import { joinUrl, listOf, ServiceHttp, TokenSource, Transport } from './http';

type IdentityVersion = '2.0' | '3';
type EndpointInterface = 'public' | 'internal' | 'admin';

/** One endpoint of the service catalog, the same for v2.0 and v3 catalogs. */
interface CatalogEndpoint {
  type: string;
  name?: string;
  interface: EndpointInterface;
  region?: string;
  url: string;
}

interface Project {
  id: string;
  name: string;
  domain_id?: string;
  enabled?: boolean;
  description?: string;
  [key: string]: unknown;
}

/** What a successful authentication tells us (no token value in here). */
interface AuthInfo {
  version: IdentityVersion;
  expiresAt?: Date;
  projectId?: string;
  projectName?: string;
  userId?: string;
  userName?: string;
  roles: string[];
  catalog: CatalogEndpoint[];
}

export interface IdentityOptions {
  /** Scope the token to a domain instead of a project (Keystone v3 only). */
  domainScope?: { id?: string; name?: string };
  /** Re-authenticate when the token expires within this many ms (default 60 s). */
  refreshMarginMs?: number;
  /** Tokens shared with the process's other clients of the same credentials. */
  tokenCache?: TokenCache;
}

interface CachedToken {
  token: string;
  info: AuthInfo;
  root: string;
  /** When it is no longer handed out (ms since the epoch). */
  until: number;
}

/**
 * Tokens kept in memory between the clients of one process: a worker opens a
 * client for each step, and each would otherwise authenticate again — with
 * Keystone checking the password (a deliberately slow hash) every time. A
 * token is handed out while it is valid for another `reuseMarginMs` (a token
 * without an expiry for that long after it was issued); one a service refused
 * (401) is forgotten. Entries are found by a digest of the credentials, which
 * are themselves not kept.
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();

  constructor(
    private readonly reuseMarginMs = 5 * 60_000,
    private readonly maxEntries = 256,
  ) {}

  static keyOf(auth: CloudAuth, options: IdentityOptions): string {
    const { endpointOverrides: _o, regionName: _r, interface: _i, ...identity } = auth;
    const fields = Object.entries(identity).sort(([a], [b]) => a.localeCompare(b));
    return createHash('sha256')
      .update(JSON.stringify([fields, options.domainScope ?? null]))
      .digest('hex');
  }

  get(key: string): CachedToken | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.until <= Date.now()) this.entries.delete(key);
    return this.entries.get(key);
  }

  set(key: string, token: string, info: AuthInfo, root: string): void {
    const expires = info.expiresAt?.getTime();
    const until = expires === undefined ? Date.now() + this.reuseMarginMs : expires - this.reuseMarginMs;
    if (until <= Date.now()) return;
    this.entries.delete(key);
    this.entries.set(key, { token, info, root, until });
    // the oldest go first
    for (const old of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(old);
    }
  }

  /** Forgets the token when it is the one kept (a service refused it). */
  drop(key: string, token: string): void {
    if (this.entries.get(key)?.token === token) this.entries.delete(key);
  }
}

interface V3Catalog {
  type: string;
  name?: string;
  endpoints?: { interface?: string; region?: string; region_id?: string; url: string }[];
}

interface V3TokenBody {
  token?: {
    expires_at?: string;
    catalog?: V3Catalog[];
    project?: { id: string; name: string };
    user?: { id: string; name: string };
    roles?: { id?: string; name: string }[];
  };
}

interface V2Catalog {
  type: string;
  name?: string;
  endpoints?: { region?: string; publicURL?: string; internalURL?: string; adminURL?: string }[];
}

interface V2AccessBody {
  access?: {
    token?: { id?: string; expires?: string; tenant?: { id: string; name: string } };
    serviceCatalog?: V2Catalog[];
    user?: { id: string; name: string; roles?: { name: string }[] };
  };
}

interface VersionEntry {
  id?: string;
  status?: string;
  links?: { rel?: string; href?: string }[];
}

/** `publicURL` → `public` etc.; anything unknown is public. */
function normalizeInterface(value: string | undefined): EndpointInterface {
  const v = (typeof value === 'string' ? value : 'public').toLowerCase().replace(/url$/, '');
  if (v === 'internal' || v === 'admin') return v;
  return 'public';
}

const VERSION_SUFFIX = /\/v(2\.0|3)(?:\.\d+)?\/?$/i;

/** Parses the body of GET <auth root>: a list of versions (300) or one version (200). */
function chooseIdentityVersion(body: unknown): IdentityVersion | undefined {
  const b = (body && typeof body === 'object' ? body : {}) as {
    versions?: { values?: unknown } | unknown[];
    version?: unknown;
  };
  const raw: unknown = Array.isArray(b.versions)
    ? b.versions
    : b.versions && typeof b.versions === 'object'
      ? b.versions.values
      : b.version
        ? [b.version]
        : [];
  // entries of the wrong shape are ignored: discovery only chooses between v3 and v2.0
  const list = (Array.isArray(raw) ? raw : []).filter((v): v is VersionEntry => !!v && typeof v === 'object');
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  const usable = list.filter((v) => !/deprecated|experimental/i.test(text(v.status)) || list.length === 1);
  const ids = (usable.length ? usable : list).map((v) => text(v.id).toLowerCase());
  if (ids.some((id) => id.startsWith('v3'))) return '3';
  if (ids.some((id) => id.startsWith('v2.0'))) return '2.0';
  // deprecated v2.0 only, when nothing else is offered
  if (list.some((v) => text(v.id).toLowerCase().startsWith('v2.0'))) return '2.0';
  return undefined;
}

export class IdentityClient implements TokenSource {
  private tokenValue?: string;
  private info?: AuthInfo;
  private root?: string;
  private pending?: Promise<string>;
  private readonly http: ServiceHttp;
  private readonly refreshMarginMs: number;

  constructor(
    private readonly auth: CloudAuth,
    private readonly transport: Transport,
    private readonly options: IdentityOptions = {},
  ) {
    if (!auth.authUrl) throw new CredentialsError('The Keystone auth URL is missing');
    transport.addSecret(auth.password);
    transport.addSecret(auth.applicationCredentialSecret);
    this.refreshMarginMs = options.refreshMarginMs ?? 60_000;
    this.http = new ServiceHttp(
      transport,
      'identity',
      async () => {
        await this.token();
        if (!this.root) throw new CredentialsError('Keystone root unknown');
        return this.root;
      },
      this,
    );
  }

  /** Keystone version in use (after the first authentication). */
  get version(): IdentityVersion | undefined {
    return this.info?.version;
  }

  /** The versioned Keystone root, e.g. https://keystone:5000/v3 */
  get endpoint(): string | undefined {
    return this.root;
  }

  get authInfo(): AuthInfo {
    if (!this.info) throw new CredentialsError('Not authenticated yet');
    return this.info;
  }

  get projectId(): string | undefined {
    return this.info?.projectId;
  }

  get userId(): string | undefined {
    return this.info?.userId;
  }

  get catalog(): CatalogEndpoint[] {
    return this.info?.catalog ?? [];
  }

  /** A valid token: the current one, or a new one when there is none or it is about to expire. */
  async token(): Promise<string> {
    if (this.tokenValue && this.info) {
      const exp = this.info.expiresAt?.getTime();
      if (exp === undefined || exp - Date.now() > this.refreshMarginMs) return this.tokenValue;
      this.transport.debug('token expires soon, authenticating again');
      this.tokenValue = undefined;
    }
    this.pending ??= this.authenticate().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  invalidate(token: string): void {
    if (this.tokenValue === token) this.tokenValue = undefined;
    this.options.tokenCache?.drop(TokenCache.keyOf(this.auth, this.options), token);
  }

  /** Authenticates now (discovering the version first if needed) and returns AuthInfo. */
  async connect(): Promise<AuthInfo> {
    await this.token();
    return this.authInfo;
  }

  /** Finds the Keystone version and versioned root URL. */
  async discover(): Promise<{ version: IdentityVersion; root: string }> {
    const url = this.auth.authUrl.replace(/\/+$/, '');
    const forced = this.auth.identityApiVersion;
    const m = VERSION_SUFFIX.exec(url);
    if (m) {
      const found: IdentityVersion = m[1] === '3' ? '3' : '2.0';
      if (!forced || forced === found) return { version: found, root: url };
      return { version: forced, root: `${url.slice(0, m.index)}/v${forced}` };
    }
    if (forced) return { version: forced, root: `${url}/v${forced}` };
    try {
      const res = await this.transport.send({ service: 'identity', method: 'GET', url, accept: [300] });
      const version = chooseIdentityVersion(res.data);
      if (version) return { version, root: `${url}/v${version}` };
    } catch (err) {
      if (!(err instanceof OpenStackHttpError)) throw err;
      this.transport.debug(`version discovery at ${url} answered ${err.status}, assuming v3`);
    }
    return { version: '3', root: `${url}/v3` };
  }

  private async authenticate(): Promise<string> {
    const cache = this.options.tokenCache;
    const key = cache ? TokenCache.keyOf(this.auth, this.options) : '';
    const kept = cache?.get(key);
    if (kept) {
      this.transport.debug('reusing a token this process already has for these credentials');
      this.root = kept.root;
      this.info = kept.info;
      this.tokenValue = kept.token;
      this.transport.addSecret(kept.token);
      return kept.token;
    }
    if (!this.root || !this.info) {
      const d = await this.discover();
      this.root = d.root;
      this.info = { version: d.version, roles: [], catalog: [] };
    }
    const version = this.info.version;
    const result = version === '3' ? await this.authV3(this.root) : await this.authV2(this.root);
    this.tokenValue = result.token;
    this.transport.addSecret(result.token);
    this.info = result.info;
    cache?.set(key, result.token, result.info, this.root);
    return result.token;
  }

  private v3Identity(): Record<string, unknown> {
    const a = this.auth;
    const userDomain = a.userDomainId
      ? { id: a.userDomainId }
      : a.userDomainName
        ? { name: a.userDomainName }
        : { id: 'default' };
    if (a.applicationCredentialId || a.applicationCredentialName) {
      if (!a.applicationCredentialSecret) throw new CredentialsError('The application credential secret is missing');
      const cred: Record<string, unknown> = { secret: a.applicationCredentialSecret };
      if (a.applicationCredentialId) cred.id = a.applicationCredentialId;
      else {
        cred.name = a.applicationCredentialName;
        if (a.userId) cred.user = { id: a.userId };
        else if (a.username) cred.user = { name: a.username, domain: userDomain };
        else throw new CredentialsError('An application credential given by name needs the user name or id');
      }
      return { methods: ['application_credential'], application_credential: cred };
    }
    if (!a.password) throw new CredentialsError('The password is missing');
    let user: Record<string, unknown>;
    if (a.userId) user = { id: a.userId, password: a.password };
    else if (a.username) user = { name: a.username, password: a.password, domain: userDomain };
    else throw new CredentialsError('The user name is missing');
    return { methods: ['password'], password: { user } };
  }

  private v3Scope(): Record<string, unknown> | undefined {
    const a = this.auth;
    if (a.applicationCredentialId || a.applicationCredentialName) return undefined; // the credential carries its scope
    if (a.projectId) return { project: { id: a.projectId } };
    if (a.projectName) {
      const domain = a.projectDomainId
        ? { id: a.projectDomainId }
        : a.projectDomainName
          ? { name: a.projectDomainName }
          : a.userDomainId
            ? { id: a.userDomainId }
            : a.userDomainName
              ? { name: a.userDomainName }
              : { id: 'default' };
      return { project: { name: a.projectName, domain } };
    }
    const ds = this.options.domainScope;
    if (ds?.id) return { domain: { id: ds.id } };
    if (ds?.name) return { domain: { name: ds.name } };
    return undefined;
  }

  private async authV3(root: string): Promise<{ token: string; info: AuthInfo }> {
    const scope = this.v3Scope();
    const body = { auth: { identity: this.v3Identity(), ...(scope ? { scope } : {}) } };
    const res = await this.transport.send<V3TokenBody>({
      service: 'identity',
      method: 'POST',
      url: joinUrl(root, 'auth/tokens'),
      json: body,
    });
    const token = res.headers['x-subject-token']?.trim();
    const t = res.data && typeof res.data === 'object' ? res.data.token : undefined;
    if (!token || !t || typeof t !== 'object')
      throw new UnexpectedResponseError('identity', 'no X-Subject-Token header or token body');
    const what = 'POST auth/tokens';
    const catalog: CatalogEndpoint[] = [];
    for (const svc of listOf<V3Catalog>('identity', what, t, 'catalog')) {
      for (const ep of listOf<NonNullable<V3Catalog['endpoints']>[number]>('identity', what, svc, 'endpoints')) {
        if (typeof ep.url !== 'string' || typeof svc.type !== 'string') continue;
        catalog.push({
          type: svc.type,
          name: svc.name,
          interface: normalizeInterface(ep.interface),
          region: ep.region_id ?? ep.region,
          url: ep.url,
        });
      }
    }
    return {
      token,
      info: {
        version: '3',
        expiresAt: t.expires_at ? new Date(t.expires_at) : undefined,
        projectId: t.project?.id,
        projectName: t.project?.name,
        userId: t.user?.id,
        userName: t.user?.name,
        roles: listOf<{ name: string }>('identity', what, t, 'roles').map((r) => r.name),
        catalog,
      },
    };
  }

  private async authV2(root: string): Promise<{ token: string; info: AuthInfo }> {
    const a = this.auth;
    if (a.applicationCredentialId || a.applicationCredentialName) {
      throw new CredentialsError('Application credentials need Keystone v3; the auth URL offers v2.0');
    }
    if (!a.password) throw new CredentialsError('The password is missing');
    if (!a.username && !a.userId) throw new CredentialsError('The user name is missing');
    const pc: Record<string, string> = { password: a.password };
    if (a.username) pc.username = a.username;
    else if (a.userId) pc.userId = a.userId;
    const auth: Record<string, unknown> = { passwordCredentials: pc };
    if (a.projectId) auth.tenantId = a.projectId;
    else if (a.projectName) auth.tenantName = a.projectName;
    const res = await this.transport.send<V2AccessBody>({
      service: 'identity',
      method: 'POST',
      url: joinUrl(root, 'tokens'),
      json: { auth },
    });
    const acc = res.data && typeof res.data === 'object' ? res.data.access : undefined;
    const token =
      acc && typeof acc === 'object' && acc.token && typeof acc.token === 'object' ? acc.token.id : undefined;
    if (!acc || typeof token !== 'string' || !token)
      throw new UnexpectedResponseError('identity', 'no access.token.id in the v2.0 answer');
    const what = 'POST tokens';
    const catalog: CatalogEndpoint[] = [];
    for (const svc of listOf<V2Catalog>('identity', what, acc, 'serviceCatalog')) {
      for (const ep of listOf<NonNullable<V2Catalog['endpoints']>[number]>('identity', what, svc, 'endpoints')) {
        const add = (iface: EndpointInterface, url?: string) => {
          if (url && typeof url === 'string' && typeof svc.type === 'string')
            catalog.push({ type: svc.type, name: svc.name, interface: iface, region: ep.region, url });
        };
        add('public', ep.publicURL);
        add('internal', ep.internalURL);
        add('admin', ep.adminURL);
      }
    }
    return {
      token,
      info: {
        version: '2.0',
        expiresAt: acc.token?.expires ? new Date(acc.token.expires) : undefined,
        projectId: acc.token?.tenant?.id,
        projectName: acc.token?.tenant?.name,
        userId: acc.user?.id,
        userName: acc.user?.name,
        roles:
          acc.user && typeof acc.user === 'object'
            ? listOf<{ name: string }>('identity', what, acc.user, 'roles').map((r) => r.name)
            : [],
        catalog,
      },
    };
  }

  /**
   * The catalog URL of a service: by type (first of the given aliases that
   * exists), interface (default: the credentials' interface, else public) and
   * region (default: the credentials' region, else the first listed).
   */
  async endpointFor(types: string | string[], opts: { interface?: string; region?: string } = {}): Promise<string> {
    await this.token();
    const wanted = Array.isArray(types) ? types : [types];
    const iface = normalizeInterface(opts.interface ?? this.auth.interface);
    const region = opts.region ?? this.auth.regionName;
    const catalog = this.catalog;
    for (const type of wanted) {
      const ofType = catalog.filter((e) => e.type === type);
      if (!ofType.length) continue;
      const inRegion = region ? ofType.filter((e) => e.region === region) : ofType;
      const match = inRegion.find((e) => e.interface === iface);
      if (match) return match.url;
      const regions = [...new Set(ofType.map((e) => e.region ?? '(none)'))].join(', ');
      const ifaces = [...new Set(inRegion.map((e) => e.interface))].join(', ');
      throw new EndpointNotFoundError(
        type,
        region && !inRegion.length
          ? `region '${region}' not found (regions: ${regions})`
          : `no '${iface}' interface${region ? ` in region '${region}'` : ''} (interfaces: ${ifaces || 'none'})`,
      );
    }
    const types_ = [...new Set(catalog.map((e) => e.type))].join(', ');
    throw new EndpointNotFoundError(wanted.join('/'), `the catalog lists: ${types_ || 'nothing (unscoped token?)'}`);
  }

  /** Projects visible to the caller, optionally filtered by name. */
  async projects(filter: { name?: string } = {}): Promise<Project[]> {
    await this.token();
    if (this.info?.version === '2.0') {
      const body = await this.http.get('tenants');
      return listOf<Project>('identity', 'GET tenants', body, 'tenants').filter(
        (p) => !filter.name || p.name === filter.name,
      );
    }
    try {
      const body = await this.http.get('projects', { name: filter.name });
      return listOf<Project>('identity', 'GET projects', body, 'projects');
    } catch (err) {
      if (!(err instanceof OpenStackHttpError) || err.status !== 403) throw err;
      // Not allowed to list all projects: fall back to the caller's own projects.
      const body = await this.http.get('auth/projects');
      return listOf<Project>('identity', 'GET auth/projects', body, 'projects').filter(
        (p) => !filter.name || p.name === filter.name,
      );
    }
  }

  /** A project id from a project id or name (ids are taken as they are). */
  async resolveProjectId(nameOrId: string): Promise<string> {
    if (
      /^[0-9a-f]{32}$/i.test(nameOrId) ||
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nameOrId)
    ) {
      return nameOrId;
    }
    const found = await this.projects({ name: nameOrId });
    if (found.length === 1) return found[0].id;
    if (!found.length) throw new LookupError(`No project named '${nameOrId}' is visible to these credentials`);
    throw new LookupError(
      `Several projects are named '${nameOrId}'; use the id (${found.map((p) => p.id).join(', ')})`,
    );
  }
}
