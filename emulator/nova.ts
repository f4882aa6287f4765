/** Nova v2.1: flavors, keypairs, servers with their lifecycle, interfaces and actions. */
import crypto from 'node:crypto';
import { utils } from 'ssh2';
import { AuthContext, Cloud } from './cloud';
import { canSee } from './glance';
import { HttpError, Reply, Request, Router, isObject, nowIso, readJson } from './http';
import { allocatePort, visibleNetwork } from './neutron';
import { hostnameFor } from './ssh';
import { Flavor, Image, Keypair, RegionState, Server, ServerAddress, uuid } from './state';
import { generateSshKeyPair } from './keys';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.96';
/** Users an image accepts logins for when it names none in its `default_user` property. */
export const DEFAULT_LOGIN_USERS = ['root', 'ubuntu', 'debian', 'cloud-user', 'centos', 'fedora', 'admin'];
const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const MALFORMED = 'Malformed request body';

export interface Microversion {
  major: number;
  minor: number;
}

function parseVersion(v: string): Microversion {
  const [major, minor] = v.split('.').map(Number);
  return { major, minor };
}

function atLeast(v: Microversion, wanted: string): boolean {
  const w = parseVersion(wanted);
  return v.major > w.major || (v.major === w.major && v.minor >= w.minor);
}

/** The microversion a request asks for, from either header; 400/406 like Nova. */
export function requestedVersion(req: Request): Microversion {
  let raw: string | undefined;
  const modern = req.headers['openstack-api-version'];
  if (typeof modern === 'string') {
    for (const part of modern.split(',')) {
      const [service, version] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute') raw = version;
    }
  }
  const legacy = req.headers['x-openstack-nova-api-version'];
  if (raw === undefined && typeof legacy === 'string') raw = legacy.trim();
  if (raw === undefined) return parseVersion(MIN_VERSION);
  if (raw.toLowerCase() === 'latest') return parseVersion(MAX_VERSION);
  if (!/^\d+\.\d+$/.test(raw)) {
    throw new HttpError(400, `API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`);
  }
  const v = parseVersion(raw);
  if (!atLeast(v, MIN_VERSION) || !atLeast(parseVersion(MAX_VERSION), raw)) {
    throw new HttpError(406, `Version ${raw} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  }
  return v;
}

export function versionHeaders(v: Microversion): Record<string, string> {
  const s = `${v.major}.${v.minor}`;
  return {
    'OpenStack-API-Version': `compute ${s}`,
    'X-OpenStack-Nova-API-Version': s,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}

const invalid = (field: string, value: unknown, reason: string) =>
  new HttpError(400, `Invalid input for field/attribute ${field}. Value: ${typeof value === 'string' ? value : JSON.stringify(value)}. ${reason}`);

function keyFingerprint(publicKey: string): string {
  const parsed = utils.parseKey(publicKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || !key || key.isPrivateKey()) throw new HttpError(400, 'Keypair data is invalid: failed to generate fingerprint');
  return crypto.createHash('md5').update(key.getPublicSSH()).digest('hex').match(/../g)!.join(':');
}

/** State that lives only while the process runs: pending boot timers and boot outcomes. */
interface Pending {
  timer?: NodeJS.Timeout;
}

export interface NovaHooks {
  /** Starts the SSH endpoint of a server that just became ACTIVE; rejects when it cannot. */
  startGuest(region: string, server: Server): Promise<void>;
  stopGuest(region: string, server: Server, removeFiles: boolean): Promise<void>;
  /**
   * Looks an image up in an image service outside this emulator, as the caller
   * (undefined when it does not exist or the caller may not see it). Without
   * it, images come from the emulated Glance of the region.
   */
  findImage?(region: string, id: string, ctx: AuthContext): Promise<Image | undefined>;
}

export interface NovaService {
  router: Router;
  /** Continues boots that a previous process left unfinished. */
  resume(): void;
  stopTimers(): void;
}

export function novaRoutes(cloud: Cloud, region: string, hooks: NovaHooks): NovaService {
  const rs = (): RegionState => cloud.region(region);
  const base = () => `${cloud.baseUrl}/compute/${region}`;
  const pending = new Map<string, Pending>();
  const router = new Router();

  const versionDoc = () => ({
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${base()}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  });

  router.add('GET', '', (): Reply => ({
    status: 200,
    body: {
      versions: [
        { id: 'v2.0', status: 'SUPPORTED', version: '', min_version: '', updated: '2011-01-21T11:33:21Z', links: [{ rel: 'self', href: `${base()}/v2/` }] },
        { ...versionDoc(), 'media-types': undefined },
      ],
    },
  }));
  router.add('GET', '/v2.1', (): Reply => ({ status: 200, body: { version: versionDoc() } }));

  // ---- flavors
  const flavorLinks = (f: Flavor) => [
    { rel: 'self', href: `${base()}/v2.1/flavors/${f.id}` },
    { rel: 'bookmark', href: `${base()}/flavors/${f.id}` },
  ];
  const flavorJson = (f: Flavor, v: Microversion, detail: boolean) => {
    if (!detail) return { id: f.id, name: f.name, links: flavorLinks(f), ...(atLeast(v, '2.55') ? { description: f.description } : {}) };
    return {
      id: f.id,
      name: f.name,
      ram: f.ram,
      disk: f.disk,
      vcpus: f.vcpus,
      swap: atLeast(v, '2.75') ? f.swap : f.swap || '',
      'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
      'OS-FLV-DISABLED:disabled': f.disabled,
      'os-flavor-access:is_public': f.is_public,
      rxtx_factor: f.rxtx_factor,
      links: flavorLinks(f),
      ...(atLeast(v, '2.55') ? { description: f.description } : {}),
      ...(atLeast(v, '2.61') ? { extra_specs: f.extra_specs } : {}),
    };
  };
  const findFlavor = (id: string): Flavor => {
    const f = rs().flavors.find((x) => x.id === id);
    if (!f) throw new HttpError(404, `Flavor ${id} could not be found.`);
    return f;
  };

  const paginate = <T extends { id: string | number }>(req: Request, items: T[], markerKey: (t: T) => string, what: string) => {
    const limitRaw = req.query.get('limit');
    let limit = 1000;
    if (limitRaw !== null) {
      if (!/^\d+$/.test(limitRaw)) throw invalid('query parameters limit', limitRaw, `'${limitRaw}' does not match '^[0-9]*$'`);
      limit = Math.min(Number(limitRaw), 1000);
    }
    const marker = req.query.get('marker');
    let rest = items;
    if (marker !== null) {
      const idx = items.findIndex((i) => markerKey(i) === marker);
      if (idx < 0) throw new HttpError(400, `marker [${marker}] not found`);
      rest = items.slice(idx + 1);
    }
    const page = rest.slice(0, limit);
    let next: string | undefined;
    if (page.length && page.length === limit) {
      const q = new URLSearchParams(req.query);
      q.set('marker', markerKey(page[page.length - 1]));
      q.set('limit', String(limit));
      next = `${base()}${req.path}?${q.toString()}`;
    }
    return { page, links: next ? { [`${what}_links`]: [{ rel: 'next', href: next }] } : {} };
  };

  const listFlavors = (detail: boolean) => (req: Request): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const isPublic = req.query.get('is_public');
    let flavors = rs().flavors.filter((f) => !f.disabled);
    if (!ctx.isAdmin || isPublic === null || ['true', 't', '1', 'yes', 'y'].includes(isPublic.toLowerCase())) {
      flavors = flavors.filter((f) => f.is_public || (ctx.isAdmin && isPublic?.toLowerCase() === 'none'));
    } else if (['false', 'f', '0', 'no', 'n'].includes(isPublic.toLowerCase())) {
      flavors = flavors.filter((f) => !f.is_public);
    }
    const minRam = req.query.get('minRam');
    const minDisk = req.query.get('minDisk');
    if (minRam !== null) {
      if (!/^\d+$/.test(minRam)) throw new HttpError(400, `Invalid minRam filter [${minRam}]`);
      flavors = flavors.filter((f) => f.ram >= Number(minRam));
    }
    if (minDisk !== null) {
      if (!/^\d+$/.test(minDisk)) throw new HttpError(400, `Invalid minDisk filter [${minDisk}]`);
      flavors = flavors.filter((f) => f.disk >= Number(minDisk));
    }
    const sortKey = req.query.get('sort_key') ?? 'flavorid';
    const sortDir = req.query.get('sort_dir') ?? 'asc';
    const keyOf = (f: Flavor): string | number => (sortKey === 'flavorid' || sortKey === 'id' ? f.id : (f as unknown as Record<string, string | number>)[sortKey] ?? '');
    flavors = [...flavors].sort((a, b) => {
      const x = keyOf(a);
      const y = keyOf(b);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return sortDir === 'desc' ? -c : c;
    });
    const { page, links } = paginate(req, flavors, (f) => f.id, 'flavors');
    return { status: 200, body: { flavors: page.map((f) => flavorJson(f, v, detail)), ...links } };
  };
  router.add('GET', '/v2.1/flavors', listFlavors(false));
  router.add('GET', '/v2.1/flavors/detail', listFlavors(true));
  router.add('GET', '/v2.1/flavors/:id', (req, p): Reply => {
    cloud.authenticate(req);
    return { status: 200, body: { flavor: flavorJson(findFlavor(p.id), requestedVersion(req), true) } };
  });
  router.add('GET', '/v2.1/flavors/:id/os-extra_specs', (req, p): Reply => {
    cloud.authenticate(req);
    return { status: 200, body: { extra_specs: findFlavor(p.id).extra_specs } };
  });
  router.add('GET', '/v2.1/flavors/:id/os-extra_specs/:key', (req, p): Reply => {
    cloud.authenticate(req);
    const f = findFlavor(p.id);
    if (!(p.key in f.extra_specs)) throw new HttpError(404, `Flavor ${p.id} has no extra specs with key ${p.key}.`);
    return { status: 200, body: { [p.key]: f.extra_specs[p.key] } };
  });
  const adminOnly = (ctx: AuthContext, rule: string) => {
    if (!ctx.isAdmin) throw new HttpError(403, `Policy doesn't allow ${rule} to be performed.`);
  };
  router.add('POST', '/v2.1/flavors/:id/os-extra_specs', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    adminOnly(ctx, 'os_compute_api:os-flavor-extra-specs:create');
    const f = findFlavor(p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.extra_specs)) throw invalid('extra_specs', body, "'extra_specs' is a required property");
    for (const [k, val] of Object.entries(body.extra_specs)) {
      if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') throw invalid(`extra_specs/${k}`, val, `${JSON.stringify(val)} is not of type 'string', 'integer', 'number', 'boolean'`);
      f.extra_specs[k] = String(val);
    }
    cloud.changed();
    return { status: 200, body: { extra_specs: f.extra_specs } };
  });
  router.add('POST', '/v2.1/flavors', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    adminOnly(ctx, 'os_compute_api:os-flavor-manage:create');
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.flavor)) throw invalid('flavor', body, "'flavor' is a required property");
    const f = body.flavor;
    const allowed = ['name', 'id', 'ram', 'vcpus', 'disk', 'OS-FLV-EXT-DATA:ephemeral', 'swap', 'rxtx_factor', 'os-flavor-access:is_public', 'description'];
    const extra = Object.keys(f).filter((k) => !allowed.includes(k));
    if (extra.length) throw invalid('flavor', f, `Additional properties are not allowed ('${extra[0]}' was unexpected)`);
    if (typeof f.name !== 'string' || !f.name.trim()) throw invalid('flavor/name', f.name, "'name' is a required property");
    for (const k of ['ram', 'vcpus', 'disk']) {
      if (f[k] === undefined) throw invalid('flavor', f, `'${k}' is a required property`);
      if (!Number.isInteger(Number(f[k])) || Number(f[k]) < (k === 'disk' ? 0 : 1)) throw invalid(`flavor/${k}`, f[k], `${JSON.stringify(f[k])} is not of type 'integer', 'string'`);
    }
    const id = f.id === undefined || f.id === null ? uuid() : String(f.id);
    if (rs().flavors.some((x) => x.id === id)) throw new HttpError(409, `Flavor with ID ${id} already exists.`);
    if (rs().flavors.some((x) => x.name === f.name)) throw new HttpError(409, `Flavor with name ${String(f.name)} already exists.`);
    const flavor: Flavor = {
      id,
      name: f.name,
      ram: Number(f.ram),
      vcpus: Number(f.vcpus),
      disk: Number(f.disk),
      ephemeral: Number(f['OS-FLV-EXT-DATA:ephemeral'] ?? 0),
      swap: Number(f.swap ?? 0),
      rxtx_factor: Number(f.rxtx_factor ?? 1),
      is_public: f['os-flavor-access:is_public'] !== false,
      disabled: false,
      description: typeof f.description === 'string' ? f.description : null,
      extra_specs: {},
    };
    rs().flavors.push(flavor);
    cloud.changed();
    return { status: 200, body: { flavor: flavorJson(flavor, v, true) } };
  });
  router.add('DELETE', '/v2.1/flavors/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    adminOnly(ctx, 'os_compute_api:os-flavor-manage:delete');
    const f = findFlavor(p.id);
    rs().flavors = rs().flavors.filter((x) => x !== f);
    cloud.changed();
    return { status: 202 };
  });

  // ---- keypairs
  const keypairJson = (k: Keypair, v: Microversion, full: boolean) => ({
    name: k.name,
    public_key: k.public_key,
    fingerprint: k.fingerprint,
    ...(atLeast(v, '2.2') ? { type: k.type } : {}),
    ...(full ? { user_id: k.user_id, deleted: false, created_at: k.created_at, deleted_at: null, updated_at: null, id: k.id } : {}),
  });
  const keypairOwner = (req: Request, ctx: AuthContext, v: Microversion): string => {
    const userId = req.query.get('user_id');
    if (userId === null || !atLeast(v, '2.10')) return ctx.user.id;
    if (!ctx.isAdmin && userId !== ctx.user.id) throw new HttpError(403, "Policy doesn't allow os_compute_api:os-keypairs:index to be performed.");
    return userId;
  };
  router.add('GET', '/v2.1/os-keypairs', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const owner = keypairOwner(req, ctx, v);
    const mine = rs().keypairs.filter((k) => k.user_id === owner);
    if (atLeast(v, '2.35')) {
      const { page, links } = paginate(req, mine.map((k) => ({ ...k, id: k.name })), (k) => k.name, 'keypairs');
      return { status: 200, body: { keypairs: page.map((k) => ({ keypair: keypairJson({ ...k, id: 0 }, v, false) })), ...links } };
    }
    return { status: 200, body: { keypairs: mine.map((k) => ({ keypair: keypairJson(k, v, false) })) } };
  });
  router.add('GET', '/v2.1/os-keypairs/:name', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const owner = keypairOwner(req, ctx, v);
    const k = rs().keypairs.find((x) => x.name === p.name && x.user_id === owner);
    if (!k) throw new HttpError(404, `Keypair ${p.name} not found for user ${owner}`);
    return { status: 200, body: { keypair: keypairJson(k, v, true) } };
  });
  router.add('POST', '/v2.1/os-keypairs', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.keypair)) throw invalid('keypair', body, "'keypair' is a required property");
    const kp = body.keypair;
    const allowed = ['name', 'public_key', ...(atLeast(v, '2.2') ? ['type'] : []), ...(atLeast(v, '2.10') ? ['user_id'] : [])];
    const extra = Object.keys(kp).filter((k) => !allowed.includes(k));
    if (extra.length) throw invalid('keypair', kp, `Additional properties are not allowed ('${extra[0]}' was unexpected)`);
    if (kp.name === undefined) throw invalid('keypair', kp, "'name' is a required property");
    if (typeof kp.name !== 'string') throw invalid('keypair/name', kp.name, `${JSON.stringify(kp.name)} is not of type 'string'`);
    if (!/^[a-zA-Z0-9 _.@-]{1,255}$/.test(kp.name)) {
      throw new HttpError(400, 'Keypair data is invalid: Keypair name contains unsafe characters');
    }
    if (kp.type !== undefined && kp.type !== 'ssh' && kp.type !== 'x509') throw invalid('keypair/type', kp.type, `${JSON.stringify(kp.type)} is not one of ['ssh', 'x509']`);
    if (kp.public_key !== undefined && typeof kp.public_key !== 'string') throw invalid('keypair/public_key', kp.public_key, `${JSON.stringify(kp.public_key)} is not of type 'string'`);
    if (kp.public_key === undefined && atLeast(v, '2.92')) throw invalid('keypair', kp, "'public_key' is a required property");
    const owner = typeof kp.user_id === 'string' ? kp.user_id : ctx.user.id;
    if (owner !== ctx.user.id && !ctx.isAdmin) throw new HttpError(403, "Policy doesn't allow os_compute_api:os-keypairs:create to be performed.");
    if (rs().keypairs.some((k) => k.name === kp.name && k.user_id === owner)) throw new HttpError(409, `Key pair '${kp.name}' already exists.`);
    let publicKey = kp.public_key as string | undefined;
    let privateKey: string | undefined;
    if (publicKey === undefined) {
      const pair = generateSshKeyPair('rsa');
      publicKey = `${pair.public} Generated-by-Nova`;
      privateKey = pair.private;
    }
    const keypair: Keypair = {
      name: kp.name,
      user_id: owner,
      public_key: publicKey.trim(),
      fingerprint: keyFingerprint(publicKey.trim()),
      type: (kp.type as Keypair['type'] | undefined) ?? 'ssh',
      created_at: nowIso(),
      id: cloud.state.next_keypair_id++,
    };
    rs().keypairs.push(keypair);
    cloud.changed();
    const reply = { ...keypairJson(keypair, v, false), user_id: owner, ...(privateKey ? { private_key: privateKey } : {}) };
    return { status: atLeast(v, '2.2') ? 201 : 200, body: { keypair: reply } };
  });
  router.add('DELETE', '/v2.1/os-keypairs/:name', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const owner = keypairOwner(req, ctx, v);
    const k = rs().keypairs.find((x) => x.name === p.name && x.user_id === owner);
    if (!k) throw new HttpError(404, `Keypair ${p.name} not found for user ${owner}`);
    rs().keypairs = rs().keypairs.filter((x) => x !== k);
    cloud.changed();
    return { status: atLeast(v, '2.2') ? 204 : 202 };
  });

  // ---- servers
  const serverLinks = (s: Server) => [
    { rel: 'self', href: `${base()}/v2.1/servers/${s.id}` },
    { rel: 'bookmark', href: `${base()}/servers/${s.id}` },
  ];
  const serverJson = (s: Server, v: Microversion, ctx: AuthContext) => {
    const flavor = rs().flavors.find((f) => f.id === s.flavor_id);
    const addresses: Record<string, unknown[]> = {};
    for (const a of s.addresses) {
      (addresses[a.network_name] ??= []).push({ version: 4, addr: a.ip, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': a.mac });
    }
    const body: Record<string, unknown> = {
      id: s.id,
      name: s.name,
      status: s.status,
      tenant_id: s.project_id,
      user_id: s.user_id,
      metadata: s.metadata,
      hostId: s.status === 'BUILD' && !s.launched_at ? '' : crypto.createHash('sha224').update(s.project_id + 'emulator-host').digest('hex'),
      image: s.image_id ? { id: s.image_id, links: [{ rel: 'bookmark', href: `${base()}/images/${s.image_id}` }] } : '',
      flavor: atLeast(v, '2.47')
        ? {
            vcpus: flavor?.vcpus ?? 0,
            ram: flavor?.ram ?? 0,
            disk: flavor?.disk ?? 0,
            ephemeral: flavor?.ephemeral ?? 0,
            swap: flavor?.swap ?? 0,
            original_name: flavor?.name ?? s.flavor_id,
            extra_specs: flavor?.extra_specs ?? {},
          }
        : { id: s.flavor_id, links: [{ rel: 'bookmark', href: `${base()}/flavors/${s.flavor_id}` }] },
      created: s.created,
      updated: s.updated,
      addresses,
      accessIPv4: '',
      accessIPv6: '',
      links: serverLinks(s),
      'OS-DCF:diskConfig': 'MANUAL',
      'OS-EXT-AZ:availability_zone': s.status === 'BUILD' && !s.launched_at ? '' : s.availability_zone,
      config_drive: s.config_drive,
      key_name: s.key_name,
      'OS-SRV-USG:launched_at': s.launched_at,
      'OS-SRV-USG:terminated_at': null,
      security_groups: s.status === 'ERROR' ? undefined : [{ name: 'default' }],
      'OS-EXT-STS:task_state': s.task_state,
      'OS-EXT-STS:vm_state': s.vm_state,
      'OS-EXT-STS:power_state': s.power_state,
      'os-extended-volumes:volumes_attached': [],
    };
    if (s.status === 'BUILD' || s.status === 'ACTIVE') body.progress = 0;
    if (ctx.isAdmin) {
      body['OS-EXT-SRV-ATTR:host'] = s.launched_at ? 'emulator' : null;
      body['OS-EXT-SRV-ATTR:instance_name'] = `instance-${s.id.slice(0, 8)}`;
      body['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.launched_at ? 'emulator' : null;
    }
    if (atLeast(v, '2.3') && ctx.isAdmin) {
      Object.assign(body, {
        'OS-EXT-SRV-ATTR:reservation_id': `r-${s.id.slice(0, 8)}`,
        'OS-EXT-SRV-ATTR:launch_index': 0,
        'OS-EXT-SRV-ATTR:kernel_id': '',
        'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
        'OS-EXT-SRV-ATTR:user_data': s.user_data,
      });
    }
    if (atLeast(v, '2.3') && ctx.isAdmin || atLeast(v, '2.90')) body['OS-EXT-SRV-ATTR:hostname'] = s.hostname;
    if (atLeast(v, '2.9')) body.locked = false;
    if (atLeast(v, '2.19')) body.description = null;
    if (atLeast(v, '2.26')) body.tags = s.tags;
    if (atLeast(v, '2.63')) body.trusted_image_certificates = null;
    if (atLeast(v, '2.73')) body.locked_reason = null;
    if (atLeast(v, '2.96')) body.pinned_availability_zone = null;
    if (s.status === 'ERROR' && s.fault) {
      body.fault = { code: s.fault.code, message: s.fault.message, created: s.fault.created, ...(ctx.isAdmin ? { details: s.fault.details } : {}) };
    }
    if (body.security_groups === undefined) delete body.security_groups;
    return body;
  };

  const findServer = (ctx: AuthContext, id: string): Server => {
    const s = rs().servers.find((x) => x.id === id);
    if (!s || (!ctx.isAdmin && s.project_id !== ctx.project.id)) throw new HttpError(404, `Instance ${id} could not be found.`);
    return s;
  };

  const consoleLines = (s: Server, addresses: ServerAddress[]) => [
    `[    0.000000] Linux version 6.1.0-emulated (emulator@openstack) #1 SMP`,
    `[    1.204511] Run /sbin/init as init process`,
    `Cloud-init v. 22.4.2 running 'init' at ${new Date().toUTCString()}. Up 3.21 seconds.`,
    ...addresses.map((a) => `ci-info: |  eth0  | True |  ${a.ip}  | 255.255.255.0 | global | ${a.mac} |`),
    `Cloud-init v. 22.4.2 running 'modules:config' at ${new Date().toUTCString()}.`,
    `${s.hostname} login: `,
    `Cloud-init v. 22.4.2 finished at ${new Date().toUTCString()}. Datasource DataSourceOpenStackLocal. Up 9.87 seconds`,
  ];

  /** Brings a server from BUILD (or REBUILD/REBOOT) to ACTIVE, or to ERROR when told to. */
  const finishBoot = (s: Server, failBoot: boolean) => {
    const p: Pending = pending.get(s.id) ?? {};
    pending.set(s.id, p);
    p.timer = setTimeout(() => {
      pending.delete(s.id);
      if (!rs().servers.includes(s)) return;
      const fail = (message: string, details: string) => {
        s.status = 'ERROR';
        s.vm_state = 'error';
        s.task_state = null;
        s.power_state = 0;
        s.fault = { code: 500, message, details, created: nowIso() };
        s.updated = nowIso();
        cloud.changed();
      };
      if (failBoot) {
        fail(cloud.faults.get('bootErrorMessage'), 'Traceback (most recent call last):\n  File "nova/conductor/manager.py", in schedule_and_build_instances\nnova.exception.NoValidHost');
        return;
      }
      const activate = () => {
        s.status = 'ACTIVE';
        s.vm_state = 'active';
        s.task_state = null;
        s.power_state = 1;
        s.launched_at ??= nowIso(true).replace('Z', '');
        s.updated = nowIso();
        s.console_log = consoleLines(s, s.addresses);
        cloud.changed();
        cloud.onServerChange(region, s.id, 'active');
      };
      if (s.ssh_disabled || !s.addresses.length) return activate();
      hooks.startGuest(region, s).then(activate, (err: Error) => fail(`Build of instance ${s.id} aborted: ${err.message}`, String(err.stack ?? err.message)));
    }, cloud.faults.get('bootDelayMs'));
  };

  const stringMap = (field: string, value: unknown): Record<string, string> => {
    if (!isObject(value)) throw invalid(field, value, `${JSON.stringify(value)} is not of type 'object'`);
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') throw invalid(`${field}/${k}`, v, `${JSON.stringify(v)} is not of type 'string'`);
      if (k.length > 255 || v.length > 255) throw invalid(`${field}/${k}`, v, 'is too long');
    }
    return value as Record<string, string>;
  };

  /** The image as the caller sees it: from the external image service when there is one, else the emulated Glance. */
  const visibleImage = async (ctx: AuthContext, id: string): Promise<Image | undefined> => {
    if (hooks.findImage) return hooks.findImage(region, id, ctx);
    const image = rs().images.find((i) => i.id === id);
    return image && canSee(ctx, image) ? image : undefined;
  };

  const SERVER_KEYS = [
    'name', 'imageRef', 'flavorRef', 'adminPass', 'metadata', 'networks', 'key_name', 'user_data', 'availability_zone', 'config_drive',
    'security_groups', 'block_device_mapping', 'block_device_mapping_v2', 'min_count', 'max_count', 'return_reservation_id', 'tags',
    'description', 'hostname', 'accessIPv4', 'accessIPv6', 'OS-DCF:diskConfig', 'personality', 'trusted_image_certificates', 'host', 'hypervisor_hostname',
  ];

  router.add('POST', '/v2.1/servers', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body)) throw invalid('/', body, `${JSON.stringify(body)} is not of type 'object'`);
    const top = Object.keys(body).filter((k) => !['server', 'os:scheduler_hints', 'OS-SCH-HNT:scheduler_hints'].includes(k));
    if (top.length) throw invalid('root', body, `Additional properties are not allowed ('${top[0]}' was unexpected)`);
    if (!isObject(body.server)) throw invalid('root', body, "'server' is a required property");
    const sv = body.server;
    const extra = Object.keys(sv).filter((k) => !SERVER_KEYS.includes(k));
    if (extra.length) throw invalid('server', sv, `Additional properties are not allowed ('${extra[0]}' was unexpected)`);
    if (sv.name === undefined) throw invalid('server', sv, "'name' is a required property");
    if (typeof sv.name !== 'string') throw invalid('server/name', sv.name, `${JSON.stringify(sv.name)} is not of type 'string'`);
    if (!sv.name.trim() || sv.name.length > 255) throw invalid('server/name', sv.name, `'${sv.name}' does not match the allowed pattern`);
    if (sv.flavorRef === undefined) throw invalid('server', sv, "'flavorRef' is a required property");
    if (typeof sv.flavorRef !== 'string' && typeof sv.flavorRef !== 'number') throw invalid('server/flavorRef', sv.flavorRef, `${JSON.stringify(sv.flavorRef)} is not of type 'string', 'integer'`);
    if (sv.imageRef !== undefined && typeof sv.imageRef !== 'string') throw invalid('server/imageRef', sv.imageRef, `${JSON.stringify(sv.imageRef)} is not of type 'string'`);
    if (sv.key_name !== undefined && sv.key_name !== null && typeof sv.key_name !== 'string') throw invalid('server/key_name', sv.key_name, `${JSON.stringify(sv.key_name)} is not of type 'string'`);
    if (sv.availability_zone !== undefined && typeof sv.availability_zone !== 'string') throw invalid('server/availability_zone', sv.availability_zone, `${JSON.stringify(sv.availability_zone)} is not of type 'string'`);
    if (sv.config_drive !== undefined && typeof sv.config_drive !== 'boolean' && typeof sv.config_drive !== 'string') throw invalid('server/config_drive', sv.config_drive, `${JSON.stringify(sv.config_drive)} is not of type 'boolean', 'string'`);
    if (sv.user_data !== undefined && sv.user_data !== null) {
      if (typeof sv.user_data !== 'string' || !/^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/.test(sv.user_data)) throw invalid('server/user_data', sv.user_data, `${JSON.stringify(sv.user_data)} is not a 'base64'`);
      if (sv.user_data.length > 65535) throw invalid('server/user_data', '...', 'is too long');
    }
    if (sv.tags !== undefined && (!atLeast(v, '2.52') || !Array.isArray(sv.tags) || !sv.tags.every((t) => typeof t === 'string'))) {
      throw invalid('server/tags', sv.tags, atLeast(v, '2.52') ? "is not of type 'array' of strings" : "Additional properties are not allowed ('tags' was unexpected)");
    }
    const metadata = sv.metadata === undefined ? {} : stringMap('server/metadata', sv.metadata);
    for (const k of ['min_count', 'max_count']) {
      if (sv[k] !== undefined && (!Number.isInteger(Number(sv[k])) || Number(sv[k]) < 1)) throw invalid(`server/${k}`, sv[k], `${JSON.stringify(sv[k])} is less than the minimum of 1`);
    }
    if (Number(sv.max_count ?? 1) > 1 || Number(sv.min_count ?? 1) > 1) throw new HttpError(400, 'This cloud boots one server per request (min_count/max_count > 1 is not emulated).');
    if (sv.networks === undefined && atLeast(v, '2.37')) throw invalid('server', sv, "'networks' is a required property");

    // The checks Nova's API makes before it accepts the boot, in Nova's order and words
    const flavor = rs().flavors.find((f) => f.id === String(sv.flavorRef));
    if (!flavor) throw new HttpError(400, 'Invalid flavorRef provided.');
    if (!sv.imageRef) throw new HttpError(400, 'Block Device Mapping is Invalid: You specified more local devices than the limit allows');
    const image = UUID_RE.test(sv.imageRef as string) ? await visibleImage(ctx, sv.imageRef as string) : undefined;
    if (!image) throw new HttpError(400, 'Can not find requested image');
    if (image.status !== 'active') throw new HttpError(400, `Image ${image.id} is not active.`);
    if (image.size !== null && flavor.disk > 0 && image.size > flavor.disk * 1024 ** 3) {
      throw new HttpError(400, `Flavor's disk is too small for requested image. Flavor disk is ${flavor.disk * 1024 ** 3} bytes, image is ${image.size} bytes.`);
    }
    if (flavor.disk > 0 && image.min_disk > flavor.disk) {
      throw new HttpError(400, `Flavor's disk is too small for requested image. Flavor disk is ${flavor.disk * 1024 ** 3} bytes, minimum size is ${image.min_disk * 1024 ** 3} bytes.`);
    }
    if (image.min_ram > flavor.ram) throw new HttpError(400, "Flavor's memory is too small for requested image.");
    let keypair: Keypair | undefined;
    if (typeof sv.key_name === 'string') {
      keypair = rs().keypairs.find((k) => k.name === sv.key_name && k.user_id === ctx.user.id);
      if (!keypair) throw new HttpError(400, 'Invalid key_name provided.');
    }
    const az = (sv.availability_zone as string | undefined) ?? 'nova';
    if (az.split(':')[0] !== 'nova') throw new HttpError(400, 'The requested availability zone is not available');

    // Networks: resolve everything first, allocate ports only once the request is known to be good
    type Nic = { networkId?: string; portId?: string; fixedIp?: string };
    const nics: Nic[] = [];
    const visibleNets = rs().networks.filter((n) => visibleNetwork(ctx, n));
    if (sv.networks === undefined || sv.networks === 'auto') {
      if (visibleNets.length === 0) throw new HttpError(400, 'Unable to automatically allocate a network for project ' + ctx.project.id);
      if (visibleNets.length > 1) throw new HttpError(409, 'Multiple possible networks found, use a Network ID to be more specific.');
      nics.push({ networkId: visibleNets[0].id });
    } else if (sv.networks !== 'none') {
      if (!Array.isArray(sv.networks)) throw invalid('server/networks', sv.networks, `${JSON.stringify(sv.networks)} is not valid under any of the given schemas`);
      for (const [i, n] of sv.networks.entries()) {
        if (!isObject(n)) throw invalid(`server/networks/${i}`, n, `${JSON.stringify(n)} is not of type 'object'`);
        const bad = Object.keys(n).filter((k) => !['uuid', 'port', 'fixed_ip', 'tag'].includes(k));
        if (bad.length) throw invalid(`server/networks/${i}`, n, `Additional properties are not allowed ('${bad[0]}' was unexpected)`);
        if (n.port !== undefined && n.port !== null) {
          if (typeof n.port !== 'string') throw invalid(`server/networks/${i}/port`, n.port, "is not of type 'string'");
          const port = rs().ports.find((p) => p.id === n.port && (ctx.isAdmin || p.project_id === ctx.project.id));
          if (!port) throw new HttpError(400, `Port id ${n.port} could not be found.`);
          if (port.device_id) throw new HttpError(409, `Port ${port.id} is still in use.`);
          nics.push({ portId: port.id });
          continue;
        }
        if (typeof n.uuid !== 'string') throw new HttpError(400, 'Bad network format: missing uuid');
        if (!UUID_RE.test(n.uuid)) throw new HttpError(400, `Bad networks format: network uuid is not in proper format (${n.uuid})`);
        const net = visibleNets.find((x) => x.id === n.uuid);
        if (!net) throw new HttpError(400, `Network ${n.uuid} could not be found.`);
        if (n.fixed_ip !== undefined && (typeof n.fixed_ip !== 'string' || !/^\d+\.\d+\.\d+\.\d+$/.test(n.fixed_ip))) {
          throw invalid(`server/networks/${i}/fixed_ip`, n.fixed_ip, `${JSON.stringify(n.fixed_ip)} is not a 'ipv4'`);
        }
        nics.push({ networkId: net.id, fixedIp: n.fixed_ip as string | undefined });
      }
    }

    const id = uuid();
    const now = nowIso();
    const addresses: ServerAddress[] = [];
    const created: string[] = [];
    try {
      for (const nic of nics) {
        let port = nic.portId ? rs().ports.find((p) => p.id === nic.portId)! : undefined;
        if (!port) {
          const net = rs().networks.find((n) => n.id === nic.networkId)!;
          port = allocatePort(rs(), net, { projectId: ctx.project.id, fixedIp: nic.fixedIp, deviceId: id, deviceOwner: `compute:${az}` });
          created.push(port.id);
        }
        port.device_id = id;
        port.device_owner = `compute:${az}`;
        port.status = 'ACTIVE';
        const net = rs().networks.find((n) => n.id === port.network_id)!;
        addresses.push({ network_id: net.id, network_name: net.name, port_id: port.id, ip: port.fixed_ips[0].ip_address, mac: port.mac_address });
      }
    } catch (err) {
      rs().ports = rs().ports.filter((p) => !created.includes(p.id));
      if (err instanceof HttpError) throw new HttpError(400, err.message);
      throw err;
    }
    const users = image.properties.default_user ? [image.properties.default_user] : DEFAULT_LOGIN_USERS;
    const server: Server = {
      id,
      name: sv.name,
      hostname: typeof sv.hostname === 'string' && atLeast(v, '2.90') ? sv.hostname : hostnameFor(sv.name),
      project_id: ctx.project.id,
      user_id: ctx.user.id,
      status: 'BUILD',
      task_state: 'scheduling',
      vm_state: 'building',
      power_state: 0,
      image_id: image.id,
      flavor_id: flavor.id,
      key_name: keypair?.name ?? null,
      login_users: users,
      addresses,
      metadata,
      tags: (sv.tags as string[] | undefined) ?? [],
      availability_zone: az.split(':')[0],
      config_drive: sv.config_drive === true || sv.config_drive === 'True' || sv.config_drive === 'true' ? 'True' : '',
      user_data: (sv.user_data as string | undefined) ?? null,
      created: now,
      updated: now,
      launched_at: null,
      fault: null,
      console_log: [],
      ssh_disabled: cloud.faults.sshBlocked(sv.name),
    };
    rs().servers.push(server);
    cloud.changed();
    finishBoot(server, cloud.faults.takeBootError(server.name));
    const adminPass = crypto.randomBytes(9).toString('base64url').slice(0, 12);
    return {
      status: 202,
      headers: { Location: `${base()}/v2.1/servers/${id}` },
      body: {
        server: {
          id,
          links: serverLinks(server),
          'OS-DCF:diskConfig': 'MANUAL',
          security_groups: [{ name: 'default' }],
          adminPass: sv.adminPass ?? adminPass,
        },
      },
    };
  });

  const listServers = (detail: boolean) => (req: Request): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const q = req.query;
    const allTenantsRaw = q.get('all_tenants');
    const allTenants = allTenantsRaw !== null && !['0', 'false', 'f', 'no', 'n', 'off'].includes(allTenantsRaw.toLowerCase());
    if (allTenants && !ctx.isAdmin) throw new HttpError(403, "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.");
    let servers = rs().servers;
    const projectFilter = q.get('project_id') ?? q.get('tenant_id');
    if (!allTenants) servers = servers.filter((s) => s.project_id === (ctx.isAdmin && projectFilter ? projectFilter : ctx.project.id));
    else if (projectFilter) servers = servers.filter((s) => s.project_id === projectFilter);
    const name = q.get('name');
    if (name !== null) {
      let re: RegExp;
      try {
        re = new RegExp(name);
      } catch {
        throw invalid('query parameters name', name, 'is not a valid regular expression');
      }
      servers = servers.filter((s) => re.test(s.name));
    }
    const status = q.get('status');
    if (status !== null) servers = servers.filter((s) => s.status === status.toUpperCase());
    const image = q.get('image');
    if (image !== null) servers = servers.filter((s) => s.image_id === image);
    const flavorQ = q.get('flavor');
    if (flavorQ !== null) servers = servers.filter((s) => s.flavor_id === flavorQ);
    const keyName = q.get('key_name');
    if (keyName !== null) servers = servers.filter((s) => s.key_name === keyName);
    const ip = q.get('ip');
    if (ip !== null) {
      const re = new RegExp(ip);
      servers = servers.filter((s) => s.addresses.some((a) => re.test(a.ip)));
    }
    const tags = q.get('tags');
    if (tags !== null && atLeast(v, '2.26')) servers = servers.filter((s) => tags.split(',').every((t) => s.tags.includes(t)));
    const sortDir = q.get('sort_dir') === 'asc' ? 1 : -1;
    const order = new Map(rs().servers.map((s, i) => [s.id, i]));
    servers = [...servers].sort((a, b) => sortDir * (a.created.localeCompare(b.created) || order.get(a.id)! - order.get(b.id)!));
    const { page, links } = paginate(req, servers, (s) => s.id, 'servers');
    return {
      status: 200,
      body: { servers: page.map((s) => (detail ? serverJson(s, v, ctx) : { id: s.id, name: s.name, links: serverLinks(s) })), ...links },
    };
  };
  router.add('GET', '/v2.1/servers', listServers(false));
  router.add('GET', '/v2.1/servers/detail', listServers(true));
  router.add('GET', '/v2.1/servers/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    return { status: 200, body: { server: serverJson(findServer(ctx, p.id), v, ctx) } };
  });
  router.add('PUT', '/v2.1/servers/:id', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const s = findServer(ctx, p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.server)) throw invalid('root', body, "'server' is a required property");
    const bad = Object.keys(body.server).filter((k) => !['name', 'accessIPv4', 'accessIPv6', 'OS-DCF:diskConfig', 'description', 'hostname'].includes(k));
    if (bad.length) throw invalid('server', body.server, `Additional properties are not allowed ('${bad[0]}' was unexpected)`);
    if (body.server.name !== undefined) {
      if (typeof body.server.name !== 'string') throw invalid('server/name', body.server.name, "is not of type 'string'");
      s.name = body.server.name;
    }
    s.updated = nowIso();
    cloud.changed();
    return { status: 200, body: { server: serverJson(s, v, ctx) } };
  });

  const deleteServer = async (s: Server) => {
    const p = pending.get(s.id);
    if (p?.timer) clearTimeout(p.timer);
    pending.delete(s.id);
    rs().servers = rs().servers.filter((x) => x !== s);
    // Ports Nova created go away with the server; ports passed in are only detached
    rs().ports = rs().ports.filter((port) => port.device_id !== s.id || port.name !== '');
    for (const port of rs().ports) if (port.device_id === s.id) Object.assign(port, { device_id: '', device_owner: '', status: 'DOWN' });
    cloud.changed();
    await hooks.stopGuest(region, s, true);
    cloud.onServerChange(region, s.id, 'deleted');
  };

  router.add('DELETE', '/v2.1/servers/:id', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    requestedVersion(req);
    await deleteServer(findServer(ctx, p.id));
    return { status: 204 };
  });

  router.add('GET', '/v2.1/servers/:id/metadata', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    return { status: 200, body: { metadata: findServer(ctx, p.id).metadata } };
  });
  router.add('GET', '/v2.1/servers/:id/ips', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const s = findServer(ctx, p.id);
    const addresses: Record<string, unknown[]> = {};
    for (const a of s.addresses) (addresses[a.network_name] ??= []).push({ version: 4, addr: a.ip });
    return { status: 200, body: { addresses } };
  });

  const interfaceJson = (portId: string) => {
    const port = rs().ports.find((p) => p.id === portId)!;
    return { port_state: port.status, fixed_ips: port.fixed_ips, port_id: port.id, net_id: port.network_id, mac_addr: port.mac_address };
  };
  router.add('GET', '/v2.1/servers/:id/os-interface', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    requestedVersion(req);
    const s = findServer(ctx, p.id);
    return { status: 200, body: { interfaceAttachments: s.addresses.filter((a) => rs().ports.some((x) => x.id === a.port_id)).map((a) => interfaceJson(a.port_id)) } };
  });
  router.add('GET', '/v2.1/servers/:id/os-interface/:port', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const s = findServer(ctx, p.id);
    if (!s.addresses.some((a) => a.port_id === p.port)) throw new HttpError(404, `Port ${p.port} is not attached`);
    return { status: 200, body: { interfaceAttachment: interfaceJson(p.port) } };
  });
  router.add('POST', '/v2.1/servers/:id/os-interface', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const s = findServer(ctx, p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.interfaceAttachment)) throw invalid('root', body, "'interfaceAttachment' is a required property");
    const att = body.interfaceAttachment;
    const bad = Object.keys(att).filter((k) => !['net_id', 'port_id', 'fixed_ips', 'tag'].includes(k));
    if (bad.length) throw invalid('interfaceAttachment', att, `Additional properties are not allowed ('${bad[0]}' was unexpected)`);
    if (s.status !== 'ACTIVE' && s.status !== 'SHUTOFF') throw new HttpError(409, `Cannot 'attach_interface' instance ${s.id} while it is in vm_state ${s.vm_state}`);
    let port;
    if (typeof att.port_id === 'string') {
      port = rs().ports.find((x) => x.id === att.port_id && (ctx.isAdmin || x.project_id === ctx.project.id));
      if (!port) throw new HttpError(404, `Port ${att.port_id} could not be found.`);
      if (port.device_id) throw new HttpError(409, `Port ${port.id} is still in use.`);
    } else {
      const net = rs().networks.find((n) => n.id === att.net_id && visibleNetwork(ctx, n));
      if (!net) throw new HttpError(404, `Network ${String(att.net_id)} could not be found.`);
      port = allocatePort(rs(), net, { projectId: ctx.project.id });
    }
    Object.assign(port, { device_id: s.id, device_owner: `compute:${s.availability_zone}`, status: 'ACTIVE' });
    const net = rs().networks.find((n) => n.id === port.network_id)!;
    s.addresses.push({ network_id: net.id, network_name: net.name, port_id: port.id, ip: port.fixed_ips[0].ip_address, mac: port.mac_address });
    cloud.changed();
    return { status: 200, body: { interfaceAttachment: interfaceJson(port.id) } };
  });
  router.add('DELETE', '/v2.1/servers/:id/os-interface/:port', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const s = findServer(ctx, p.id);
    if (!s.addresses.some((a) => a.port_id === p.port)) throw new HttpError(404, `Port ${p.port} is not attached`);
    s.addresses = s.addresses.filter((a) => a.port_id !== p.port);
    const port = rs().ports.find((x) => x.id === p.port);
    if (port) Object.assign(port, { device_id: '', device_owner: '', status: 'DOWN' });
    cloud.changed();
    return { status: 202 };
  });

  router.add('POST', '/v2.1/servers/:id/action', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const s = findServer(ctx, p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || Object.keys(body).length !== 1) throw new HttpError(400, 'Malformed request body');
    const [name] = Object.keys(body);
    const args = body[name];
    const conflict = (action: string) => new HttpError(409, `Cannot '${action}' instance ${s.id} while it is in vm_state ${s.vm_state}`);
    switch (name) {
      case 'os-getConsoleOutput': {
        if (!isObject(args)) throw invalid('os-getConsoleOutput', args, "is not of type 'object'");
        const length = args.length;
        if (length !== undefined && length !== null && !Number.isInteger(Number(length))) {
          throw invalid('os-getConsoleOutput/length', length, `${JSON.stringify(length)} is not of type 'integer', 'string', 'null'`);
        }
        if (s.status === 'BUILD' && !s.launched_at) throw new HttpError(409, `Instance ${s.id} is not ready`);
        const lines = s.console_log;
        const n = length === undefined || length === null || Number(length) < 0 ? lines.length : Number(length);
        return { status: 200, body: { output: lines.slice(Math.max(0, lines.length - n)).join('\n') + '\n' } };
      }
      case 'reboot': {
        if (!isObject(args) || !['SOFT', 'HARD', 'soft', 'hard'].includes(String(args.type))) {
          throw invalid('reboot/type', isObject(args) ? args.type : args, "is not one of ['SOFT', 'HARD', 'Soft', 'Hard', 'soft', 'hard']");
        }
        if (s.status !== 'ACTIVE' && !(String(args.type).toUpperCase() === 'HARD' && (s.status === 'ERROR' || s.status === 'SHUTOFF'))) throw conflict('reboot');
        const hard = String(args.type).toUpperCase() === 'HARD';
        Object.assign(s, { status: hard ? 'HARD_REBOOT' : 'REBOOT', task_state: hard ? 'rebooting_hard' : 'rebooting', updated: nowIso() });
        await hooks.stopGuest(region, s, false);
        cloud.changed();
        finishBoot(s, false);
        return { status: 202 };
      }
      case 'rebuild': {
        if (!isObject(args) || typeof args.imageRef !== 'string') throw invalid('rebuild', args, "'imageRef' is a required property");
        if (s.status !== 'ACTIVE' && s.status !== 'SHUTOFF' && s.status !== 'ERROR') throw conflict('rebuild');
        const image = await visibleImage(ctx, args.imageRef);
        if (!image) throw new HttpError(400, 'Can not find requested image');
        if (image.status !== 'active') throw new HttpError(400, `Image ${image.id} is not active.`);
        const flavor = rs().flavors.find((f) => f.id === s.flavor_id);
        if (flavor && image.min_ram > flavor.ram) throw new HttpError(400, "Flavor's memory is too small for requested image.");
        if (flavor && flavor.disk > 0 && image.min_disk > flavor.disk) throw new HttpError(400, "Flavor's disk is too small for requested image.");
        if (typeof args.name === 'string') s.name = args.name;
        Object.assign(s, {
          image_id: image.id,
          login_users: image.properties.default_user ? [image.properties.default_user] : DEFAULT_LOGIN_USERS,
          status: 'REBUILD',
          task_state: 'rebuilding',
          fault: null,
          updated: nowIso(),
        });
        await hooks.stopGuest(region, s, true);
        cloud.changed();
        finishBoot(s, cloud.faults.takeBootError(s.name));
        cloud.onServerChange(region, s.id, 'rebuilt');
        return { status: 202, body: { server: { ...serverJson(s, v, ctx), adminPass: crypto.randomBytes(9).toString('base64url').slice(0, 12) } } };
      }
      case 'os-stop': {
        if (s.status !== 'ACTIVE' && s.status !== 'ERROR') throw conflict('stop');
        await hooks.stopGuest(region, s, false);
        Object.assign(s, { status: 'SHUTOFF', vm_state: 'stopped', power_state: 4, task_state: null, updated: nowIso() });
        cloud.changed();
        return { status: 202 };
      }
      case 'os-start': {
        if (s.status !== 'SHUTOFF') throw conflict('start');
        Object.assign(s, { task_state: 'powering-on', updated: nowIso() });
        cloud.changed();
        finishBoot(s, false);
        return { status: 202 };
      }
      default:
        throw new HttpError(400, `There is no such action: ${name}`);
    }
  });

  router.add('GET', '/v2.1/limits', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const mine = rs().servers.filter((s) => s.project_id === ctx.project.id);
    return {
      status: 200,
      body: {
        limits: {
          rate: [],
          absolute: {
            maxTotalInstances: 100,
            maxTotalCores: 200,
            maxTotalRAMSize: 512000,
            maxServerMeta: 128,
            maxServerGroups: 10,
            maxServerGroupMembers: 10,
            maxTotalKeypairs: 100,
            totalInstancesUsed: mine.length,
            totalCoresUsed: mine.reduce((n, s) => n + (rs().flavors.find((f) => f.id === s.flavor_id)?.vcpus ?? 0), 0),
            totalRAMUsed: mine.reduce((n, s) => n + (rs().flavors.find((f) => f.id === s.flavor_id)?.ram ?? 0), 0),
            totalServerGroupsUsed: 0,
          },
        },
      },
    };
  });

  return {
    router,
    resume() {
      // Servers that were mid-boot when a previous process stopped finish booting now
      for (const s of rs().servers) {
        if (['BUILD', 'REBUILD', 'REBOOT', 'HARD_REBOOT'].includes(s.status) || (s.status === 'SHUTOFF' && s.task_state === 'powering-on')) finishBoot(s, false);
      }
    },
    stopTimers() {
      for (const p of pending.values()) if (p.timer) clearTimeout(p.timer);
      pending.clear();
    },
  };
}
