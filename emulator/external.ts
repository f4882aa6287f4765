/**
 * Compute-only operation beside a real Keystone (and optionally a real Glance):
 * tokens are validated by that Keystone and mirrored into the emulator's state
 * (so every policy check works unchanged), the emulated Nova and Neutron are
 * registered in its catalog, and images are looked up in the real Glance as
 * the caller.
 */
import { AuthContext, Cloud } from './cloud';
import { HttpError } from './http';
import { Image } from './state';

export interface ExternalAccount {
  username: string;
  password: string;
  projectName: string;
  /** Default: Default */
  userDomainName?: string;
  /** Default: Default */
  projectDomainName?: string;
}

export interface ExternalIdentityOptions {
  /** The real Keystone's v3 URL (…/v3). */
  authUrl: string;
  /** An account with the admin role: validates tokens and registers the catalog entries. */
  adminCredentials: ExternalAccount;
  /** The ordinary account reported as the emulator's `user` (default: the admin account). */
  userCredentials?: ExternalAccount;
  /** An application credential of `userCredentials`; one is created (and deleted at stop) when absent. */
  applicationCredential?: { id: string; name: string; secret: string };
  /** Seconds a validated token is trusted before Keystone is asked again (default 60). */
  revalidateSeconds?: number;
}

interface TokenBody {
  token: {
    methods: string[];
    expires_at: string;
    issued_at: string;
    audit_ids?: string[];
    user: { id: string; name: string; domain: { id: string; name: string } };
    project?: { id: string; name: string; domain: { id: string; name: string } };
    roles?: { id: string; name: string }[];
    catalog?: { type: string; endpoints: { interface: string; region_id?: string; region?: string; url: string }[] }[];
    application_credential?: { id: string };
  };
}

/** Attributes of a Glance v2 image that are not custom properties. */
const CORE_IMAGE_KEYS = new Set([
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'os_hidden',
  'owner',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'tags',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
  'locations',
  'direct_url',
  'stores',
]);

export class RealKeystone {
  readonly authUrl: string;
  private adminToken: { id: string; expires: number; body: TokenBody } | undefined;
  private readonly validatedAt = new Map<string, number>();
  private readonly created: {
    endpoints: string[];
    services: string[];
    regions: string[];
    applicationCredential?: { userId: string; id: string; token: string };
  } = {
    endpoints: [],
    services: [],
    regions: [],
  };

  constructor(
    private readonly cloud: Cloud,
    private readonly opts: ExternalIdentityOptions,
  ) {
    this.authUrl = opts.authUrl.replace(/\/+$/, '');
  }

  private async request(
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; body: unknown }> {
    const url = /^https?:/.test(path) ? path : `${this.authUrl}${path}`;
    const h: Record<string, string> = { Accept: 'application/json', ...headers };
    if (token) h['X-Auth-Token'] = token;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30000),
      });
    } catch (err) {
      throw new HttpError(
        503,
        `The identity or image service at ${new URL(url).origin} is unreachable: ${(err as Error).message}`,
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  /** Issues a project-scoped password token for an account. */
  async issue(account: ExternalAccount): Promise<{ id: string; body: TokenBody }> {
    const res = await this.request('POST', '/auth/tokens', undefined, {
      auth: {
        identity: {
          methods: ['password'],
          password: {
            user: {
              name: account.username,
              domain: { name: account.userDomainName ?? 'Default' },
              password: account.password,
            },
          },
        },
        scope: { project: { name: account.projectName, domain: { name: account.projectDomainName ?? 'Default' } } },
      },
    });
    if (res.status !== 201)
      throw new Error(`Keystone at ${this.authUrl} refused a token for ${account.username}: ${res.status}`);
    return { id: res.headers.get('x-subject-token')!, body: res.body as TokenBody };
  }

  private async serviceToken(): Promise<{ id: string; body: TokenBody }> {
    if (!this.adminToken || this.adminToken.expires - 60000 < Date.now()) {
      const t = await this.issue(this.opts.adminCredentials);
      this.adminToken = { ...t, expires: Date.parse(t.body.token.expires_at) };
    }
    return this.adminToken;
  }

  /**
   * Makes a token the real Keystone issued known to the emulator (user, project,
   * role assignments and the token itself), asking Keystone again after a while
   * so revoked tokens stop working. Unknown and invalid tokens are left out, so
   * the ordinary check answers 401.
   */
  async recognize(tokenId: string | undefined): Promise<void> {
    if (!tokenId) return;
    const seen = this.validatedAt.get(tokenId);
    const revalidateMs = (this.opts.revalidateSeconds ?? 60) * 1000;
    if (seen !== undefined && Date.now() - seen < revalidateMs && this.cloud.resolveToken(tokenId)) return;
    const admin = await this.serviceToken();
    const res = await this.request('GET', '/auth/tokens?nocatalog', admin.id, undefined, {
      'X-Subject-Token': tokenId,
    });
    if (res.status === 401) {
      this.adminToken = undefined;
    }
    if (res.status !== 200) {
      this.forget(tokenId);
      if (res.status >= 500)
        throw new HttpError(503, `Keystone at ${this.authUrl} could not validate the token (${res.status}).`);
      return;
    }
    this.mirror(tokenId, res.body as TokenBody);
    this.validatedAt.set(tokenId, Date.now());
  }

  private forget(tokenId: string): void {
    this.validatedAt.delete(tokenId);
    const st = this.cloud.state;
    st.tokens = st.tokens.filter((t) => t.id !== tokenId);
  }

  private mirror(tokenId: string, body: TokenBody): void {
    const t = body.token;
    const st = this.cloud.state;
    if (!t.project) {
      // Only project-scoped tokens are useful to Nova and Neutron
      this.forget(tokenId);
      return;
    }
    const project = {
      id: t.project.id,
      name: t.project.name,
      domain_id: t.project.domain.id,
      description: '',
      enabled: true,
    };
    const pi = st.projects.findIndex((p) => p.id === project.id);
    if (pi >= 0) st.projects[pi] = { ...st.projects[pi], ...project };
    else st.projects.push(project);
    const ui = st.users.findIndex((u) => u.id === t.user.id);
    const user = {
      id: t.user.id,
      name: t.user.name,
      domain_id: t.user.domain.id,
      password: '',
      default_project_id: project.id,
      enabled: true,
    };
    if (ui >= 0) st.users[ui] = { ...st.users[ui], name: user.name, enabled: true };
    else st.users.push(user);
    const roleIds: string[] = [];
    for (const r of t.roles ?? []) {
      let role = st.roles.find((x) => x.name === r.name);
      if (!role) {
        role = { id: r.id, name: r.name };
        st.roles.push(role);
      }
      roleIds.push(role.id);
    }
    st.role_assignments = st.role_assignments.filter((a) => !(a.user_id === user.id && a.project_id === project.id));
    for (const roleId of roleIds)
      st.role_assignments.push({ user_id: user.id, project_id: project.id, role_id: roleId });
    st.tokens = st.tokens.filter((x) => x.id !== tokenId);
    st.tokens.push({
      id: tokenId,
      user_id: user.id,
      project_id: project.id,
      methods: t.methods,
      issued_at: t.issued_at,
      expires_at: t.expires_at,
      audit_id: t.audit_ids?.[0] ?? '',
      ...(t.application_credential ? { application_credential_id: t.application_credential.id } : {}),
    });
    this.cloud.changed();
  }

  /** Ids of an account, as Keystone knows them. */
  async whoIs(account: ExternalAccount): Promise<{ userId: string; projectId: string; token: string }> {
    const t = await this.issue(account);
    return { userId: t.body.token.user.id, projectId: t.body.token.project!.id, token: t.id };
  }

  /** Registers the emulated compute and network services (public endpoints) for each region. */
  async register(baseUrl: string, regions: string[]): Promise<void> {
    const { id: token } = await this.serviceToken();
    const must = async (method: string, path: string, body?: unknown): Promise<Record<string, { id: string }>> => {
      const res = await this.request(method, path, token, body);
      if (res.status >= 300)
        throw new Error(`Keystone answered ${res.status} to ${method} ${path}: ${JSON.stringify(res.body)}`);
      return res.body as Record<string, { id: string }>;
    };
    for (const region of regions) {
      const found = await this.request('GET', `/regions/${encodeURIComponent(region)}`, token);
      if (found.status === 404) {
        await must('POST', '/regions', { region: { id: region, description: 'Region of the OpenStack emulator' } });
        this.created.regions.push(region);
      }
    }
    const services = [
      { type: 'compute', name: 'nova', url: (r: string) => `${baseUrl}/compute/${encodeURIComponent(r)}/v2.1` },
      { type: 'network', name: 'neutron', url: (r: string) => `${baseUrl}/network/${encodeURIComponent(r)}` },
    ];
    for (const s of services) {
      const service = (
        await must('POST', '/services', {
          service: { type: s.type, name: s.name, description: `Emulated ${s.name} at ${baseUrl}` },
        })
      ).service;
      this.created.services.push(service.id);
      for (const region of regions) {
        const ep = (
          await must('POST', '/endpoints', {
            endpoint: { service_id: service.id, interface: 'public', region_id: region, url: s.url(region) },
          })
        ).endpoint;
        this.created.endpoints.push(ep.id);
      }
    }
  }

  /** An application credential of the account, deleted again by `unregister`. */
  async createApplicationCredential(
    account: ExternalAccount,
    name: string,
  ): Promise<{ id: string; name: string; secret: string }> {
    const who = await this.whoIs(account);
    const res = await this.request('POST', `/users/${who.userId}/application_credentials`, who.token, {
      application_credential: { name, description: 'Application credential of the OpenStack emulator' },
    });
    if (res.status !== 201)
      throw new Error(
        `Keystone answered ${res.status} to creating an application credential: ${JSON.stringify(res.body)}`,
      );
    const ac = (res.body as { application_credential: { id: string; name: string; secret: string } })
      .application_credential;
    this.created.applicationCredential = { userId: who.userId, id: ac.id, token: who.token };
    return { id: ac.id, name: ac.name, secret: ac.secret };
  }

  /** Removes everything `register` and `createApplicationCredential` added; the first failure is thrown after trying all. */
  async unregister(): Promise<void> {
    const errors: string[] = [];
    const del = async (path: string, token: string) => {
      const res = await this.request('DELETE', path, token).catch((err: Error) => ({ status: 0, body: err.message }));
      if (res.status !== 204 && res.status !== 404)
        errors.push(`DELETE ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    };
    const ac = this.created.applicationCredential;
    if (ac) await del(`/users/${ac.userId}/application_credentials/${ac.id}`, ac.token);
    this.created.applicationCredential = undefined;
    const { id: token } = await this.serviceToken();
    for (const id of this.created.endpoints.splice(0)) await del(`/endpoints/${id}`, token);
    for (const id of this.created.services.splice(0)) await del(`/services/${id}`, token);
    for (const id of this.created.regions.splice(0)) await del(`/regions/${encodeURIComponent(id)}`, token);
    if (errors.length) throw new Error(`could not remove the emulator's catalog entries: ${errors.join('; ')}`);
  }

  /** The public image endpoint of a region in the real catalog (any region's when that one has none). */
  async imageEndpoint(region: string): Promise<string> {
    const { body } = await this.serviceToken();
    const endpoints = (body.token.catalog ?? [])
      .filter((s) => s.type === 'image')
      .flatMap((s) => s.endpoints.filter((e) => e.interface === 'public'));
    const ep = endpoints.find((e) => (e.region_id ?? e.region) === region) ?? endpoints[0];
    if (!ep) throw new HttpError(503, `The catalog of ${this.authUrl} has no image service.`);
    return ep.url.replace(/\/+$/, '').replace(/\/v2(\.\d+)?$/, '');
  }

  /** The image as the caller sees it in the real Glance (undefined when it does not exist or is not visible). */
  async findImage(region: string, id: string, ctx: AuthContext): Promise<Image | undefined> {
    const root = await this.imageEndpoint(region);
    const res = await this.request('GET', `${root}/v2/images/${encodeURIComponent(id)}`, ctx.token.id);
    if (res.status === 404 || res.status === 403) return undefined;
    if (res.status !== 200)
      throw new HttpError(503, `The image service answered ${res.status} while looking up image ${id}.`);
    const g = res.body as Record<string, unknown>;
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(g)) if (!CORE_IMAGE_KEYS.has(k) && typeof v === 'string') properties[k] = v;
    const num = (v: unknown) => (typeof v === 'number' ? v : null);
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      id: String(g.id),
      name: str(g.name),
      status: g.status as Image['status'],
      visibility: g.visibility as Image['visibility'],
      protected: g.protected === true,
      os_hidden: g.os_hidden === true,
      owner: String(g.owner ?? ''),
      disk_format: str(g.disk_format),
      container_format: str(g.container_format),
      min_disk: num(g.min_disk) ?? 0,
      min_ram: num(g.min_ram) ?? 0,
      size: num(g.size),
      virtual_size: num(g.virtual_size),
      checksum: str(g.checksum),
      os_hash_algo: str(g.os_hash_algo),
      os_hash_value: str(g.os_hash_value),
      tags: Array.isArray(g.tags) ? (g.tags as string[]) : [],
      created_at: String(g.created_at ?? ''),
      updated_at: String(g.updated_at ?? ''),
      properties,
      members: [],
    };
  }
}
