/**
 * Credentials of a test or upload environment, resolved where they are used
 * (the worker), never carried through workflows. Layers, lowest first:
 * clouds.yaml (+ secure.yaml) when a cloud is named, the environment's
 * `keystone` section, then `OS_*` variables. Messages name keys and variables,
 * never values.
 */
import path from 'node:path';
import type { CloudAuth } from '../openstack/auth-types';
import { CloudsOptions, loadCloud } from './clouds';
import { CredentialsError } from './errors';
import { entryOf } from './files';
import {
  KEYSTONE_FIELDS,
  KeystoneField,
  keystoneFieldOf,
  parseBoolean,
  parseIdentityVersion,
  parseInterface,
} from './keystone-keys';
import { ConfigOptions, loadImage, loadKind } from './view';

type EnvironmentKind = 'test' | 'upload';

interface ResolvedCredentials {
  auth: CloudAuth;
  /** Names of the OS_* variables that supplied a value (never the values). */
  usedEnvironment: string[];
  /** The clouds.yaml cloud used, if any. */
  cloud?: { name: string; file: string; secureFile?: string };
  /** Whose keystone section was read: "upload environment 'prod' (/etc/dibctl/upload.yaml)". */
  what: string;
  /** The keystone section supplied a value that no OS_* variable replaced. */
  sectionUsed: boolean;
  /** The clouds.yaml cloud supplied a value that neither the section nor an OS_* variable replaced. */
  cloudUsed: boolean;
}

type Values = Partial<Record<KeystoneField, unknown>>;

/** Maps a keystone section (any alias, any case) to fields. */
function keystoneValues(section: Record<string, unknown>): Values {
  const out: Values = {};
  for (const [key, value] of Object.entries(section)) {
    const field = keystoneFieldOf(key);
    if (field && value !== undefined && value !== null && value !== '') out[field] = value;
  }
  return out;
}

/** Values from OS_* variables; the first variable set for a field wins. */
function environmentValues(env: NodeJS.ProcessEnv): { values: Values; used: string[] } {
  const values: Values = {};
  const used: string[] = [];
  for (const [field, spec] of Object.entries(KEYSTONE_FIELDS) as [
    KeystoneField,
    (typeof KEYSTONE_FIELDS)[KeystoneField],
  ][]) {
    for (const name of spec.env) {
      const v = env[name];
      if (v !== undefined && v !== '') {
        values[field] = v;
        used.push(name);
        break;
      }
    }
  }
  return { values, used };
}

const CLOUD_KEYS: Record<string, KeystoneField> = {
  region_name: 'regionName',
  interface: 'interface',
  identity_api_version: 'identityApiVersion',
  cacert: 'cacert',
  insecure: 'insecure',
};

/** Maps a clouds.yaml cloud to fields and endpoint overrides. */
function cloudValues(settings: Record<string, unknown>): {
  values: Values;
  overrides: NonNullable<CloudAuth['endpointOverrides']>;
  authType?: string;
} {
  const values: Values = {};
  const auth = settings.auth;
  if (auth && typeof auth === 'object' && !Array.isArray(auth)) {
    for (const [key, value] of Object.entries(auth as Record<string, unknown>)) {
      const field = keystoneFieldOf(key);
      if (field && value !== undefined && value !== null && value !== '') values[field] = value;
    }
  }
  for (const [key, field] of Object.entries(CLOUD_KEYS)) {
    const v = settings[key];
    if (v !== undefined && v !== null && v !== '') values[field] = v;
  }
  if (settings.verify === false) values.insecure = true;
  if (values.regionName === undefined && Array.isArray(settings.regions) && settings.regions.length) {
    const first: unknown = settings.regions[0];
    const name =
      typeof first === 'string'
        ? first
        : first && typeof first === 'object'
          ? (first as { name?: unknown }).name
          : undefined;
    if (typeof name === 'string') values.regionName = name;
  }
  const overrides: NonNullable<CloudAuth['endpointOverrides']> = {};
  for (const svc of ['image', 'compute', 'network'] as const) {
    const v = settings[`${svc}_endpoint_override`];
    if (typeof v === 'string' && v) overrides[svc] = v;
  }
  return { values, overrides, ...(typeof settings.auth_type === 'string' ? { authType: settings.auth_type } : {}) };
}

function accepted(field: KeystoneField): string {
  const spec = KEYSTONE_FIELDS[field];
  return `keystone keys ${spec.aliases.join(', ')}; or ${spec.env.join(', ')}`;
}

function str(v: unknown): string | undefined {
  return v === undefined ? undefined : String(v);
}

interface CredentialInputs {
  /** What the label is, for messages: "test environment 'lab' (test.yaml)". */
  what: string;
  section: Record<string, unknown>;
  env: NodeJS.ProcessEnv;
  /** Entry-level TLS settings (ssl_insecure, ssl_ca_path resolved to absolute). */
  sslInsecure?: boolean;
  sslCaPath?: string;
  /** glance.endpoint of the environment. */
  imageEndpoint?: string;
  clouds?: CloudsOptions;
}

/** Builds CloudAuth from the layers; CredentialsError (exit 12) names what is missing and every accepted alias. */
export function buildCloudAuth(input: CredentialInputs): ResolvedCredentials {
  const section = keystoneValues(input.section);
  const fromEnv = environmentValues(input.env);
  const cloudName = str(fromEnv.values.cloud ?? section.cloud);
  let cloudLayer: ReturnType<typeof cloudValues> = { values: {}, overrides: {} };
  let cloud: ResolvedCredentials['cloud'];
  if (cloudName) {
    const entry = loadCloud(cloudName, { env: input.env, ...input.clouds });
    cloudLayer = cloudValues(entry.settings);
    cloud = { name: entry.name, file: entry.file, ...(entry.secureFile ? { secureFile: entry.secureFile } : {}) };
  }
  const v: Values = { ...cloudLayer.values, ...section, ...fromEnv.values };

  const problems: string[] = [];
  const version = v.identityApiVersion !== undefined ? parseIdentityVersion(v.identityApiVersion) : undefined;
  if (v.identityApiVersion !== undefined && !version)
    problems.push(`api_version must be 2 or 3 (${accepted('identityApiVersion')})`);
  const iface = v.interface !== undefined ? parseInterface(v.interface) : undefined;
  if (v.interface !== undefined && !iface)
    problems.push(`interface must be public, internal or admin (${accepted('interface')})`);
  const insecureValue = v.insecure !== undefined ? parseBoolean(v.insecure) : undefined;
  if (v.insecure !== undefined && insecureValue === undefined)
    problems.push(`insecure must be true or false (${accepted('insecure')})`);
  if (problems.length)
    throw new CredentialsError(
      `Invalid credentials for ${input.what}: ${problems.join('; ')}`,
      `correct them in the keystone section of ${input.what} or the OS_* variables; 'dibctl validate --credentials' checks them`,
    );

  const missing: string[] = [];
  if (v.authUrl === undefined) missing.push(`auth_url (${accepted('authUrl')})`);
  const appCred =
    v.applicationCredentialSecret !== undefined ||
    v.applicationCredentialId !== undefined ||
    /applicationcredential/i.test(cloudLayer.authType ?? '');
  if (appCred) {
    if (v.applicationCredentialSecret === undefined)
      missing.push(`application_credential_secret (${accepted('applicationCredentialSecret')})`);
    if (v.applicationCredentialId === undefined) {
      if (v.applicationCredentialName === undefined)
        missing.push(
          `application_credential_id or application_credential_name (${accepted('applicationCredentialId')}; ${accepted('applicationCredentialName')})`,
        );
      else if (v.username === undefined && v.userId === undefined)
        missing.push(
          `username or user_id, needed with application_credential_name (${accepted('username')}; ${accepted('userId')})`,
        );
    }
  } else {
    if (v.username === undefined && v.userId === undefined)
      missing.push(`username (${accepted('username')}; or user_id: ${accepted('userId')})`);
    if (v.password === undefined) missing.push(`password (${accepted('password')})`);
    if (v.projectName === undefined && v.projectId === undefined)
      missing.push(`project_name (${accepted('projectName')}; or project_id: ${accepted('projectId')})`);
  }
  if (missing.length) {
    throw new CredentialsError(
      `Missing credentials for ${input.what}: ${missing.join('; ')}`,
      `set the OS_* variables named (e.g. source an openrc file) or the keys in the keystone section of ${input.what}; 'dibctl validate --credentials' checks them`,
    );
  }

  const auth: CloudAuth = { authUrl: String(v.authUrl) };
  if (version) auth.identityApiVersion = version;
  const copy = (
    field: Exclude<KeystoneField, 'insecure' | 'interface' | 'identityApiVersion' | 'cloud' | 'authUrl'>,
  ) => {
    const s = str(v[field]);
    if (s !== undefined) auth[field] = s;
  };
  for (const f of [
    'username',
    'userId',
    'password',
    'projectName',
    'projectId',
    'userDomainName',
    'userDomainId',
    'projectDomainName',
    'projectDomainId',
    'applicationCredentialId',
    'applicationCredentialName',
    'applicationCredentialSecret',
    'regionName',
    'cacert',
  ] as const)
    copy(f);
  if (auth.identityApiVersion !== '2.0') {
    // Keystone v3 needs domains; dibctl's default was "default"
    if ((auth.username || auth.applicationCredentialName) && !auth.userId && !auth.userDomainName && !auth.userDomainId)
      auth.userDomainName = 'default';
    if (!appCred && auth.projectName && !auth.projectDomainName && !auth.projectDomainId)
      auth.projectDomainName = 'default';
  }
  if (iface) auth.interface = iface;
  const insecure = insecureValue ?? input.sslInsecure;
  if (insecure !== undefined) auth.insecure = insecure;
  if (auth.cacert === undefined && input.sslCaPath) auth.cacert = input.sslCaPath;
  const overrides = { ...cloudLayer.overrides, ...(input.imageEndpoint ? { image: input.imageEndpoint } : {}) };
  if (Object.keys(overrides).length) auth.endpointOverrides = overrides;
  const beneath = (values: Values, above: Values[]) =>
    Object.keys(values).some((k) => above.every((a) => a[k as KeystoneField] === undefined));
  return {
    auth,
    usedEnvironment: fromEnv.used,
    ...(cloud ? { cloud } : {}),
    what: input.what,
    sectionUsed: beneath(section, [fromEnv.values]),
    cloudUsed: beneath(cloudLayer.values, [section, fromEnv.values]),
  };
}

/**
 * Credentials of a test or upload environment by label, read from its config,
 * the process environment (OS_*) and clouds.yaml. Call it on the worker.
 */
export function resolveCredentials(
  kind: EnvironmentKind,
  label: string,
  opts: ConfigOptions & { clouds?: CloudsOptions; image?: string } = {},
): ResolvedCredentials {
  const config = loadKind(kind, opts);
  const entry = entryOf(config, label);
  const value = entry.value;
  // the environment's glance.endpoint, else the image's (when the call is about one image)
  const imageEndpoint =
    value.glance?.endpoint ?? (opts.image ? loadImage(opts.image, opts).glance.endpoint : undefined);
  const what = `${kind === 'test' ? 'test' : 'upload'} environment '${label}' (${entry.file})`;
  // OS_* variables alone never stand in for a missing section: they may lead to any cloud
  if (value.keystone === undefined)
    throw new CredentialsError(
      `${what} has no keystone section (it publishes through external_upload alone): dibctl has no cloud to act on there`,
      `add a keystone section to ${what} for dibctl to act on that cloud`,
    );
  return buildCloudAuth({
    what,
    section: value.keystone,
    env: opts.env ?? process.env,
    sslInsecure: value.ssl_insecure,
    sslCaPath: value.ssl_ca_path !== undefined ? path.resolve(config.baseDir, value.ssl_ca_path) : undefined,
    imageEndpoint,
    clouds: { cwd: config.baseDir, ...opts.clouds },
  });
}

/**
 * The line a cloud command prints, as dibctl did: which OS_* variables it used
 * (names, never values), which clouds.yaml cloud, which keystone section.
 * `Using OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME from the environment`.
 */
export function credentialsUsedLine(c: ResolvedCredentials): string {
  const parts: string[] = [];
  if (c.usedEnvironment.length) parts.push(`${c.usedEnvironment.join(', ')} from the environment`);
  if (c.cloud && c.cloudUsed)
    parts.push(`cloud '${c.cloud.name}' from ${c.cloud.file}${c.cloud.secureFile ? ` and ${c.cloud.secureFile}` : ''}`);
  if (c.sectionUsed || !parts.length) parts.push(`the keystone section of ${c.what}`);
  const last = parts.pop() as string;
  return `Using ${parts.length ? `${parts.join(', ')} and ${last}` : last}`;
}

/** One line saying where credentials came from: variable names and files, never values. */
export function describeCredentialSources(c: ResolvedCredentials): string {
  const parts: string[] = [];
  if (c.cloud)
    parts.push(`cloud '${c.cloud.name}' from ${c.cloud.file}${c.cloud.secureFile ? ` and ${c.cloud.secureFile}` : ''}`);
  if (c.usedEnvironment.length) parts.push(`${c.usedEnvironment.join(', ')} from the environment`);
  parts.push('the keystone section');
  return `Credentials: ${parts.join(', ')}`;
}
