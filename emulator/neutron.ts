/** Neutron v2.0: networks, subnets and ports, with address allocation inside 127.0.0.0/8. */
import crypto from 'node:crypto';
import { AuthContext, Cloud } from './cloud';
import { HttpError, Reply, Request, Router, isObject, nowIso, readJson } from './http';
import { Network, Port, RegionState, Subnet, uuid } from './state';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function cidrRange(cidr: string): { first: number; last: number } {
  const [ip, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const first = Math.floor(ipToInt(ip) / size) * size;
  return { first, last: first + size - 1 };
}

function randomMac(): string {
  return 'fa:16:3e:' + [...crypto.randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function visibleNetwork(ctx: AuthContext, n: Network): boolean {
  return ctx.isAdmin || n.shared || n.project_id === ctx.project.id;
}

/** Picks a free address of the network (a random one, so two clouds on one host rarely meet). */
export function allocatePort(
  rs: RegionState,
  network: Network,
  opts: { projectId: string; deviceId?: string; deviceOwner?: string; fixedIp?: string; name?: string },
): Port {
  const subnet = rs.subnets.find((s) => network.subnets.includes(s.id) && s.ip_version === 4);
  if (!subnet) throw new HttpError(400, `No IPv4 subnet on network ${network.id}.`, 'IpAddressGenerationFailure');
  const used = new Set(rs.ports.flatMap((p) => p.fixed_ips.map((f) => f.ip_address)));
  let ip: string;
  if (opts.fixedIp) {
    const n = ipToInt(opts.fixedIp);
    const { first, last } = cidrRange(subnet.cidr);
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(opts.fixedIp) || n <= first || n >= last) {
      throw new HttpError(
        400,
        `IP address ${opts.fixedIp} is not a valid IP for the specified subnet.`,
        'InvalidIpForSubnet',
      );
    }
    if (used.has(opts.fixedIp)) {
      throw new HttpError(
        409,
        `IP address ${opts.fixedIp} already allocated in subnet ${subnet.id}`,
        'IpAddressAlreadyAllocated',
      );
    }
    ip = opts.fixedIp;
  } else {
    const candidates: string[] = [];
    for (const pool of subnet.allocation_pools) {
      for (let n = ipToInt(pool.start); n <= ipToInt(pool.end); n++) {
        const c = intToIp(n);
        if (!used.has(c) && c !== subnet.gateway_ip) candidates.push(c);
      }
    }
    if (!candidates.length)
      throw new HttpError(
        409,
        `No more IP addresses available on network ${network.id}.`,
        'IpAddressGenerationFailure',
      );
    ip = candidates[crypto.randomInt(candidates.length)];
  }
  const now = nowIso();
  const port: Port = {
    id: uuid(),
    name: opts.name ?? '',
    network_id: network.id,
    project_id: opts.projectId,
    mac_address: randomMac(),
    fixed_ips: [{ subnet_id: subnet.id, ip_address: ip }],
    device_id: opts.deviceId ?? '',
    device_owner: opts.deviceOwner ?? '',
    status: opts.deviceId ? 'ACTIVE' : 'DOWN',
    admin_state_up: true,
    created_at: now,
    updated_at: now,
  };
  rs.ports.push(port);
  return port;
}

function networkJson(n: Network): Record<string, unknown> {
  return {
    id: n.id,
    name: n.name,
    tenant_id: n.project_id,
    project_id: n.project_id,
    admin_state_up: n.admin_state_up,
    mtu: n.mtu,
    status: n.status,
    subnets: n.subnets,
    shared: n.shared,
    'router:external': n.external,
    availability_zone_hints: [],
    availability_zones: ['nova'],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    description: '',
    port_security_enabled: true,
    is_default: false,
    tags: [],
    created_at: n.created_at,
    updated_at: n.updated_at,
    revision_number: 1,
  };
}

function subnetJson(s: Subnet): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    network_id: s.network_id,
    tenant_id: s.project_id,
    project_id: s.project_id,
    cidr: s.cidr,
    gateway_ip: s.gateway_ip,
    ip_version: s.ip_version,
    enable_dhcp: s.enable_dhcp,
    allocation_pools: s.allocation_pools,
    dns_nameservers: s.dns_nameservers,
    host_routes: [],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    service_types: [],
    description: '',
    tags: [],
    created_at: s.created_at,
    updated_at: s.updated_at,
    revision_number: 0,
  };
}

function portJson(p: Port): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    network_id: p.network_id,
    tenant_id: p.project_id,
    project_id: p.project_id,
    mac_address: p.mac_address,
    fixed_ips: p.fixed_ips,
    device_id: p.device_id,
    device_owner: p.device_owner,
    status: p.status,
    admin_state_up: p.admin_state_up,
    allowed_address_pairs: [],
    extra_dhcp_opts: [],
    security_groups: [],
    port_security_enabled: true,
    binding_vnic_type: 'normal',
    description: '',
    tags: [],
    created_at: p.created_at,
    updated_at: p.updated_at,
    revision_number: 1,
  };
}

const MALFORMED = 'Malformed request body';

/** Neutron list filtering (any attribute, repeated = any of), fields=, limit/marker pagination. */
function listReply(req: Request, collection: string, items: Record<string, unknown>[], base: string): Reply {
  const q = req.query;
  let out = items;
  const keys = new Set(
    [...q.keys()].filter((k) => !['limit', 'marker', 'fields', 'sort_key', 'sort_dir', 'page_reverse'].includes(k)),
  );
  for (const key of keys) {
    const wanted = q.getAll(key);
    out = out.filter((item) => {
      const v = item[key];
      if (v === undefined) return false;
      if (key === 'fixed_ips') return true;
      return wanted.some((w) => String(v) === w || (typeof v === 'boolean' && w.toLowerCase() === String(v)));
    });
  }
  const marker = q.get('marker');
  if (marker !== null) {
    const idx = out.findIndex((i) => i.id === marker);
    if (idx < 0) throw new HttpError(404, `Marker ${marker} could not be found.`, 'NotFound');
    out = out.slice(idx + 1);
  }
  const body: Record<string, unknown> = {};
  const limitRaw = q.get('limit');
  if (limitRaw !== null) {
    if (!/^\d+$/.test(limitRaw))
      throw new HttpError(400, `Invalid input for operation: '${limitRaw}' is not an integer.`, 'InvalidInput');
    const limit = Number(limitRaw);
    if (limit > 0 && out.length > limit) {
      out = out.slice(0, limit);
      const next = new URLSearchParams(q);
      next.set('marker', String(out[out.length - 1].id));
      body[`${collection}_links`] = [{ rel: 'next', href: `${base}?${next.toString()}` }];
    }
  }
  const fields = q.getAll('fields');
  if (fields.length)
    out = out.map((item) => Object.fromEntries(fields.filter((f) => f in item).map((f) => [f, item[f]])));
  body[collection] = out;
  return { status: 200, body };
}

export function neutronRoutes(cloud: Cloud, region: string): Router {
  const rs = () => cloud.region(region);
  const base = () => `${cloud.baseUrl}/network/${region}`;
  const router = new Router();

  const findNetwork = (ctx: AuthContext, id: string): Network => {
    const n = rs().networks.find((x) => x.id === id);
    if (!n || !visibleNetwork(ctx, n)) throw new HttpError(404, `Network ${id} could not be found.`, 'NetworkNotFound');
    return n;
  };
  const visiblePort = (ctx: AuthContext, port: Port) => ctx.isAdmin || port.project_id === ctx.project.id;
  const findPort = (ctx: AuthContext, id: string): Port => {
    const port = rs().ports.find((x) => x.id === id);
    if (!port || !visiblePort(ctx, port)) throw new HttpError(404, `Port ${id} could not be found.`, 'PortNotFound');
    return port;
  };
  /** The resource object of a create request; unknown attributes are Neutron's 400. */
  const createBody = async (req: Request, resource: string, allowed: string[]): Promise<Record<string, unknown>> => {
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body[resource])) throw new HttpError(400, 'Resource body required', 'BadRequest');
    const unknown = Object.keys(body[resource]).filter((k) => !allowed.includes(k));
    if (unknown.length) throw new HttpError(400, `Unrecognized attribute(s) '${unknown.join(', ')}'`, 'HTTPBadRequest');
    return body[resource];
  };

  router.add('GET', '', (): Reply => ({
    status: 200,
    body: { versions: [{ status: 'CURRENT', id: 'v2.0', links: [{ href: `${base()}/v2.0/`, rel: 'self' }] }] },
  }));
  router.add('GET', '/v2.0', (req): Reply => {
    cloud.authenticate(req);
    return {
      status: 200,
      body: {
        resources: ['network', 'subnet', 'port'].map((r) => ({
          name: r,
          collection: `${r}s`,
          links: [{ href: `${base()}/v2.0/${r}s`, rel: 'self' }],
        })),
      },
    };
  });
  router.add('GET', '/v2.0/extensions', (req): Reply => {
    cloud.authenticate(req);
    return { status: 200, body: { extensions: [] } };
  });

  router.add('GET', '/v2.0/networks', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const list = rs()
      .networks.filter((n) => visibleNetwork(ctx, n))
      .map(networkJson);
    return listReply(req, 'networks', list, `${base()}/v2.0/networks`);
  });

  router.add('GET', '/v2.0/networks/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    return { status: 200, body: { network: networkJson(findNetwork(ctx, p.id)) } };
  });

  router.add('POST', '/v2.0/networks', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const network = await createBody(req, 'network', [
      'name',
      'admin_state_up',
      'shared',
      'mtu',
      'description',
      'project_id',
      'tenant_id',
    ]);
    const { name = '', shared = false, mtu = 1500 } = network;
    if (typeof name !== 'string')
      throw new HttpError(
        400,
        `Invalid input for name. Reason: '${String(name)}' is not a valid string.`,
        'HTTPBadRequest',
      );
    if (typeof shared !== 'boolean')
      throw new HttpError(
        400,
        `Invalid input for shared. Reason: '${String(shared)}' is not a valid boolean value.`,
        'HTTPBadRequest',
      );
    if (shared && !ctx.isAdmin)
      throw new HttpError(
        403,
        '(rule:create_network and rule:create_network:shared) is disallowed by policy',
        'PolicyNotAuthorized',
      );
    if (typeof mtu !== 'number')
      throw new HttpError(400, `Invalid input for mtu. Reason: '${String(mtu)}' is not an integer.`, 'HTTPBadRequest');
    const now = nowIso();
    const n: Network = {
      id: uuid(),
      name,
      project_id: ctx.project.id,
      shared,
      external: false,
      status: 'ACTIVE',
      admin_state_up: true,
      mtu,
      subnets: [],
      created_at: now,
      updated_at: now,
    };
    rs().networks.push(n);
    cloud.changed();
    return { status: 201, body: { network: networkJson(n) } };
  });

  router.add('DELETE', '/v2.0/networks/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const n = findNetwork(ctx, p.id);
    if (!ctx.isAdmin && n.project_id !== ctx.project.id)
      throw new HttpError(403, 'disallowed by policy', 'PolicyNotAuthorized');
    if (rs().ports.some((port) => port.network_id === n.id && port.device_owner.startsWith('compute:'))) {
      throw new HttpError(
        409,
        `Unable to complete operation on network ${n.id}. There are one or more ports still in use on the network.`,
        'NetworkInUse',
      );
    }
    rs().networks = rs().networks.filter((x) => x !== n);
    rs().subnets = rs().subnets.filter((s) => s.network_id !== n.id);
    rs().ports = rs().ports.filter((x) => x.network_id !== n.id);
    cloud.changed();
    return { status: 204 };
  });

  router.add('GET', '/v2.0/subnets', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const nets = new Set(
      rs()
        .networks.filter((n) => visibleNetwork(ctx, n))
        .map((n) => n.id),
    );
    return listReply(
      req,
      'subnets',
      rs()
        .subnets.filter((s) => nets.has(s.network_id))
        .map(subnetJson),
      `${base()}/v2.0/subnets`,
    );
  });

  router.add('GET', '/v2.0/subnets/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const s = rs().subnets.find((x) => x.id === p.id);
    const n = s && rs().networks.find((x) => x.id === s.network_id);
    if (!s || !n || !visibleNetwork(ctx, n))
      throw new HttpError(404, `Subnet ${p.id} could not be found.`, 'SubnetNotFound');
    return { status: 200, body: { subnet: subnetJson(s) } };
  });

  router.add('GET', '/v2.0/ports', (req): Reply => {
    const ctx = cloud.authenticate(req);
    return listReply(
      req,
      'ports',
      rs()
        .ports.filter((x) => visiblePort(ctx, x))
        .map(portJson),
      `${base()}/v2.0/ports`,
    );
  });

  router.add('GET', '/v2.0/ports/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    return { status: 200, body: { port: portJson(findPort(ctx, p.id)) } };
  });

  router.add('POST', '/v2.0/ports', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const portBody = await createBody(req, 'port', [
      'network_id',
      'name',
      'fixed_ips',
      'admin_state_up',
      'description',
      'device_id',
      'device_owner',
      'project_id',
      'tenant_id',
    ]);
    const { network_id: networkId, name = '', fixed_ips: fixedIps } = portBody;
    if (typeof networkId !== 'string')
      throw new HttpError(
        400,
        "Failed to parse request. Required attribute 'network_id' not specified",
        'HTTPBadRequest',
      );
    if (typeof name !== 'string')
      throw new HttpError(
        400,
        `Invalid input for name. Reason: '${String(name)}' is not a valid string.`,
        'HTTPBadRequest',
      );
    const n = findNetwork(ctx, networkId);
    let fixedIp: string | undefined;
    if (fixedIps !== undefined) {
      if (!Array.isArray(fixedIps) || !fixedIps.every((f) => isObject(f)))
        throw new HttpError(
          400,
          `Invalid input for fixed_ips. Reason: Invalid data format for fixed IP specification.`,
          'HTTPBadRequest',
        );
      const first = fixedIps[0] as Record<string, unknown> | undefined;
      if (first && first.ip_address !== undefined) fixedIp = String(first.ip_address);
    }
    const port = allocatePort(rs(), n, { projectId: ctx.project.id, fixedIp, name });
    cloud.changed();
    return { status: 201, body: { port: portJson(port) } };
  });

  router.add('DELETE', '/v2.0/ports/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const port = findPort(ctx, p.id);
    rs().ports = rs().ports.filter((x) => x !== port);
    cloud.changed();
    return { status: 204 };
  });

  return router;
}
