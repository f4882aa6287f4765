/** Nova's os-interface: a server's ports listed, shown, attached (an existing port or a new one on a network) and detached. */
import { HttpError, Reply, Router, isObject, readJson } from './http';
import { allocatePort, visibleNetwork } from './neutron';
import { MALFORMED, NovaRegion, invalid, onlyKeys, requestedVersion } from './nova-api';
import { findServer, plugPort, stateConflict, unplugPort } from './nova-servers';

export function interfaceRoutes(router: Router, nova: NovaRegion): void {
  const { cloud } = nova;
  const rs = () => nova.rs();

  const interfaceJson = (portId: string) => {
    const port = rs().ports.find((p) => p.id === portId)!;
    return {
      port_state: port.status,
      fixed_ips: port.fixed_ips,
      port_id: port.id,
      net_id: port.network_id,
      mac_addr: port.mac_address,
    };
  };
  router.add('GET', '/v2.1/servers/:id/os-interface', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    requestedVersion(req);
    const s = findServer(nova, ctx, p.id);
    if (cloud.faults.get('interfaceListForbidden'))
      throw new HttpError(403, "Policy doesn't allow os_compute_api:os-attach-interfaces:list to be performed.");
    return {
      status: 200,
      body: {
        interfaceAttachments: s.addresses
          .filter((a) => rs().ports.some((x) => x.id === a.port_id))
          .map((a) => interfaceJson(a.port_id)),
      },
    };
  });
  router.add('GET', '/v2.1/servers/:id/os-interface/:port', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const s = findServer(nova, ctx, p.id);
    if (!s.addresses.some((a) => a.port_id === p.port)) throw new HttpError(404, `Port ${p.port} is not attached`);
    return { status: 200, body: { interfaceAttachment: interfaceJson(p.port) } };
  });
  router.add('POST', '/v2.1/servers/:id/os-interface', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const s = findServer(nova, ctx, p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.interfaceAttachment))
      throw invalid('root', body, "'interfaceAttachment' is a required property");
    const att = body.interfaceAttachment;
    onlyKeys('interfaceAttachment', att, ['net_id', 'port_id', 'fixed_ips', 'tag']);
    if (s.status !== 'ACTIVE' && s.status !== 'SHUTOFF') throw stateConflict(s, 'attach_interface');
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
    s.addresses.push(plugPort(nova, port, s.id, s.availability_zone));
    cloud.changed();
    return { status: 200, body: { interfaceAttachment: interfaceJson(port.id) } };
  });
  router.add('DELETE', '/v2.1/servers/:id/os-interface/:port', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const s = findServer(nova, ctx, p.id);
    if (!s.addresses.some((a) => a.port_id === p.port)) throw new HttpError(404, `Port ${p.port} is not attached`);
    s.addresses = s.addresses.filter((a) => a.port_id !== p.port);
    const port = rs().ports.find((x) => x.id === p.port);
    if (port) unplugPort(port);
    cloud.changed();
    return { status: 202 };
  });
}
