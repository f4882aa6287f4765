/**
 * The plain, serialisable, secret-free view of images and environments: what
 * workflows receive. Defaults are applied, paths are absolute (resolved against
 * the working directory of the process that read the config, as dibctl did),
 * and nothing from a `keystone` section is carried.
 */
import path from 'node:path';
import { DEFAULTS } from './defaults';
import { durationSeconds } from './duration';
import { ConfigError } from './errors';
import { LoadedConfig, LookupOptions, entryOf, loadConfig } from './files';
import { largerTimeout, mergeEnvironmentVariables, mergeGlance, mergeNovaTimeouts } from './merge';
import type {
  ConfigKind,
  GlanceSection,
  ImageEntry,
  NovaTimeoutsSection,
  SshKeyType,
  TestEnvironmentEntry,
  UploadEnvironmentEntry,
} from './schema';
import { GENERIC_TESTS, GenericTest, TEST_KINDS, TestKind } from './test-kinds';

/** Where to read configs from; what the CLI options and the worker's environment decide. */
export interface ConfigOptions {
  cwd?: string;
  systemDir?: string;
  env?: NodeJS.ProcessEnv;
  imagesConfig?: string;
  testConfig?: string;
  uploadConfig?: string;
  /** Receives one line per label redefined by a later file. */
  onWarning?: (line: string) => void;
}

interface GlanceSettings {
  apiVersion?: 1 | 2;
  name?: string;
  /** Seconds per upload attempt, when set (and not 0); unset: no total limit for upload and run. */
  uploadTimeout?: number;
  /** Seconds an upload may go without moving data before its attempt fails. */
  uploadStallTimeout: number;
  /** Values as sent to Glance: strings. */
  properties: Record<string, string>;
  tags: string[];
  containerFormat: string;
  diskFormat: string;
  endpoint?: string;
  public: boolean;
  /** public when `public` is true, shared when there are projects to share with, else glance.visibility (default shared). */
  visibility: 'shared' | 'private' | 'community' | 'public';
  minDisk: number;
  minRam: number;
  protected: boolean;
  shareWith: string[];
}

interface NovaTimeouts {
  createTimeout: number;
  activeTimeout: number;
  keypairTimeout: number;
  cleanupTimeout: number;
}

export interface TestSpec {
  kind: TestKind | 'generic';
  /** Absolute path; for generic tests, their names (`all`, `dns,hostname`). */
  path: string;
  /** generic: which of dibctl's generic tests run, in their order. */
  generic?: GenericTest[];
  /** Seconds for the whole entry. */
  timeout: number;
  /** false: keep running after a failing test of the entry (default: stop, as dibctl). */
  stopOnFailure?: boolean;
  /** ssh: run the script with sudo. */
  sudo?: boolean;
  /** image: assertions on the image file. */
  image?: ImageAssertions;
}

export interface ImageAssertions {
  format?: string;
  minVirtualSizeGb?: number;
  maxVirtualSizeGb?: number;
  /** Absolute paths inside the image. */
  filesExist?: string[];
}

export interface ImageConfig {
  label: string;
  /** The file that defined it. */
  file: string;
  /** Absolute path of the image file. */
  filename: string;
  dib?: {
    elements: string[];
    /** Relative entries of ELEMENTS_PATH are made absolute. */
    environmentVariables: Record<string, string>;
    cliOptions: string[];
    minVersion?: string;
    maxVersion?: string;
  };
  /** As written; merged with an environment's by the plans below. */
  glance: GlanceSection;
  nova: NovaTimeoutsSection;
  tests: {
    ssh?: SshSettings;
    waitForPort?: number;
    portWaitTimeout?: number;
    environmentName?: string;
    environmentVariables: Record<string, string>;
    /** Names (NAME* prefixes, *) of the worker's variables the tests may see. */
    passEnvironment: string[];
    testsList: TestSpec[];
  };
  externalBuild: string[];
  externalTests: string[];
}

/**
 * How the instance's SSH host key is checked: `console`, the keys its console
 * log prints (the first key presented when it prints none); `first-use`, the
 * first key presented; `off`, not at all.
 */
type HostKeyCheck = 'console' | 'first-use' | 'off';

/** tests.ssh.host_key_check as written: YAML 1.1 turns an unquoted `off`/`no` into false, `on`/`yes` into true. */
function hostKeyCheck(value: HostKeyCheck | boolean | undefined): HostKeyCheck {
  if (value === false) return 'off';
  if (value === true || value === undefined) return DEFAULTS['tests.ssh.host_key_check'];
  return value;
}

interface SshSettings {
  username: string;
  port: number;
  hostKeyCheck: HostKeyCheck;
  keyType: SshKeyType;
}

export interface Nic {
  netId: string;
  v4FixedIp?: string;
  v6FixedIp?: string;
  portId?: string;
  tag?: string;
}

interface TestEnvironmentConfig {
  label: string;
  file: string;
  nova: {
    flavor?: string;
    flavorId?: string;
    nics: Nic[];
    mainNicRegexp?: string;
    configDrive: boolean;
    availabilityZone?: string;
    userdata?: string;
    /** Absolute path. */
    userdataFile?: string;
  };
  novaTimeouts: NovaTimeoutsSection;
  glance: GlanceSection;
  neutron: Record<string, unknown>;
  sslInsecure: boolean;
  sslCaPath?: string;
  disableWarnings: boolean;
  tests: { portWaitTimeout?: number; environmentVariables: Record<string, string>; passEnvironment: string[] };
}

export interface UploadEnvironmentConfig {
  label: string;
  file: string;
  glance: GlanceSection;
  sslInsecure: boolean;
  sslCaPath?: string;
  disableWarnings: boolean;
  preprocessing?: {
    cmdline: string;
    outputFilename: string;
    useExisting: boolean;
    deleteProcessedAfterUpload: boolean;
  };
  externalUpload: string[];
  /** false: no keystone section (external_upload alone): nothing to obsolete, rotate or retire there. */
  hasKeystone: boolean;
  /** When obsolete images are deleted once unused (defaults applied). */
  /** `enabled` false: obsolete images are not handed to retirement; `rotate` deletes the unused ones. */
  retire: RetirePolicy & { enabled: boolean };
  /** How publishing retries cloud trouble (defaults applied). */
  retry: RetrySettings;
}

/** upload.yaml `retry:`: attempts of short cloud steps and of uploads, and the longest pause between two. */
export interface RetrySettings {
  attempts: number;
  uploadAttempts: number;
  maxIntervalSeconds: number;
}

/** upload.yaml `retire:` in seconds. */
export interface RetirePolicy {
  checkEverySeconds: number;
  deleteAfterSeconds: number;
  keep: number;
}

/** Image + test environment, merged: what the image test workflow runs with. */
interface ImageTestPlan {
  image: ImageConfig;
  environment: TestEnvironmentConfig;
  glance: GlanceSettings;
  /** uploadTimeout: seconds per attempt of the test's upload, 0 for no total limit. */
  timeouts: NovaTimeouts & { uploadTimeout: number; portWaitTimeout: number };
  /** Test environment's over image's; the process environment comes below both when tests run. */
  environmentVariables: Record<string, string>;
  /** The image's and the test environment's pass_environment together. */
  passEnvironment: string[];
}

/**
 * A test plan as it may travel through Temporal (workflow inputs, activity
 * results, so history): no value that may be secret or that runs — dib and
 * test variables, userdata, command lines. The activities that need those
 * read them from the config on their own host; the plan keeps their names.
 */
export interface WorkflowTestPlan {
  image: Omit<ImageConfig, 'dib' | 'externalBuild' | 'externalTests' | 'tests'> & {
    tests: Omit<ImageConfig['tests'], 'environmentVariables'>;
    /** How many external_tests commands the image has (each gets its own time limit). */
    externalTestCount: number;
  };
  environment: Omit<TestEnvironmentConfig, 'nova' | 'tests'> & {
    nova: Omit<TestEnvironmentConfig['nova'], 'userdata' | 'userdataFile'>;
    tests: Omit<TestEnvironmentConfig['tests'], 'environmentVariables'>;
  };
  glance: GlanceSettings;
  timeouts: ImageTestPlan['timeouts'];
  /** Names of the variables the tests get from the config; the values stay on the host. */
  environmentVariableNames: string[];
}

/** The plan without what must stay on the host (see WorkflowTestPlan). */
export function workflowTestPlan(plan: ImageTestPlan): WorkflowTestPlan {
  const { dib: _dib, externalBuild: _build, externalTests, tests, ...image } = plan.image;
  const { environmentVariables: _imageVariables, ...imageTests } = tests;
  const { nova, tests: envTests, ...environment } = plan.environment;
  const { userdata: _userdata, userdataFile: _userdataFile, ...bootSettings } = nova;
  const { environmentVariables: _envVariables, ...environmentTests } = envTests;
  return {
    image: { ...image, tests: imageTests, externalTestCount: externalTests.length },
    environment: { ...environment, nova: bootSettings, tests: environmentTests },
    glance: plan.glance,
    timeouts: plan.timeouts,
    environmentVariableNames: Object.keys(plan.environmentVariables).sort(),
  };
}

/** Image + upload environment, merged: what one publish step runs with. */
interface ImageUploadPlan {
  image: ImageConfig;
  environment: UploadEnvironmentConfig;
  glance: GlanceSettings;
}

/** Glance section with every default filled in. */
function glanceSettings(section: GlanceSection): GlanceSettings {
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(section.properties ?? {})) properties[k] = String(v);
  return {
    ...(section.api_version !== undefined ? { apiVersion: section.api_version } : {}),
    ...(section.name !== undefined ? { name: section.name } : {}),
    ...(section.upload_timeout ? { uploadTimeout: section.upload_timeout } : {}),
    uploadStallTimeout: section.upload_stall_timeout ?? DEFAULTS['glance.upload_stall_timeout'],
    properties,
    tags: section.tags ?? [],
    containerFormat: section.container_format ?? DEFAULTS['glance.container_format'],
    diskFormat: section.disk_format ?? DEFAULTS['glance.disk_format'],
    ...(section.endpoint !== undefined ? { endpoint: section.endpoint } : {}),
    public: section.public ?? DEFAULTS['glance.public'],
    visibility: section.public
      ? 'public'
      : section.share_with?.length
        ? 'shared'
        : (section.visibility ?? DEFAULTS['glance.visibility']),
    minDisk: section.min_disk ?? DEFAULTS['glance.min_disk'],
    minRam: section.min_ram ?? DEFAULTS['glance.min_ram'],
    protected: section.protected ?? DEFAULTS['glance.protected'],
    shareWith: section.share_with ?? [],
  };
}

function novaTimeouts(section: NovaTimeoutsSection): NovaTimeouts {
  return {
    createTimeout: section.create_timeout ?? DEFAULTS['nova.create_timeout'],
    activeTimeout: section.active_timeout ?? DEFAULTS['nova.active_timeout'],
    keypairTimeout: section.keypair_timeout ?? DEFAULTS['nova.keypair_timeout'],
    cleanupTimeout: section.cleanup_timeout ?? DEFAULTS['nova.cleanup_timeout'],
  };
}

function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Relative entries of a colon-separated path list made absolute. */
function resolvePathList(value: string, baseDir: string): string {
  return value
    .split(':')
    .map((p) => (p && !path.isAbsolute(p) ? path.resolve(baseDir, p) : p))
    .join(':');
}

function imageView(
  label: string,
  file: string,
  e: ImageEntry,
  baseDir: string,
  filenameOverride?: string,
): ImageConfig {
  const abs = (p: string) => path.resolve(baseDir, p);
  const env = { ...(e.dib?.environment_variables ?? {}) };
  if (env.ELEMENTS_PATH) env.ELEMENTS_PATH = resolvePathList(env.ELEMENTS_PATH, baseDir);
  return {
    label,
    file,
    filename: abs(filenameOverride ?? e.filename),
    ...(e.dib
      ? {
          dib: defined({
            elements: e.dib.elements,
            environmentVariables: env,
            cliOptions: e.dib.cli_options ?? [],
            minVersion: e.dib.min_version,
            maxVersion: e.dib.max_version,
          }),
        }
      : {}),
    glance: e.glance ?? {},
    nova: e.nova ?? {},
    tests: defined({
      ssh: e.tests?.ssh
        ? {
            username: e.tests.ssh.username,
            port: e.tests.ssh.port ?? DEFAULTS['tests.ssh.port'],
            hostKeyCheck: hostKeyCheck(e.tests.ssh.host_key_check),
            keyType: e.tests.ssh.key_type ?? DEFAULTS['tests.ssh.key_type'],
          }
        : undefined,
      waitForPort: e.tests?.wait_for_port,
      portWaitTimeout: e.tests?.port_wait_timeout,
      environmentName: e.tests?.environment_name,
      environmentVariables: e.tests?.environment_variables ?? {},
      passEnvironment: e.tests?.pass_environment ?? [],
      testsList: (e.tests?.tests_list ?? []).map((t): TestSpec => {
        if (t.generic !== undefined) {
          const named =
            t.generic === 'all' ? [...GENERIC_TESTS] : typeof t.generic === 'string' ? [t.generic] : t.generic;
          const generic = GENERIC_TESTS.filter((g) => named.includes(g));
          return defined({
            kind: 'generic' as const,
            path: t.generic === 'all' ? 'all' : generic.join(','),
            generic,
            timeout: t.timeout ?? DEFAULTS['tests.tests_list[].timeout'],
            stopOnFailure: t.stop_on_failure,
          });
        }
        const kind = TEST_KINDS.find((k) => t[k] !== undefined) ?? 'shell';
        const assertions = defined({
          format: t.format,
          minVirtualSizeGb: t.min_virtual_size_gb,
          maxVirtualSizeGb: t.max_virtual_size_gb,
          filesExist: t.files_exist,
        });
        return defined({
          kind,
          path: abs(t[kind] as string),
          timeout: t.timeout ?? DEFAULTS['tests.tests_list[].timeout'],
          stopOnFailure: t.stop_on_failure,
          sudo: t.sudo,
          image: Object.keys(assertions).length ? assertions : undefined,
        });
      }),
    }),
    externalBuild: (e.external_build ?? []).map((c) => c.cmdline),
    externalTests: (e.external_tests ?? []).map((c) => c.cmdline),
  };
}

function testEnvironmentView(
  label: string,
  file: string,
  e: TestEnvironmentEntry,
  baseDir: string,
): TestEnvironmentConfig {
  const n = e.nova;
  return {
    label,
    file,
    nova: defined({
      flavor: n.flavor !== undefined ? String(n.flavor) : undefined,
      flavorId: n.flavor_id !== undefined ? String(n.flavor_id) : undefined,
      nics: (n.nics ?? []).map((nic) =>
        defined({
          netId: nic.net_id,
          v4FixedIp: nic.v4_fixed_ip,
          v6FixedIp: nic.v6_fixed_ip,
          portId: nic.port_id,
          tag: nic.tag,
        }),
      ),
      mainNicRegexp: n.main_nic_regexp,
      configDrive: n.config_drive ?? DEFAULTS['nova.config_drive'],
      availabilityZone: n.availability_zone,
      userdata: n.userdata,
      userdataFile: n.userdata_file !== undefined ? path.resolve(baseDir, n.userdata_file) : undefined,
    }),
    novaTimeouts: defined({
      create_timeout: n.create_timeout,
      active_timeout: n.active_timeout,
      keypair_timeout: n.keypair_timeout,
      cleanup_timeout: n.cleanup_timeout,
    }),
    glance: e.glance ?? {},
    neutron: e.neutron ?? {},
    sslInsecure: e.ssl_insecure ?? DEFAULTS.ssl_insecure,
    ...(e.ssl_ca_path !== undefined ? { sslCaPath: path.resolve(baseDir, e.ssl_ca_path) } : {}),
    disableWarnings: e.disable_warnings ?? DEFAULTS.disable_warnings,
    tests: defined({
      portWaitTimeout: e.tests?.port_wait_timeout,
      environmentVariables: e.tests?.environment_variables ?? {},
      passEnvironment: e.tests?.pass_environment ?? [],
    }),
  };
}

function uploadEnvironmentView(
  label: string,
  file: string,
  e: UploadEnvironmentEntry,
  baseDir: string,
): UploadEnvironmentConfig {
  return {
    label,
    file,
    glance: e.glance ?? {},
    sslInsecure: e.ssl_insecure ?? DEFAULTS.ssl_insecure,
    ...(e.ssl_ca_path !== undefined ? { sslCaPath: path.resolve(baseDir, e.ssl_ca_path) } : {}),
    disableWarnings: e.disable_warnings ?? DEFAULTS.disable_warnings,
    ...(e.preprocessing
      ? {
          preprocessing: {
            cmdline: e.preprocessing.cmdline,
            outputFilename: e.preprocessing.output_filename,
            useExisting: e.preprocessing.use_existing ?? DEFAULTS['preprocessing.use_existing'],
            deleteProcessedAfterUpload:
              e.preprocessing.delete_processed_after_upload ?? DEFAULTS['preprocessing.delete_processed_after_upload'],
          },
        }
      : {}),
    externalUpload: (e.external_upload ?? []).map((c) => c.cmdline),
    hasKeystone: e.keystone !== undefined,
    retire: {
      enabled: e.retire?.enabled ?? DEFAULTS['retire.enabled'],
      checkEverySeconds: durationSeconds(e.retire?.check_every ?? DEFAULTS['retire.check_every']),
      deleteAfterSeconds: durationSeconds(e.retire?.delete_after ?? DEFAULTS['retire.delete_after']),
      keep: e.retire?.keep ?? DEFAULTS['retire.keep'],
    },
    retry: {
      attempts: e.retry?.attempts ?? DEFAULTS['retry.attempts'],
      uploadAttempts: e.retry?.upload_attempts ?? DEFAULTS['retry.upload_attempts'],
      // at least a second: a zero pause would hammer a cloud that is down
      maxIntervalSeconds: Math.max(1, durationSeconds(e.retry?.max_interval ?? DEFAULTS['retry.max_interval'])),
    },
  };
}

function lookup(kind: ConfigKind, opts: ConfigOptions): LookupOptions {
  const explicit = kind === 'images' ? opts.imagesConfig : kind === 'test' ? opts.testConfig : opts.uploadConfig;
  return { cwd: opts.cwd, systemDir: opts.systemDir, env: opts.env, explicitFile: explicit };
}

/** Loads every file of a kind (warnings go to opts.onWarning). */
export function loadKind<K extends ConfigKind>(kind: K, opts: ConfigOptions = {}): LoadedConfig<K> {
  const config = loadConfig(kind, lookup(kind, opts));
  for (const w of config.warnings) opts.onWarning?.(w);
  return config;
}

/** An image by label; `filename` replaces the configured image file (`-i/-o FILE`). */
export function loadImage(label: string, opts: ConfigOptions & { filename?: string } = {}): ImageConfig {
  const config = loadKind('images', opts);
  const entry = entryOf(config, label);
  return imageView(label, entry.file, entry.value, config.baseDir, opts.filename);
}

/**
 * An image's entry as written in images.yaml: the keys and YAML values of the
 * file that defines the label, nothing resolved or defaulted (what dibctl's
 * pytest `image_config` fixture showed).
 */
export function loadImageEntry(label: string, opts: ConfigOptions = {}): Record<string, unknown> {
  const config = loadKind('images', opts);
  const entry = entryOf(config, label);
  const data = config.sources.get(entry.file)?.data;
  const written = data && typeof data === 'object' ? (data as Record<string, unknown>)[label] : undefined;
  return structuredClone((written ?? entry.value) as Record<string, unknown>);
}

/** A test environment by label, without its credentials. */
export function loadTestEnvironment(label: string, opts: ConfigOptions = {}): TestEnvironmentConfig {
  const config = loadKind('test', opts);
  const entry = entryOf(config, label);
  return testEnvironmentView(label, entry.file, entry.value, config.baseDir);
}

/** An upload environment by label, without its credentials. */
export function loadUploadEnvironment(label: string, opts: ConfigOptions = {}): UploadEnvironmentConfig {
  const config = loadKind('upload', opts);
  const entry = entryOf(config, label);
  return uploadEnvironmentView(label, entry.file, entry.value, config.baseDir);
}

/** Image + test environment merged. The environment is `environment`, else the image's tests.environment_name. */
function testPlan(image: ImageConfig, environment: TestEnvironmentConfig): ImageTestPlan {
  const merged = mergeGlance(image.glance, environment.glance);
  const glance = glanceSettings(merged);
  return {
    image,
    environment,
    glance,
    timeouts: {
      ...novaTimeouts(mergeNovaTimeouts(image.nova, environment.novaTimeouts)),
      // a test's upload keeps dibctl's limit when none is set; 0 means none
      uploadTimeout: glance.uploadTimeout ?? (merged.upload_timeout === 0 ? 0 : DEFAULTS['glance.upload_timeout']),
      // the larger of the image's and the test environment's, as dibctl
      portWaitTimeout:
        largerTimeout(image.tests.portWaitTimeout, environment.tests.portWaitTimeout) ??
        DEFAULTS['tests.port_wait_timeout'],
    },
    environmentVariables: mergeEnvironmentVariables(
      image.tests.environmentVariables,
      environment.tests.environmentVariables,
    ),
    passEnvironment: [...new Set([...image.tests.passEnvironment, ...environment.tests.passEnvironment])],
  };
}

function uploadPlan(image: ImageConfig, environment: UploadEnvironmentConfig): ImageUploadPlan {
  return { image, environment, glance: glanceSettings(mergeGlance(image.glance, environment.glance)) };
}

/** Loads an image and its test environment (given, or the image's tests.environment_name) and merges them. */
export function loadTestPlan(
  imageLabel: string,
  opts: ConfigOptions & { environment?: string; filename?: string } = {},
): ImageTestPlan {
  const image = loadImage(imageLabel, opts);
  const envLabel = opts.environment ?? image.tests.environmentName;
  if (!envLabel)
    throw new ConfigError(
      `${image.file}: ${imageLabel}.tests.environment_name: is required to test this image (or pass --environment ENV)`,
    );
  return testPlan(image, loadTestEnvironment(envLabel, opts));
}

/** Loads an image and an upload environment and merges them. */
export function loadUploadPlan(
  imageLabel: string,
  envLabel: string,
  opts: ConfigOptions & { filename?: string } = {},
): ImageUploadPlan {
  return uploadPlan(loadImage(imageLabel, opts), loadUploadEnvironment(envLabel, opts));
}
