/**
 * Everything the emulated cloud knows, as plain JSON-able data, so it can be
 * snapshotted for leak checks and persisted to a file across restarts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

interface Domain {
  id: string;
  name: string;
}

export interface Project {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: boolean;
}

export interface User {
  id: string;
  name: string;
  domain_id: string;
  password: string;
  default_project_id: string;
  enabled: boolean;
}

interface Role {
  id: string;
  name: string;
}

interface RoleAssignment {
  user_id: string;
  project_id: string;
  role_id: string;
}

export interface ApplicationCredential {
  id: string;
  name: string;
  secret: string;
  user_id: string;
  project_id: string;
  description: string;
  expires_at: string | null;
}

export interface Token {
  id: string;
  user_id: string;
  project_id: string;
  methods: string[];
  issued_at: string;
  expires_at: string;
  audit_id: string;
  application_credential_id?: string;
}

interface ImageMember {
  member_id: string;
  status: 'pending' | 'accepted' | 'rejected';
  created_at: string;
  updated_at: string;
}

export interface Image {
  id: string;
  name: string | null;
  status: 'queued' | 'saving' | 'active' | 'killed' | 'deleted' | 'deactivated' | 'uploading' | 'importing';
  visibility: 'public' | 'private' | 'shared' | 'community';
  protected: boolean;
  os_hidden: boolean;
  owner: string;
  disk_format: string | null;
  container_format: string | null;
  min_disk: number;
  min_ram: number;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  tags: string[];
  created_at: string;
  updated_at: string;
  /** Additional (custom) properties; Glance stores them as strings. */
  properties: Record<string, string>;
  members: ImageMember[];
  /** Name of the data file under the data directory, once uploaded. */
  file?: string;
}

export interface Flavor {
  id: string;
  name: string;
  ram: number;
  disk: number;
  vcpus: number;
  ephemeral: number;
  swap: number;
  rxtx_factor: number;
  is_public: boolean;
  disabled: boolean;
  description: string | null;
  extra_specs: Record<string, string>;
}

export interface Keypair {
  name: string;
  user_id: string;
  public_key: string;
  fingerprint: string;
  type: 'ssh' | 'x509';
  created_at: string;
  id: number;
}

export interface ServerAddress {
  network_id: string;
  network_name: string;
  port_id: string;
  ip: string;
  mac: string;
}

interface Fault {
  code: number;
  message: string;
  details: string;
  created: string;
}

export interface Server {
  id: string;
  name: string;
  hostname: string;
  project_id: string;
  user_id: string;
  status: 'BUILD' | 'ACTIVE' | 'ERROR' | 'SHUTOFF' | 'REBOOT' | 'HARD_REBOOT' | 'REBUILD' | 'DELETED';
  task_state: string | null;
  vm_state: string;
  power_state: number;
  image_id: string;
  flavor_id: string;
  key_name: string | null;
  /** The login users the SSH endpoint accepts the keypair for (from the image). */
  login_users: string[];
  addresses: ServerAddress[];
  metadata: Record<string, string>;
  tags: string[];
  availability_zone: string;
  config_drive: string;
  user_data: string | null;
  created: string;
  updated: string;
  launched_at: string | null;
  fault: Fault | null;
  console_log: string[];
  /** The SSH endpoint never opens for this server (simulates a guest that never comes up). */
  ssh_disabled: boolean;
}

export interface Subnet {
  id: string;
  name: string;
  network_id: string;
  project_id: string;
  cidr: string;
  gateway_ip: string;
  ip_version: 4 | 6;
  enable_dhcp: boolean;
  allocation_pools: { start: string; end: string }[];
  dns_nameservers: string[];
  created_at: string;
  updated_at: string;
}

export interface Network {
  id: string;
  name: string;
  project_id: string;
  shared: boolean;
  external: boolean;
  status: string;
  admin_state_up: boolean;
  mtu: number;
  subnets: string[];
  created_at: string;
  updated_at: string;
}

export interface Port {
  id: string;
  name: string;
  network_id: string;
  project_id: string;
  mac_address: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
  device_id: string;
  device_owner: string;
  status: string;
  admin_state_up: boolean;
  created_at: string;
  updated_at: string;
}

export interface RegionState {
  images: Image[];
  servers: Server[];
  keypairs: Keypair[];
  flavors: Flavor[];
  networks: Network[];
  subnets: Subnet[];
  ports: Port[];
}

export interface CloudState {
  version: 1;
  domains: Domain[];
  projects: Project[];
  users: User[];
  roles: Role[];
  role_assignments: RoleAssignment[];
  application_credentials: ApplicationCredential[];
  tokens: Token[];
  regions: Record<string, RegionState>;
  next_keypair_id: number;
}

export function uuid(): string {
  return crypto.randomUUID();
}

/** Keystone ids are uuid4 hex without dashes. */
export function hexId(): string {
  return crypto.randomUUID().replace(/-/g, '');
}

export function emptyRegion(): RegionState {
  return { images: [], servers: [], keypairs: [], flavors: [], networks: [], subnets: [], ports: [] };
}

/** Reads a persisted state, or undefined when the file does not exist yet. */
export function loadState(file: string): CloudState | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(raw) as CloudState;
  if (parsed.version !== 1 || typeof parsed.regions !== 'object')
    throw new Error(`${file} is not an emulator state file`);
  return parsed;
}

/** Writes the state atomically (temporary file, then rename). */
export function saveState(file: string, state: CloudState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state, null, 1));
  fs.renameSync(tmp, file);
}
