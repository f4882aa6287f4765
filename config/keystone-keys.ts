/**
 * The keys a `keystone` section may hold, each with every alias dibctl users
 * wrote (matched case-insensitively) and the `OS_*` variables that override it.
 */
import type { CloudAuth } from '../openstack/auth-types';

export type KeystoneField =
  | 'authUrl'
  | 'username'
  | 'userId'
  | 'password'
  | 'projectName'
  | 'projectId'
  | 'userDomainName'
  | 'userDomainId'
  | 'projectDomainName'
  | 'projectDomainId'
  | 'applicationCredentialId'
  | 'applicationCredentialName'
  | 'applicationCredentialSecret'
  | 'regionName'
  | 'interface'
  | 'cacert'
  | 'insecure'
  | 'identityApiVersion'
  | 'cloud';

interface KeystoneFieldSpec {
  /** How the value is called in messages. */
  name: string;
  aliases: readonly string[];
  env: readonly string[];
  kind: 'string' | 'boolean' | 'version' | 'interface';
  secret?: boolean;
}

export const KEYSTONE_FIELDS: Record<KeystoneField, KeystoneFieldSpec> = {
  authUrl: {
    name: 'auth_url',
    aliases: ['os_auth_url', 'auth_url', 'url', 'auth_uri', 'uri'],
    env: ['OS_AUTH_URL'],
    kind: 'string',
  },
  username: {
    name: 'username',
    aliases: ['os_username', 'username', 'user_name', 'user', 'os_user'],
    env: ['OS_USERNAME'],
    kind: 'string',
  },
  userId: { name: 'user_id', aliases: ['user_id', 'os_user_id'], env: ['OS_USER_ID'], kind: 'string' },
  password: {
    name: 'password',
    aliases: ['os_password', 'password', 'pass', 'os_pass'],
    env: ['OS_PASSWORD'],
    kind: 'string',
    secret: true,
  },
  projectName: {
    name: 'project_name',
    aliases: [
      'os_tenant_name',
      'tenant_name',
      'tenant',
      'project',
      'project_name',
      'os_project_name',
      'os_project',
      'os_tenant',
    ],
    env: ['OS_PROJECT_NAME', 'OS_TENANT_NAME'],
    kind: 'string',
  },
  projectId: {
    name: 'project_id',
    aliases: ['project_id', 'tenant_id', 'os_project_id', 'os_tenant_id'],
    env: ['OS_PROJECT_ID', 'OS_TENANT_ID'],
    kind: 'string',
  },
  userDomainName: {
    name: 'user_domain_name',
    aliases: ['user_domain', 'user_domain_name', 'os_user_domain', 'os_user_domain_name'],
    env: ['OS_USER_DOMAIN_NAME'],
    kind: 'string',
  },
  userDomainId: {
    name: 'user_domain_id',
    aliases: ['user_domain_id', 'os_user_domain_id'],
    env: ['OS_USER_DOMAIN_ID'],
    kind: 'string',
  },
  projectDomainName: {
    name: 'project_domain_name',
    aliases: [
      'project_domain',
      'project_domain_name',
      'tenant_domain',
      'tenant_domain_name',
      'os_project_domain',
      'os_project_domain_name',
    ],
    env: ['OS_PROJECT_DOMAIN_NAME'],
    kind: 'string',
  },
  projectDomainId: {
    name: 'project_domain_id',
    aliases: ['project_domain_id', 'tenant_domain_id', 'os_project_domain_id'],
    env: ['OS_PROJECT_DOMAIN_ID'],
    kind: 'string',
  },
  applicationCredentialId: {
    name: 'application_credential_id',
    aliases: ['application_credential_id', 'os_application_credential_id'],
    env: ['OS_APPLICATION_CREDENTIAL_ID'],
    kind: 'string',
  },
  applicationCredentialName: {
    name: 'application_credential_name',
    aliases: ['application_credential_name', 'os_application_credential_name'],
    env: ['OS_APPLICATION_CREDENTIAL_NAME'],
    kind: 'string',
  },
  applicationCredentialSecret: {
    name: 'application_credential_secret',
    aliases: ['application_credential_secret', 'os_application_credential_secret'],
    env: ['OS_APPLICATION_CREDENTIAL_SECRET'],
    kind: 'string',
    secret: true,
  },
  regionName: {
    name: 'region_name',
    aliases: ['region_name', 'region', 'os_region_name'],
    env: ['OS_REGION_NAME'],
    kind: 'string',
  },
  interface: {
    name: 'interface',
    aliases: ['interface', 'endpoint_type', 'os_interface', 'os_endpoint_type'],
    env: ['OS_INTERFACE', 'OS_ENDPOINT_TYPE'],
    kind: 'interface',
  },
  cacert: { name: 'cacert', aliases: ['cacert', 'ca_cert', 'os_cacert'], env: ['OS_CACERT'], kind: 'string' },
  insecure: { name: 'insecure', aliases: ['insecure', 'os_insecure'], env: ['OS_INSECURE'], kind: 'boolean' },
  identityApiVersion: {
    name: 'api_version',
    aliases: ['api_version', 'identity_api_version', 'os_identity_api_version'],
    env: ['OS_IDENTITY_API_VERSION'],
    kind: 'version',
  },
  cloud: { name: 'cloud', aliases: ['cloud', 'os_cloud'], env: ['OS_CLOUD'], kind: 'string' },
};

const BY_ALIAS = new Map<string, KeystoneField>();
for (const [field, spec] of Object.entries(KEYSTONE_FIELDS) as [KeystoneField, KeystoneFieldSpec][]) {
  for (const alias of spec.aliases) BY_ALIAS.set(alias, field);
}

/** The field a keystone key stands for, matched case-insensitively. */
export function keystoneFieldOf(key: string): KeystoneField | undefined {
  return BY_ALIAS.get(key.toLowerCase());
}

export const ALL_KEYSTONE_ALIASES: readonly string[] = [...BY_ALIAS.keys()];

/** Normalises `api_version` / `identity_api_version`: 2, 2.0, '2', 'v2.0' → '2.0'; 3, '3', 'v3' → '3'. */
export function parseIdentityVersion(value: unknown): CloudAuth['identityApiVersion'] | undefined {
  const s = String(value).trim().toLowerCase().replace(/^v/, '');
  if (s === '2' || s === '2.0') return '2.0';
  if (s === '3' || s === '3.0') return '3';
  return undefined;
}

/** Normalises an interface name: `publicURL` (old endpoint_type) → `public`. */
export function parseInterface(value: unknown): CloudAuth['interface'] | undefined {
  const s = String(value).trim().toLowerCase().replace(/url$/, '');
  if (s === 'public' || s === 'internal' || s === 'admin') return s;
  return undefined;
}

/** Booleans as written in YAML or in an environment variable. */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const s = String(value).trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
  return undefined;
}

/** Case-insensitive regular expression source matching any accepted alias (for JSON Schema). */
export function keystoneKeyPattern(): string {
  const ci = (s: string) => [...s].map((c) => (/[a-z]/.test(c) ? `[${c}${c.toUpperCase()}]` : c)).join('');
  return `^(?:${ALL_KEYSTONE_ALIASES.map(ci).join('|')})$`;
}
