/**
 * Nova servers: the server document as each microversion shows it, lookup by
 * the caller's project, list and detail with Nova's filters and pages, show,
 * rename, delete, metadata and addresses. Creating a server lives in
 * nova-server-create.ts, its actions in nova-actions.ts.
 */
import crypto from 'node:crypto';
import { AuthContext } from './cloud';
import { canSee } from './glance';
import { HttpError, Reply, Request, Router, isObject, nowIso, readJson } from './http';
import { Boots } from './nova-boot';
import { MALFORMED, Microversion, NovaRegion, atLeast, invalid, onlyKeys, requestedVersion } from './nova-api';
import { Image, Port, Server, ServerAddress } from './state';

/** Users an image accepts logins for when it names none in its `default_user` property. */
const DEFAULT_LOGIN_USERS = ['root', 'ubuntu', 'debian', 'cloud-user', 'centos', 'fedora', 'admin'];

export const loginUsers = (image: Image): string[] =>
  image.properties.default_user ? [image.properties.default_user] : DEFAULT_LOGIN_USERS;

export const newAdminPass = (): string => crypto.randomBytes(9).toString('base64url').slice(0, 12);

/** Nova's 409 for an action the server's state does not allow. */
export const stateConflict = (s: Server, action: string) =>
  new HttpError(409, `Cannot '${action}' instance ${s.id} while it is in vm_state ${s.vm_state}`);

export const serverLinks = (nova: NovaRegion, s: Server) => [
  { rel: 'self', href: `${nova.base()}/v2.1/servers/${s.id}` },
  { rel: 'bookmark', href: `${nova.base()}/servers/${s.id}` },
];

export function serverJson(nova: NovaRegion, s: Server, v: Microversion, ctx: AuthContext): Record<string, unknown> {
  const base = nova.base();
  const flavor = nova.rs().flavors.find((f) => f.id === s.flavor_id);
  const addresses: Record<string, unknown[]> = {};
  for (const a of s.addresses) {
    (addresses[a.network_name] ??= []).push({
      version: 4,
      addr: a.ip,
      'OS-EXT-IPS:type': 'fixed',
      'OS-EXT-IPS-MAC:mac_addr': a.mac,
    });
  }
  const body: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    status: s.status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: s.metadata,
    hostId:
      s.status === 'BUILD' && !s.launched_at
        ? ''
        : crypto
            .createHash('sha224')
            .update(s.project_id + 'emulator-host')
            .digest('hex'),
    image: s.image_id ? { id: s.image_id, links: [{ rel: 'bookmark', href: `${base}/images/${s.image_id}` }] } : '',
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
      : { id: s.flavor_id, links: [{ rel: 'bookmark', href: `${base}/flavors/${s.flavor_id}` }] },
    created: s.created,
    updated: s.updated,
    addresses,
    accessIPv4: '',
    accessIPv6: '',
    links: serverLinks(nova, s),
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
  if ((atLeast(v, '2.3') && ctx.isAdmin) || atLeast(v, '2.90')) body['OS-EXT-SRV-ATTR:hostname'] = s.hostname;
  if (atLeast(v, '2.9')) body.locked = false;
  if (atLeast(v, '2.19')) body.description = null;
  if (atLeast(v, '2.26')) body.tags = s.tags;
  if (atLeast(v, '2.63')) body.trusted_image_certificates = null;
  if (atLeast(v, '2.73')) body.locked_reason = null;
  if (atLeast(v, '2.96')) body.pinned_availability_zone = null;
  if (s.status === 'ERROR' && s.fault) {
    body.fault = {
      code: s.fault.code,
      message: s.fault.message,
      created: s.fault.created,
      ...(ctx.isAdmin ? { details: s.fault.details } : {}),
    };
  }
  if (body.security_groups === undefined) delete body.security_groups;
  return body;
}

/** A server of the caller's project (any server for admins), else Nova's 404. */
export function findServer(nova: NovaRegion, ctx: AuthContext, id: string): Server {
  const s = nova.rs().servers.find((x) => x.id === id);
  if (!s || (!ctx.isAdmin && s.project_id !== ctx.project.id))
    throw new HttpError(404, `Instance ${id} could not be found.`);
  return s;
}

/** The image as the caller sees it: from the external image service when there is one, else the emulated Glance. */
export async function visibleImage(nova: NovaRegion, ctx: AuthContext, id: string): Promise<Image | undefined> {
  if (nova.hooks.findImage) return nova.hooks.findImage(nova.region, id, ctx);
  const image = nova.rs().images.find((i) => i.id === id);
  return image && canSee(ctx, image) ? image : undefined;
}

/** Binds a port to a server and gives the address the server shows for it. */
export function plugPort(nova: NovaRegion, port: Port, serverId: string, zone: string): ServerAddress {
  Object.assign(port, { device_id: serverId, device_owner: `compute:${zone}`, status: 'ACTIVE' });
  const net = nova.rs().networks.find((n) => n.id === port.network_id)!;
  return {
    network_id: net.id,
    network_name: net.name,
    port_id: port.id,
    ip: port.fixed_ips[0].ip_address,
    mac: port.mac_address,
  };
}

export function unplugPort(port: Port): void {
  Object.assign(port, { device_id: '', device_owner: '', status: 'DOWN' });
}

export function serverRoutes(router: Router, nova: NovaRegion, boots: Boots): void {
  const { cloud, region, hooks } = nova;
  const rs = () => nova.rs();

  const listServers =
    (detail: boolean) =>
    (req: Request): Reply => {
      const ctx = cloud.authenticate(req);
      const v = requestedVersion(req);
      const q = req.query;
      // Nova shows a down cell's servers only from 2.69 on, and only to a list without
      // filters (all_tenants aside), sort or paging: it could not apply those to them
      const down = new Set(cloud.faults.get('downCellServers'));
      const showDown = atLeast(v, '2.69') && [...q.keys()].every((k) => k === 'all_tenants');
      const allTenantsRaw = q.get('all_tenants');
      const allTenants =
        allTenantsRaw !== null && !['0', 'false', 'f', 'no', 'n', 'off'].includes(allTenantsRaw.toLowerCase());
      if (allTenants && !ctx.isAdmin)
        throw new HttpError(403, "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.");
      let servers = rs().servers.filter((s) => !down.has(s.id));
      const unreachable = showDown ? rs().servers.filter((s) => down.has(s.id)) : [];
      const projectFilter = q.get('project_id') ?? q.get('tenant_id');
      if (!allTenants)
        servers = servers.filter(
          (s) => s.project_id === (ctx.isAdmin && projectFilter ? projectFilter : ctx.project.id),
        );
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
      if (tags !== null && atLeast(v, '2.26'))
        servers = servers.filter((s) => tags.split(',').every((t) => s.tags.includes(t)));
      const sortDir = q.get('sort_dir') === 'asc' ? 1 : -1;
      const order = new Map(rs().servers.map((s, i) => [s.id, i]));
      servers = [...servers].sort(
        (a, b) => sortDir * (a.created.localeCompare(b.created) || order.get(a.id)! - order.get(b.id)!),
      );
      const { page, links } = nova.paginate(req, servers, (s) => s.id, 'servers');
      // the reachable cells' page, then what the API database knows of the down cell's servers
      const mine = (s: Server) => allTenants || s.project_id === ctx.project.id;
      const partial = unreachable
        .filter(mine)
        .map((s) =>
          detail
            ? { id: s.id, status: 'UNKNOWN', tenant_id: s.project_id, created: s.created, links: serverLinks(nova, s) }
            : { id: s.id, status: 'UNKNOWN', links: serverLinks(nova, s) },
        );
      const repeat = cloud.faults.get('serversNextLinkRepeats')
        ? {
            servers_links: [{ rel: 'next', href: `${nova.base()}${req.path}${req.query.size ? `?${req.query}` : ''}` }],
          }
        : {};
      return {
        status: 200,
        body: {
          servers: [
            ...page.map((s) =>
              detail ? serverJson(nova, s, v, ctx) : { id: s.id, name: s.name, links: serverLinks(nova, s) },
            ),
            ...partial,
          ],
          ...links,
          ...repeat,
        },
      };
    };
  router.add('GET', '/v2.1/servers', listServers(false));
  router.add('GET', '/v2.1/servers/detail', listServers(true));
  router.add('GET', '/v2.1/servers/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    return { status: 200, body: { server: serverJson(nova, findServer(nova, ctx, p.id), v, ctx) } };
  });
  router.add('PUT', '/v2.1/servers/:id', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const s = findServer(nova, ctx, p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.server)) throw invalid('root', body, "'server' is a required property");
    onlyKeys('server', body.server, [
      'name',
      'accessIPv4',
      'accessIPv6',
      'OS-DCF:diskConfig',
      'description',
      'hostname',
    ]);
    if (body.server.name !== undefined) {
      if (typeof body.server.name !== 'string')
        throw invalid('server/name', body.server.name, "is not of type 'string'");
      s.name = body.server.name;
    }
    s.updated = nowIso();
    cloud.changed();
    return { status: 200, body: { server: serverJson(nova, s, v, ctx) } };
  });

  const deleteServer = async (s: Server) => {
    boots.cancel(s.id);
    rs().servers = rs().servers.filter((x) => x !== s);
    // Ports Nova created go away with the server; ports passed in are only detached
    rs().ports = rs().ports.filter((port) => port.device_id !== s.id || port.name !== '');
    for (const port of rs().ports) if (port.device_id === s.id) unplugPort(port);
    cloud.changed();
    await hooks.stopGuest(region, s, true);
    cloud.onServerChange(region, s.id, 'deleted');
  };

  router.add('DELETE', '/v2.1/servers/:id', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    requestedVersion(req);
    await deleteServer(findServer(nova, ctx, p.id));
    return { status: 204 };
  });

  router.add('GET', '/v2.1/servers/:id/metadata', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    return { status: 200, body: { metadata: findServer(nova, ctx, p.id).metadata } };
  });
  router.add('GET', '/v2.1/servers/:id/ips', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const s = findServer(nova, ctx, p.id);
    const addresses: Record<string, unknown[]> = {};
    for (const a of s.addresses) (addresses[a.network_name] ??= []).push({ version: 4, addr: a.ip });
    return { status: 200, body: { addresses } };
  });
}
