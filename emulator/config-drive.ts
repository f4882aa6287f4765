/**
 * The config drive Nova attaches to a server: an ISO 9660 volume labelled
 * `config-2` holding `openstack/latest/meta_data.json`, `network_data.json`,
 * `vendor_data.json` and `user_data`, the files cloud-init's ConfigDrive source
 * reads to set the keys, the hostname and every interface.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface DriveNic {
  portId: string;
  networkId: string;
  mac: string;
  mtu: number;
  ip: string;
  cidr: string;
  gateway: string | null;
  dns: string[];
}

export interface DriveContents {
  uuid: string;
  name: string;
  hostname: string;
  projectId: string;
  availabilityZone: string;
  metadata: Record<string, string>;
  keypair?: { name: string; publicKey: string };
  /** What the server was booted with, base64 as the API takes it. */
  userData: string | null;
  nics: DriveNic[];
}

/** The domain Nova appends to a hostname in the metadata (`dhcp_domain`). */
const DHCP_DOMAIN = 'novalocal';

const netmask = (cidr: string) => {
  const bits = Number(cidr.split('/')[1]);
  const n = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
};

export function metaData(c: DriveContents): Record<string, unknown> {
  return {
    uuid: c.uuid,
    name: c.name,
    hostname: `${c.hostname}.${DHCP_DOMAIN}`,
    launch_index: 0,
    availability_zone: c.availabilityZone,
    project_id: c.projectId,
    meta: c.metadata,
    ...(c.keypair
      ? {
          public_keys: { [c.keypair.name]: c.keypair.publicKey },
          keys: [{ name: c.keypair.name, type: 'ssh', data: c.keypair.publicKey }],
        }
      : {}),
    devices: [],
    dedicated_cpus: [],
  };
}

/** network_data.json as Nova writes it: one link per port, one static IPv4 network per link, DNS as services. */
export function networkData(c: DriveContents): Record<string, unknown> {
  const links = c.nics.map((n) => ({
    id: `tap${n.portId.slice(0, 11)}`,
    vif_id: n.portId,
    type: 'ovs',
    mtu: n.mtu,
    ethernet_mac_address: n.mac,
  }));
  const networks = c.nics.map((n, i) => ({
    id: `network${i}`,
    type: 'ipv4',
    link: links[i].id,
    ip_address: n.ip,
    netmask: netmask(n.cidr),
    routes: n.gateway ? [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: n.gateway }] : [],
    network_id: n.networkId,
    services: n.dns.map((address) => ({ type: 'dns', address })),
  }));
  const dns = [...new Set(c.nics.flatMap((n) => n.dns))];
  return { links, networks, services: dns.map((address) => ({ type: 'dns', address })) };
}

/** Writes the drive's files under `dir/content` and makes `dir/config-drive.iso`; returns the ISO's path. */
export function writeConfigDrive(dir: string, c: DriveContents): string {
  const content = path.join(dir, 'config-drive');
  fs.rmSync(content, { recursive: true, force: true });
  const latest = path.join(content, 'openstack', 'latest');
  fs.mkdirSync(latest, { recursive: true });
  fs.writeFileSync(path.join(latest, 'meta_data.json'), JSON.stringify(metaData(c)));
  fs.writeFileSync(path.join(latest, 'network_data.json'), JSON.stringify(networkData(c)));
  fs.writeFileSync(path.join(latest, 'vendor_data.json'), '{}');
  if (c.userData) fs.writeFileSync(path.join(latest, 'user_data'), Buffer.from(c.userData, 'base64'));
  const iso = path.join(dir, 'config-drive.iso');
  const r = spawnSync('genisoimage', ['-quiet', '-o', iso, '-V', 'config-2', '-r', '-J', content], {
    encoding: 'utf8',
  });
  fs.rmSync(content, { recursive: true, force: true });
  if (r.error) throw new Error(`cannot make the config drive: genisoimage: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`cannot make the config drive: genisoimage: ${r.stderr.trim()}`);
  return iso;
}
