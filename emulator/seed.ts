/** The cloud a fresh emulator starts with: users, projects, roles, flavors and a network per region. */
import crypto from 'node:crypto';
import { CloudState, Flavor, RegionState, emptyRegion, hexId, uuid } from './state';

const FLAVORS: Omit<
  Flavor,
  'ephemeral' | 'swap' | 'rxtx_factor' | 'is_public' | 'disabled' | 'description' | 'extra_specs'
>[] = [
  { id: '1', name: 'm1.tiny', ram: 512, disk: 1, vcpus: 1 },
  { id: '2', name: 'm1.small', ram: 2048, disk: 20, vcpus: 1 },
  { id: '3', name: 'm1.medium', ram: 4096, disk: 40, vcpus: 2 },
  { id: '4', name: 'm1.large', ram: 8192, disk: 80, vcpus: 4 },
  { id: '5', name: 'm1.xlarge', ram: 16384, disk: 160, vcpus: 8 },
  { id: 'c1', name: 'cirros256', ram: 256, disk: 1, vcpus: 1 },
];

const EXTRA_SPECS: Record<string, Record<string, string>> = {
  '3': { 'hw:cpu_policy': 'shared', 'hw_rng:allowed': 'True' },
  '4': { 'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': 'large' },
};

/** A /24 somewhere in 127.0.0.0/8, picked at random so several clouds on one host rarely share addresses. */
function randomLoopbackCidr(taken: Set<string>): string {
  for (;;) {
    const cidr = `127.${crypto.randomInt(16, 250)}.${crypto.randomInt(0, 256)}.0/24`;
    if (!taken.has(cidr)) {
      taken.add(cidr);
      return cidr;
    }
  }
}

/**
 * A /24 in 10.64.0.0–10.250.255.0 for clouds whose servers are real guests: their
 * addresses sit on a guest's NIC, where loopback addresses cannot. The gateway is .1
 * and the guest network's DNS forwarder .2, as QEMU's user network serves them.
 */
function randomGuestCidr(taken: Set<string>): string {
  for (;;) {
    const cidr = `10.${crypto.randomInt(64, 251)}.${crypto.randomInt(0, 256)}.0/24`;
    if (!taken.has(cidr)) {
      taken.add(cidr);
      return cidr;
    }
  }
}

function seedRegion(adminProjectId: string, taken: Set<string>, realGuests: boolean): RegionState {
  const rs = emptyRegion();
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  rs.flavors = FLAVORS.map((f) => ({
    ...f,
    ephemeral: 0,
    swap: 0,
    rxtx_factor: 1,
    is_public: true,
    disabled: false,
    description: null,
    extra_specs: { ...(EXTRA_SPECS[f.id] ?? {}) },
  }));
  const addNetwork = (name: string, cidr: string) => {
    const prefix = cidr.split('.').slice(0, 3).join('.');
    const networkId = uuid();
    const subnetId = uuid();
    rs.networks.push({
      id: networkId,
      name,
      project_id: adminProjectId,
      shared: true,
      external: false,
      status: 'ACTIVE',
      admin_state_up: true,
      mtu: 1450,
      subnets: [subnetId],
      created_at: now,
      updated_at: now,
    });
    rs.subnets.push({
      id: subnetId,
      name: `${name}-subnet`,
      network_id: networkId,
      project_id: adminProjectId,
      cidr,
      gateway_ip: `${prefix}.1`,
      ip_version: 4,
      enable_dhcp: true,
      allocation_pools: [{ start: `${prefix}.${realGuests ? 10 : 2}`, end: `${prefix}.254` }],
      dns_nameservers: realGuests ? [`${prefix}.2`] : [],
      created_at: now,
      updated_at: now,
    });
  };
  if (realGuests) {
    addNetwork('private', randomGuestCidr(taken));
    // a second network, so that guests can have several interfaces
    addNetwork('storage', randomGuestCidr(taken));
  } else {
    addNetwork('private', randomLoopbackCidr(taken));
  }
  return rs;
}

/** A fresh cloud; with realGuests its networks use private addresses that guests' NICs can carry. */
export function seedState(regions: string[], realGuests = false): CloudState {
  if (!regions.length) throw new Error('at least one region is needed');
  const adminProject = hexId();
  const demoProject = hexId();
  const adminUser = hexId();
  const demoUser = hexId();
  const roles = { admin: hexId(), member: hexId(), reader: hexId() };
  const taken = new Set<string>();
  return {
    version: 1,
    domains: [{ id: 'default', name: 'Default' }],
    projects: [
      {
        id: adminProject,
        name: 'admin',
        domain_id: 'default',
        description: 'Bootstrap project for initializing the cloud.',
        enabled: true,
      },
      {
        id: demoProject,
        name: 'demo',
        domain_id: 'default',
        description: 'A project of ordinary users.',
        enabled: true,
      },
    ],
    users: [
      {
        id: adminUser,
        name: 'admin',
        domain_id: 'default',
        password: 'admin-secret',
        default_project_id: adminProject,
        enabled: true,
      },
      {
        id: demoUser,
        name: 'demo',
        domain_id: 'default',
        password: 'demo-secret',
        default_project_id: demoProject,
        enabled: true,
      },
    ],
    roles: Object.entries(roles).map(([name, id]) => ({ id, name })),
    role_assignments: [
      { user_id: adminUser, project_id: adminProject, role_id: roles.admin },
      { user_id: adminUser, project_id: adminProject, role_id: roles.member },
      { user_id: adminUser, project_id: adminProject, role_id: roles.reader },
      { user_id: demoUser, project_id: demoProject, role_id: roles.member },
      { user_id: demoUser, project_id: demoProject, role_id: roles.reader },
    ],
    application_credentials: [
      {
        id: hexId(),
        name: 'dibctl',
        secret: crypto.randomBytes(24).toString('base64url'),
        user_id: demoUser,
        project_id: demoProject,
        description: 'Seeded application credential of the demo user',
        expires_at: null,
      },
    ],
    tokens: [],
    regions: Object.fromEntries(regions.map((r) => [r, seedRegion(adminProject, taken, realGuests)])),
    next_keypair_id: 1,
  };
}
