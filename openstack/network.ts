/**
 * Neutron v2.0: networks, ports, subnets (read-only: dibctl only looks).
 */
import { LookupError, OpenStackHttpError } from './errors';
import { listOf, memberOf, nextLink, nextQuery, Query, ServiceHttp } from './http';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

interface Network {
  id: string;
  /** May contain `/` and addresses, e.g. `internet_192.0.2.0/27`. */
  name: string;
  status: string;
  admin_state_up: boolean;
  shared: boolean;
  subnets: string[];
  project_id?: string;
  tenant_id?: string;
  'router:external'?: boolean;
  mtu?: number;
  [key: string]: unknown;
}

interface Port {
  id: string;
  name: string;
  network_id: string;
  device_id: string;
  device_owner: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  status: string;
  admin_state_up?: boolean;
  project_id?: string;
  tenant_id?: string;
  [key: string]: unknown;
}

interface Subnet {
  id: string;
  name: string;
  network_id: string;
  cidr: string;
  ip_version: 4 | 6;
  gateway_ip: string | null;
  enable_dhcp?: boolean;
  [key: string]: unknown;
}

export class NetworkClient {
  constructor(readonly http: ServiceHttp) {}

  private async *paginate<T>(path: string, key: string, query: Query): AsyncGenerator<T> {
    let q: Query | undefined = query;
    let previous = '';
    while (q) {
      const body = await this.http.get<Record<string, unknown>>(path, q);
      const items = listOf<T>('network', `GET ${path}`, body, key);
      for (const item of items) yield item;
      const next = nextQuery(nextLink(body[`${key}_links`]));
      const signature = JSON.stringify(next);
      if (!items.length || signature === previous) break;
      previous = signature;
      q = next;
    }
  }

  async getNetwork(id: string): Promise<Network> {
    return memberOf<Network>(
      'network',
      'GET networks/{id}',
      await this.http.get(`networks/${encodeURIComponent(id)}`),
      'network',
    );
  }

  async *networks(filters: Query = {}): AsyncGenerator<Network> {
    yield* this.paginate<Network>('networks', 'networks', filters);
  }

  async listNetworks(filters: Query = {}): Promise<Network[]> {
    const out: Network[] = [];
    for await (const n of this.networks(filters)) out.push(n);
    return out;
  }

  /** A network by id (when UUID-shaped), else by exact name (several with that name is an error). */
  async findNetwork(idOrName: string): Promise<Network> {
    // Network ids are UUIDs; names (which may hold `/`) never go into the path.
    if (UUID.test(idOrName)) {
      try {
        return await this.getNetwork(idOrName);
      } catch (err) {
        if (!(err instanceof OpenStackHttpError) || err.status !== 404) throw err;
      }
    }
    const byName = (await this.listNetworks({ name: idOrName })).filter((n) => n.name === idOrName);
    if (byName.length === 1) return byName[0];
    if (!byName.length) throw new LookupError(`Network '${idOrName}' not found`);
    throw new LookupError(`Several networks are named '${idOrName}': ${byName.map((n) => n.id).join(', ')}`);
  }

  async *ports(filters: Query = {}): AsyncGenerator<Port> {
    yield* this.paginate<Port>('ports', 'ports', filters);
  }

  async listPorts(filters: Query = {}): Promise<Port[]> {
    const out: Port[] = [];
    for await (const p of this.ports(filters)) out.push(p);
    return out;
  }

  async *subnets(filters: Query = {}): AsyncGenerator<Subnet> {
    yield* this.paginate<Subnet>('subnets', 'subnets', filters);
  }

  async getSubnet(id: string): Promise<Subnet> {
    return memberOf<Subnet>(
      'network',
      'GET subnets/{id}',
      await this.http.get(`subnets/${encodeURIComponent(id)}`),
      'subnet',
    );
  }
}
