/**
 * Creating a Nova server: the request schema, then the checks Nova's API makes
 * before it accepts a boot (flavor, image, key, zone, networks) in Nova's order
 * and words, then ports and the server in BUILD, left to the boot to finish.
 */
import { HttpError, Reply, Router, isObject, nowIso, readJson } from './http';
import { allocatePort, visibleNetwork } from './neutron';
import { Boots } from './nova-boot';
import { MALFORMED, NovaRegion, UUID_RE, atLeast, invalid, onlyKeys, requestedVersion } from './nova-api';
import { loginUsers, newAdminPass, plugPort, serverLinks, visibleImage } from './nova-servers';
import { hostnameFor } from './ssh';
import { Keypair, Server, ServerAddress, uuid } from './state';

const SERVER_KEYS = [
  'name',
  'imageRef',
  'flavorRef',
  'adminPass',
  'metadata',
  'networks',
  'key_name',
  'user_data',
  'availability_zone',
  'config_drive',
  'security_groups',
  'block_device_mapping',
  'block_device_mapping_v2',
  'min_count',
  'max_count',
  'return_reservation_id',
  'tags',
  'description',
  'hostname',
  'accessIPv4',
  'accessIPv6',
  'OS-DCF:diskConfig',
  'personality',
  'trusted_image_certificates',
  'host',
  'hypervisor_hostname',
];

function stringMap(field: string, value: unknown): Record<string, string> {
  if (!isObject(value)) throw invalid(field, value, `${JSON.stringify(value)} is not of type 'object'`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${field}/${k}`, v, `${JSON.stringify(v)} is not of type 'string'`);
    if (k.length > 255 || v.length > 255) throw invalid(`${field}/${k}`, v, 'is too long');
  }
  return value as Record<string, string>;
}

export function serverCreateRoute(router: Router, nova: NovaRegion, boots: Boots): void {
  const { cloud } = nova;
  const rs = () => nova.rs();

  router.add('POST', '/v2.1/servers', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body)) throw invalid('/', body, `${JSON.stringify(body)} is not of type 'object'`);
    onlyKeys('root', body, ['server', 'os:scheduler_hints', 'OS-SCH-HNT:scheduler_hints']);
    if (!isObject(body.server)) throw invalid('root', body, "'server' is a required property");
    const sv = body.server;
    onlyKeys('server', sv, SERVER_KEYS);
    if (sv.name === undefined) throw invalid('server', sv, "'name' is a required property");
    if (typeof sv.name !== 'string')
      throw invalid('server/name', sv.name, `${JSON.stringify(sv.name)} is not of type 'string'`);
    if (!sv.name.trim() || sv.name.length > 255)
      throw invalid('server/name', sv.name, `'${sv.name}' does not match the allowed pattern`);
    if (sv.flavorRef === undefined) throw invalid('server', sv, "'flavorRef' is a required property");
    if (typeof sv.flavorRef !== 'string' && typeof sv.flavorRef !== 'number')
      throw invalid(
        'server/flavorRef',
        sv.flavorRef,
        `${JSON.stringify(sv.flavorRef)} is not of type 'string', 'integer'`,
      );
    if (sv.imageRef !== undefined && typeof sv.imageRef !== 'string')
      throw invalid('server/imageRef', sv.imageRef, `${JSON.stringify(sv.imageRef)} is not of type 'string'`);
    if (sv.key_name !== undefined && sv.key_name !== null && typeof sv.key_name !== 'string')
      throw invalid('server/key_name', sv.key_name, `${JSON.stringify(sv.key_name)} is not of type 'string'`);
    if (sv.availability_zone !== undefined && typeof sv.availability_zone !== 'string')
      throw invalid(
        'server/availability_zone',
        sv.availability_zone,
        `${JSON.stringify(sv.availability_zone)} is not of type 'string'`,
      );
    if (sv.config_drive !== undefined && typeof sv.config_drive !== 'boolean' && typeof sv.config_drive !== 'string')
      throw invalid(
        'server/config_drive',
        sv.config_drive,
        `${JSON.stringify(sv.config_drive)} is not of type 'boolean', 'string'`,
      );
    if (sv.user_data !== undefined && sv.user_data !== null) {
      if (typeof sv.user_data !== 'string' || !/^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/.test(sv.user_data))
        throw invalid('server/user_data', sv.user_data, `${JSON.stringify(sv.user_data)} is not a 'base64'`);
      if (sv.user_data.length > 65535) throw invalid('server/user_data', '...', 'is too long');
    }
    if (
      sv.tags !== undefined &&
      (!atLeast(v, '2.52') || !Array.isArray(sv.tags) || !sv.tags.every((t) => typeof t === 'string'))
    ) {
      throw invalid(
        'server/tags',
        sv.tags,
        atLeast(v, '2.52')
          ? "is not of type 'array' of strings"
          : "Additional properties are not allowed ('tags' was unexpected)",
      );
    }
    const metadata = sv.metadata === undefined ? {} : stringMap('server/metadata', sv.metadata);
    for (const k of ['min_count', 'max_count']) {
      if (sv[k] !== undefined && (!Number.isInteger(Number(sv[k])) || Number(sv[k]) < 1))
        throw invalid(`server/${k}`, sv[k], `${JSON.stringify(sv[k])} is less than the minimum of 1`);
    }
    if (Number(sv.max_count ?? 1) > 1 || Number(sv.min_count ?? 1) > 1)
      throw new HttpError(400, 'This cloud boots one server per request (min_count/max_count > 1 is not emulated).');
    if (sv.networks === undefined && atLeast(v, '2.37'))
      throw invalid('server', sv, "'networks' is a required property");

    // The checks Nova's API makes before it accepts the boot, in Nova's order and words
    const flavor = rs().flavors.find((f) => f.id === String(sv.flavorRef));
    if (!flavor) throw new HttpError(400, 'Invalid flavorRef provided.');
    if (!sv.imageRef)
      throw new HttpError(
        400,
        'Block Device Mapping is Invalid: You specified more local devices than the limit allows',
      );
    const image = UUID_RE.test(sv.imageRef as string)
      ? await visibleImage(nova, ctx, sv.imageRef as string)
      : undefined;
    if (!image) throw new HttpError(400, 'Can not find requested image');
    if (image.status !== 'active') throw new HttpError(400, `Image ${image.id} is not active.`);
    if (image.size !== null && flavor.disk > 0 && image.size > flavor.disk * 1024 ** 3) {
      throw new HttpError(
        400,
        `Flavor's disk is too small for requested image. Flavor disk is ${flavor.disk * 1024 ** 3} bytes, image is ${image.size} bytes.`,
      );
    }
    if (flavor.disk > 0 && image.min_disk > flavor.disk) {
      throw new HttpError(
        400,
        `Flavor's disk is too small for requested image. Flavor disk is ${flavor.disk * 1024 ** 3} bytes, minimum size is ${image.min_disk * 1024 ** 3} bytes.`,
      );
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
      if (visibleNets.length === 0)
        throw new HttpError(400, 'Unable to automatically allocate a network for project ' + ctx.project.id);
      if (visibleNets.length > 1)
        throw new HttpError(409, 'Multiple possible networks found, use a Network ID to be more specific.');
      nics.push({ networkId: visibleNets[0].id });
    } else if (sv.networks !== 'none') {
      if (!Array.isArray(sv.networks))
        throw invalid(
          'server/networks',
          sv.networks,
          `${JSON.stringify(sv.networks)} is not valid under any of the given schemas`,
        );
      for (const [i, n] of sv.networks.entries()) {
        if (!isObject(n)) throw invalid(`server/networks/${i}`, n, `${JSON.stringify(n)} is not of type 'object'`);
        onlyKeys(`server/networks/${i}`, n, ['uuid', 'port', 'fixed_ip', 'tag']);
        if (n.port !== undefined && n.port !== null) {
          if (typeof n.port !== 'string') throw invalid(`server/networks/${i}/port`, n.port, "is not of type 'string'");
          const port = rs().ports.find((p) => p.id === n.port && (ctx.isAdmin || p.project_id === ctx.project.id));
          if (!port) throw new HttpError(400, `Port id ${n.port} could not be found.`);
          if (port.device_id) throw new HttpError(409, `Port ${port.id} is still in use.`);
          nics.push({ portId: port.id });
          continue;
        }
        if (typeof n.uuid !== 'string') throw new HttpError(400, 'Bad network format: missing uuid');
        if (!UUID_RE.test(n.uuid))
          throw new HttpError(400, `Bad networks format: network uuid is not in proper format (${n.uuid})`);
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
          port = allocatePort(rs(), net, {
            projectId: ctx.project.id,
            fixedIp: nic.fixedIp,
            deviceId: id,
            deviceOwner: `compute:${az}`,
          });
          created.push(port.id);
        }
        addresses.push(plugPort(nova, port, id, az));
      }
    } catch (err) {
      rs().ports = rs().ports.filter((p) => !created.includes(p.id));
      if (err instanceof HttpError) throw new HttpError(400, err.message);
      throw err;
    }
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
      login_users: loginUsers(image),
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
    boots.finish(server, cloud.faults.takeBootError(server.name));
    return {
      status: 202,
      headers: { Location: `${nova.base()}/v2.1/servers/${id}` },
      body: {
        server: {
          id,
          links: serverLinks(nova, server),
          'OS-DCF:diskConfig': 'MANUAL',
          security_groups: [{ name: 'default' }],
          adminPass: sv.adminPass ?? newAdminPass(),
        },
      },
    };
  });
}
