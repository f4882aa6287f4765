/** Keystone: version discovery, v3 and v2.0 tokens, the catalog, projects, users, roles. */
import crypto from 'node:crypto';
import { AuthContext, Cloud } from './cloud';
import { HttpError, Reply, Request, Router, isObject, readJson } from './http';
import { ApplicationCredential, Project, Token, User, hexId } from './state';

const V3_UPDATED = '2020-04-07T00:00:00Z';

const SERVICES = [
  { type: 'identity', name: 'keystone' },
  { type: 'image', name: 'glance' },
  { type: 'compute', name: 'nova' },
  { type: 'network', name: 'neutron' },
] as const;

/** The public URL of a service in a region. */
function endpointUrl(cloud: Cloud, type: string, region: string): string {
  switch (type) {
    case 'identity':
      return `${cloud.baseUrl}/v3`;
    case 'image':
      return `${cloud.baseUrl}/image/${region}`;
    case 'compute':
      return `${cloud.baseUrl}/compute/${region}/v2.1`;
    default:
      return `${cloud.baseUrl}/network/${region}`;
  }
}

/** Stable ids for catalog entries, so two tokens show the same catalog. */
function stableId(...parts: string[]): string {
  return crypto.createHash('md5').update(parts.join('/')).digest('hex');
}

function v3Catalog(cloud: Cloud) {
  return SERVICES.map((svc) => ({
    id: stableId('service', svc.type),
    type: svc.type,
    name: svc.name,
    endpoints: cloud.regionNames.flatMap((region) =>
      (['public', 'internal', 'admin'] as const).map((iface) => ({
        id: stableId('endpoint', svc.type, region, iface),
        interface: iface,
        region,
        region_id: region,
        url: endpointUrl(cloud, svc.type, region),
      })),
    ),
  }));
}

function v2Catalog(cloud: Cloud) {
  return SERVICES.map((svc) => ({
    type: svc.type,
    name: svc.name,
    endpoints_links: [],
    endpoints: cloud.regionNames.map((region) => {
      const url = svc.type === 'identity' ? `${cloud.baseUrl}/v2.0` : endpointUrl(cloud, svc.type, region);
      return { id: stableId('endpoint', svc.type, region), region, publicURL: url, internalURL: url, adminURL: url };
    }),
  }));
}

function versionV3(cloud: Cloud) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: V3_UPDATED,
    links: [{ rel: 'self', href: `${cloud.baseUrl}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

function versionV2(cloud: Cloud) {
  return {
    id: 'v2.0',
    status: 'deprecated',
    updated: '2016-08-04T00:00:00Z',
    links: [
      { rel: 'self', href: `${cloud.baseUrl}/v2.0/` },
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v2.0+json' }],
  };
}

const UNAUTHORIZED = 'The request you have made requires authentication.';

function field(obj: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const v = obj[key];
  if (v === undefined) throw new HttpError(400, `Invalid input for field '${where}': '${key}' is a required property`);
  if (!isObject(v))
    throw new HttpError(400, `Invalid input for field '${key}': ${JSON.stringify(v)} is not of type 'object'`);
  return v;
}

function str(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new HttpError(400, `Invalid input for field '${key}': ${JSON.stringify(v)} is not of type 'string'`);
  return v;
}

export function keystoneRoutes(cloud: Cloud): Router {
  const st = () => cloud.state;

  const findDomain = (ref: Record<string, unknown> | undefined): string | undefined => {
    if (!ref) return undefined;
    const id = str(ref, 'id');
    const name = str(ref, 'name');
    return st().domains.find((d) => (id !== undefined ? d.id === id : d.name === name))?.id;
  };

  /** A user or project named by `id`, or by `name` within a `domain` given by id or name. */
  const findByRef = <T extends { id: string; name: string; domain_id: string }>(
    items: T[],
    ref: Record<string, unknown>,
  ): T | undefined => {
    const id = str(ref, 'id');
    if (id !== undefined) return items.find((x) => x.id === id);
    const name = str(ref, 'name');
    const domainRef = ref.domain;
    if (domainRef !== undefined && !isObject(domainRef))
      throw new HttpError(400, "Invalid input for field 'domain': not an object");
    const domainId = findDomain(domainRef);
    if (!domainId) return undefined;
    return items.find((x) => x.name === name && x.domain_id === domainId);
  };
  const findUser = (ref: Record<string, unknown>): User | undefined => findByRef(st().users, ref);
  const findProject = (ref: Record<string, unknown>): Project | undefined => findByRef(st().projects, ref);

  const domainOf = (id: string) => {
    const d = st().domains.find((x) => x.id === id);
    return { id, name: d?.name ?? id };
  };

  const projectRef = (p: Project) => ({ id: p.id, name: p.name, domain: domainOf(p.domain_id) });

  const tokenBody = (token: Token, withCatalog: boolean) => {
    const user = st().users.find((u) => u.id === token.user_id)!;
    const project = token.project_id ? st().projects.find((p) => p.id === token.project_id) : undefined;
    const roles = project
      ? st()
          .role_assignments.filter((a) => a.user_id === user.id && a.project_id === project.id)
          .map((a) => st().roles.find((r) => r.id === a.role_id)!)
          .map((r) => ({ id: r.id, name: r.name }))
      : [];
    const body: Record<string, unknown> = {
      methods: token.methods,
      user: { id: user.id, name: user.name, domain: domainOf(user.domain_id), password_expires_at: null },
      audit_ids: [token.audit_id],
      expires_at: token.expires_at,
      issued_at: token.issued_at,
    };
    if (project) {
      body.project = projectRef(project);
      body.is_domain = false;
      body.roles = roles;
      if (withCatalog) body.catalog = v3Catalog(cloud);
    }
    if (token.application_credential_id) {
      const ac = st().application_credentials.find((a) => a.id === token.application_credential_id);
      body.application_credential = { id: token.application_credential_id, name: ac?.name ?? '', restricted: true };
    }
    return { token: body };
  };

  const admin = (req: Request): AuthContext => {
    const ctx = cloud.authenticate(req);
    if (!ctx.isAdmin)
      throw new HttpError(403, 'You are not authorized to perform the requested action: identity:admin_required.');
    return ctx;
  };

  /** A Keystone list: the collection and its links (everything fits one page). */
  const listReply = (collection: string, items: unknown[], path: string): Reply => ({
    status: 200,
    body: { [collection]: items, links: { self: `${cloud.baseUrl}${path}`, previous: null, next: null } },
  });
  /** The `name` filter of the admin lists. */
  const byName = <T extends { name: string }>(req: Request, items: T[]): T[] => {
    const name = req.query.get('name');
    return name === null ? items : items.filter((x) => x.name === name);
  };

  const userJson = (u: User) => ({
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    default_project_id: u.default_project_id,
    enabled: u.enabled,
    password_expires_at: null,
    options: {},
    links: { self: `${cloud.baseUrl}/v3/users/${u.id}` },
  });

  const projectJson = (p: Project) => ({
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: p.enabled,
    parent_id: p.domain_id,
    is_domain: false,
    tags: [],
    options: {},
    links: { self: `${cloud.baseUrl}/v3/projects/${p.id}` },
  });

  const appCredJson = (a: ApplicationCredential, withSecret: boolean) => ({
    id: a.id,
    name: a.name,
    description: a.description,
    user_id: a.user_id,
    project_id: a.project_id,
    expires_at: a.expires_at,
    unrestricted: false,
    roles: cloud
      .rolesOf(a.user_id, a.project_id)
      .map((n) => ({ id: st().roles.find((r) => r.name === n)!.id, name: n, domain_id: null })),
    access_rules: [],
    links: { self: `${cloud.baseUrl}/v3/users/${a.user_id}/application_credentials/${a.id}` },
    ...(withSecret ? { secret: a.secret } : {}),
  });

  const subjectToken = (req: Request): Token => {
    const id = req.headers['x-subject-token'];
    const token = st().tokens.find((t) => t.id === id);
    if (!token || Date.parse(token.expires_at) <= Date.now()) {
      throw new HttpError(404, `Could not find token: ${typeof id === 'string' ? id.slice(0, 8) : ''}...`);
    }
    return token;
  };

  const router = new Router();
  router.add('GET', '', (): Reply => ({
    status: 300,
    body: { versions: { values: [versionV3(cloud), versionV2(cloud)] } },
  }));
  router.add('GET', '/v3', (): Reply => ({ status: 200, body: { version: versionV3(cloud) } }));
  router.add('GET', '/v2.0', (): Reply => ({ status: 200, body: { version: versionV2(cloud) } }));

  router.add('POST', '/v3/auth/tokens', async (req): Promise<Reply> => {
    const body = await readJson(req.raw, 'Malformed request body: the request body is not valid JSON.');
    if (!isObject(body))
      throw new HttpError(400, `Invalid input for field '/': ${JSON.stringify(body)} is not of type 'object'`);
    const extra = Object.keys(body).filter((k) => k !== 'auth');
    if (extra.length)
      throw new HttpError(
        400,
        `Invalid input for field '/': Additional properties are not allowed ('${extra[0]}' was unexpected)`,
      );
    const auth = field(body, 'auth', 'auth');
    const identity = field(auth, 'identity', 'identity');
    const methods = identity.methods;
    if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string')) {
      throw new HttpError(
        400,
        "Invalid input for field 'identity/methods': 'methods' must be a non-empty list of strings",
      );
    }
    let user: User | undefined;
    let appCred: ApplicationCredential | undefined;
    if (methods.includes('password')) {
      const pw = field(identity, 'password', 'password');
      const userRef = field(pw, 'user', 'user');
      const password = str(userRef, 'password');
      if (password === undefined)
        throw new HttpError(400, "Invalid input for field 'user': 'password' is a required property");
      user = findUser(userRef);
      if (!user || !user.enabled || user.password !== password) throw new HttpError(401, UNAUTHORIZED);
    } else if (methods.includes('application_credential')) {
      const acRef = field(identity, 'application_credential', 'application_credential');
      const secret = str(acRef, 'secret');
      if (secret === undefined)
        throw new HttpError(400, "Invalid input for field 'application_credential': 'secret' is a required property");
      const id = str(acRef, 'id');
      if (id !== undefined) appCred = st().application_credentials.find((a) => a.id === id);
      else {
        const name = str(acRef, 'name');
        const owner = isObject(acRef.user) ? findUser(acRef.user) : undefined;
        appCred = owner
          ? st().application_credentials.find((a) => a.name === name && a.user_id === owner.id)
          : undefined;
      }
      if (
        !appCred ||
        appCred.secret !== secret ||
        (appCred.expires_at && Date.parse(appCred.expires_at) < Date.now())
      ) {
        throw new HttpError(401, UNAUTHORIZED);
      }
      user = st().users.find((u) => u.id === appCred!.user_id);
      if (!user || !user.enabled) throw new HttpError(401, UNAUTHORIZED);
    } else if (methods.includes('token')) {
      const tok = field(identity, 'token', 'token');
      const ctxToken = st().tokens.find((t) => t.id === str(tok, 'id'));
      if (!ctxToken || Date.parse(ctxToken.expires_at) <= Date.now()) throw new HttpError(401, UNAUTHORIZED);
      user = st().users.find((u) => u.id === ctxToken.user_id);
      if (!user) throw new HttpError(401, UNAUTHORIZED);
    } else {
      throw new HttpError(401, `Attempted to authenticate with an unsupported method.`);
    }

    let project: Project | undefined;
    const scope = auth.scope;
    if (appCred) {
      if (scope !== undefined) throw new HttpError(401, 'Application credentials cannot request a scope.');
      project = st().projects.find((p) => p.id === appCred!.project_id);
    } else if (scope !== undefined) {
      if (!isObject(scope))
        throw new HttpError(400, `Invalid input for field 'scope': ${JSON.stringify(scope)} is not of type 'object'`);
      if (scope.project !== undefined) {
        if (!isObject(scope.project)) throw new HttpError(400, "Invalid input for field 'project': not an object");
        project = findProject(scope.project);
        if (!project) throw new HttpError(401, UNAUTHORIZED);
      } else if (scope.system !== undefined || scope.domain !== undefined) {
        throw new HttpError(401, 'System and domain scoped tokens are not issued by this cloud.');
      }
      if (project && cloud.rolesOf(user.id, project.id).length === 0) {
        throw new HttpError(401, `User ${user.id} has no access to project ${project.id}`);
      }
    }
    const token = cloud.issueToken(user, project, methods as string[], appCred?.id);
    const noCatalog = req.query.has('nocatalog');
    return { status: 201, body: tokenBody(token, !noCatalog), headers: { 'X-Subject-Token': token.id } };
  });

  router.add('GET', '/v3/auth/tokens', (req): Reply => {
    cloud.authenticate(req);
    const token = subjectToken(req);
    return {
      status: 200,
      body: tokenBody(token, !req.query.has('nocatalog')),
      headers: { 'X-Subject-Token': token.id },
    };
  });

  router.add('DELETE', '/v3/auth/tokens', (req): Reply => {
    cloud.authenticate(req);
    const token = subjectToken(req);
    st().tokens = st().tokens.filter((t) => t !== token);
    cloud.changed();
    return { status: 204 };
  });

  router.add('GET', '/v3/auth/catalog', (req): Reply => {
    cloud.authenticate(req);
    return listReply('catalog', v3Catalog(cloud), '/v3/auth/catalog');
  });

  router.add('GET', '/v3/auth/projects', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const projects = st().projects.filter((p) => cloud.rolesOf(ctx.user.id, p.id).length > 0);
    return listReply('projects', projects.map(projectJson), '/v3/auth/projects');
  });

  router.add('GET', '/v3/projects', (req): Reply => {
    admin(req);
    return listReply('projects', byName(req, st().projects).map(projectJson), '/v3/projects');
  });

  router.add('GET', '/v3/projects/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const project = st().projects.find((x) => x.id === p.id);
    if (!ctx.isAdmin && project?.id !== ctx.project.id)
      throw new HttpError(403, 'You are not authorized to perform the requested action: identity:get_project.');
    if (!project) throw new HttpError(404, `Could not find project: ${p.id}.`);
    return { status: 200, body: { project: projectJson(project) } };
  });

  router.add('GET', '/v3/users', (req): Reply => {
    admin(req);
    return listReply('users', byName(req, st().users).map(userJson), '/v3/users');
  });

  router.add('GET', '/v3/users/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    if (!ctx.isAdmin && ctx.user.id !== p.id)
      throw new HttpError(403, 'You are not authorized to perform the requested action: identity:get_user.');
    const user = st().users.find((u) => u.id === p.id);
    if (!user) throw new HttpError(404, `Could not find user: ${p.id}.`);
    return { status: 200, body: { user: userJson(user) } };
  });

  router.add('GET', '/v3/users/:id/projects', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    if (!ctx.isAdmin && ctx.user.id !== p.id)
      throw new HttpError(403, 'You are not authorized to perform the requested action: identity:list_user_projects.');
    const projects = st().projects.filter((x) => cloud.rolesOf(p.id, x.id).length > 0);
    return listReply('projects', projects.map(projectJson), `/v3/users/${p.id}/projects`);
  });

  router.add('GET', '/v3/roles', (req): Reply => {
    admin(req);
    const roles = st().roles.map((r) => ({
      id: r.id,
      name: r.name,
      domain_id: null,
      description: null,
      options: {},
      links: { self: `${cloud.baseUrl}/v3/roles/${r.id}` },
    }));
    return listReply('roles', roles, '/v3/roles');
  });

  router.add('GET', '/v3/role_assignments', (req): Reply => {
    admin(req);
    const assignments = st().role_assignments.map((a) => ({
      role: { id: a.role_id },
      user: { id: a.user_id },
      scope: { project: { id: a.project_id } },
      links: { assignment: `${cloud.baseUrl}/v3/projects/${a.project_id}/users/${a.user_id}/roles/${a.role_id}` },
    }));
    return listReply('role_assignments', assignments, '/v3/role_assignments');
  });

  router.add('GET', '/v3/regions', (req): Reply => {
    cloud.authenticate(req);
    const regions = cloud.regionNames.map((r) => ({
      id: r,
      description: '',
      parent_region_id: null,
      links: { self: `${cloud.baseUrl}/v3/regions/${r}` },
    }));
    return listReply('regions', regions, '/v3/regions');
  });

  const ownCredentials = (req: Request, userId: string): AuthContext => {
    const ctx = cloud.authenticate(req);
    if (ctx.user.id !== userId && !ctx.isAdmin) {
      throw new HttpError(
        403,
        'You are not authorized to perform the requested action: identity:list_application_credentials.',
      );
    }
    return ctx;
  };

  router.add('GET', '/v3/users/:id/application_credentials', (req, p): Reply => {
    ownCredentials(req, p.id);
    const list = st().application_credentials.filter((a) => a.user_id === p.id);
    return listReply(
      'application_credentials',
      list.map((a) => appCredJson(a, false)),
      `/v3/users/${p.id}/application_credentials`,
    );
  });

  router.add('POST', '/v3/users/:id/application_credentials', async (req, p): Promise<Reply> => {
    const ctx = ownCredentials(req, p.id);
    if (ctx.user.id !== p.id)
      throw new HttpError(
        403,
        'You are not authorized to perform the requested action: identity:create_application_credential.',
      );
    const body = await readJson(req.raw, 'Malformed request body: the request body is not valid JSON.');
    if (!isObject(body)) throw new HttpError(400, "Invalid input for field '/': not an object");
    const ac = field(body, 'application_credential', 'application_credential');
    const name = str(ac, 'name');
    if (!name)
      throw new HttpError(400, "Invalid input for field 'application_credential': 'name' is a required property");
    if (st().application_credentials.some((a) => a.user_id === p.id && a.name === name)) {
      throw new HttpError(409, 'Conflict occurred attempting to store application_credential - Duplicate entry.');
    }
    const cred: ApplicationCredential = {
      id: hexId(),
      name,
      secret: str(ac, 'secret') ?? crypto.randomBytes(48).toString('base64url'),
      user_id: p.id,
      project_id: ctx.project.id,
      description: str(ac, 'description') ?? '',
      expires_at: str(ac, 'expires_at') ?? null,
    };
    st().application_credentials.push(cred);
    cloud.changed();
    return { status: 201, body: { application_credential: appCredJson(cred, true) } };
  });

  router.add('DELETE', '/v3/users/:id/application_credentials/:cred', (req, p): Reply => {
    ownCredentials(req, p.id);
    const before = st().application_credentials.length;
    st().application_credentials = st().application_credentials.filter((a) => !(a.id === p.cred && a.user_id === p.id));
    if (st().application_credentials.length === before)
      throw new HttpError(404, `Could not find Application Credential: ${p.cred}.`);
    cloud.changed();
    return { status: 204 };
  });

  // Keystone v2.0: dibctl users still point at v2.0 auth URLs
  router.add('POST', '/v2.0/tokens', async (req): Promise<Reply> => {
    const body = await readJson(req.raw, 'Malformed request body: the request body is not valid JSON.');
    if (!isObject(body) || !isObject(body.auth))
      throw new HttpError(
        400,
        'Expecting to find auth in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
      );
    const auth = body.auth;
    let user: User | undefined;
    if (isObject(auth.passwordCredentials)) {
      const { username, userId, password } = auth.passwordCredentials as Record<string, unknown>;
      if (typeof password !== 'string') throw new HttpError(400, 'Expecting to find password in passwordCredentials.');
      user = st().users.find(
        (u) => u.domain_id === 'default' && (userId !== undefined ? u.id === userId : u.name === username),
      );
      if (!user || !user.enabled || user.password !== password) throw new HttpError(401, UNAUTHORIZED);
    } else if (isObject(auth.token)) {
      const t = st().tokens.find((x) => x.id === (auth.token as Record<string, unknown>).id);
      if (!t || Date.parse(t.expires_at) <= Date.now()) throw new HttpError(401, UNAUTHORIZED);
      user = st().users.find((u) => u.id === t.user_id);
      if (!user) throw new HttpError(401, UNAUTHORIZED);
    } else {
      throw new HttpError(400, 'Expecting to find passwordCredentials or token in auth.');
    }
    let project: Project | undefined;
    if (auth.tenantId !== undefined || auth.tenantName !== undefined) {
      project = st().projects.find(
        (p) =>
          p.domain_id === 'default' &&
          (auth.tenantId !== undefined ? p.id === auth.tenantId : p.name === auth.tenantName),
      );
      if (!project || cloud.rolesOf(user.id, project.id).length === 0) throw new HttpError(401, UNAUTHORIZED);
    }
    const token = cloud.issueToken(user, project, ['password']);
    const roles = project ? cloud.rolesOf(user.id, project.id) : [];
    const access: Record<string, unknown> = {
      token: {
        id: token.id,
        issued_at: token.issued_at,
        expires: token.expires_at.replace(/\.\d+Z$/, 'Z'),
        audit_ids: [token.audit_id],
        ...(project
          ? {
              tenant: {
                id: project.id,
                name: project.name,
                description: project.description,
                enabled: project.enabled,
              },
            }
          : {}),
      },
      serviceCatalog: project ? v2Catalog(cloud) : [],
      user: {
        id: user.id,
        name: user.name,
        username: user.name,
        roles: roles.map((name) => ({ name })),
        roles_links: [],
      },
      metadata: { is_admin: 0, roles: roles.map((n) => st().roles.find((r) => r.name === n)!.id) },
    };
    return { status: 200, body: { access } };
  });

  router.add('GET', '/v2.0/tenants', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const projects = st().projects.filter((p) => cloud.rolesOf(ctx.user.id, p.id).length > 0);
    return {
      status: 200,
      body: {
        tenants: projects.map((p) => ({ id: p.id, name: p.name, description: p.description, enabled: p.enabled })),
        tenants_links: [],
      },
    };
  });

  return router;
}
