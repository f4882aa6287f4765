/**
 * One zod schema per kind of config file, covering every key dibctl knows.
 * Sections are strict (an unknown key is an error: `min-ram` is not `min_ram`)
 * except the free-form maps `environment_variables` and `properties`.
 * Messages are written for operators: they follow `key.path:` in an error line.
 */
import { z } from 'zod';
import { DEFAULTS, LIMITS, withDefault } from './defaults';
import { DURATION_PATTERN, TOO_LONG, durationProblem, parseDuration } from './duration';
import { KEYSTONE_FIELDS, keystoneFieldOf, parseBoolean, parseIdentityVersion, parseInterface } from './keystone-keys';
import { GENERIC_TESTS, TEST_KINDS, TestKind, testKindList } from './test-kinds';
import type { ConfigKind } from './kinds';

export type { ConfigKind };

const e = (message: string) => ({ error: message });

/** Values of tests.ssh.host_key_check. */
const HOST_KEY_CHECKS = ['console', 'first-use', 'off'] as const;
/** Types of the test keypair: RSA for guests whose sshd predates ed25519 (OpenSSH < 6.5), ed25519 otherwise. */
const SSH_KEY_TYPES = ['rsa', 'ed25519'] as const;
export type SshKeyType = (typeof SSH_KEY_TYPES)[number];

const NON_NEG_INT = 'must be an integer >= 0';
const PORT = 'must be an integer from 1 to 65535';

const text = (message = 'must be a string') => z.string(e(message));
const nonEmptyText = (message = 'must be a non-empty string') => z.string(e(message)).min(1, e(message));
const bool = () => z.boolean(e('must be true or false'));
const timeout = () => z.number(e(NON_NEG_INT)).int(e(NON_NEG_INT)).min(0, e(NON_NEG_INT));
const port = () => z.number(e(PORT)).int(e(PORT)).min(1, e(PORT)).max(65535, e(PORT));
/** A time limit in whole seconds, at most the longest duration. */
const timeoutSeconds = () => timeout().max(LIMITS.maxDurationSeconds, e(TOO_LONG));
const seconds = () =>
  z
    .number(e('must be a number of seconds >= 0'))
    .min(0, e('must be a number of seconds >= 0'))
    .max(LIMITS.maxDurationSeconds, e(TOO_LONG));
const POS_SECS = 'must be an integer number of seconds >= 1';
/** A time limit of at least one second. */
const stallSeconds = () =>
  z.number(e(POS_SECS)).int(e(POS_SECS)).min(1, e(POS_SECS)).max(LIMITS.maxDurationSeconds, e(TOO_LONG));
const POS_INT = 'must be an integer >= 1';
const count = () => z.number(e(POS_INT)).int(e(POS_INT)).min(1, e(POS_INT)).max(1000, e('must be an integer <= 1000'));

const DURATION = 'must be a duration like 90s, 30m, 6h, 7d, 2w or a number of seconds';
/** `2w` and the like, only when the seconds stay an exact integer (as a number value must). */
const durationText = () =>
  z
    .string()
    .regex(DURATION_PATTERN, e(DURATION))
    .refine((s) => Number.isSafeInteger(parseDuration(s)), e(DURATION));
/** A duration: seconds, or a number with s, m, h, d or w; from minSeconds to the longest duration. */
const duration = (minSeconds = 0) =>
  z
    .union([z.number().int().min(0), durationText()], e(DURATION))
    .superRefine((value, ctx) => {
      // runs on values the union refused too: those have their message already
      const seconds: unknown = typeof value === 'string' ? parseDuration(value) : value;
      if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0) return;
      const problem = durationProblem(seconds, minSeconds);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe('a duration: 90s, 30m, 6h, 7d, 2w or seconds');

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const uuid = () => z.string(e('must be a UUID')).regex(UUID_RE, e('must be a UUID'));
const version = () =>
  z.string(e('must be a version X.Y.Z (quote it)')).regex(/^\d+\.\d+\.\d+$/, e('must be a version X.Y.Z'));
const url = () =>
  z.string(e('must be an http(s) URL')).refine((s) => {
    try {
      return ['http:', 'https:'].includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, e('must be an http(s) URL'));

/** Environment variables: names to string values (quote numbers: `DIB_RELEASE: "7"`). */
const environmentVariablesSchema = z
  .record(z.string(), z.string(e('must be a string (quote the value)')), e('must be a mapping of names to strings'))
  .describe('environment variables: names to string values');

/** Names of the worker's variables a test process may see; `NAME*` passes every name with that prefix. */
const passEnvironmentSchema = z
  .array(
    z
      .string(e('must be a variable name'))
      .regex(/^([A-Za-z_][A-Za-z0-9_]*\*?|\*)$/, e('must be a variable name, a prefix ending in *, or *')),
    e('must be a list of variable names'),
  )
  .describe("names of the worker's environment variables passed to tests (NAME* for a prefix, * for all)");

function uniqueStrings(min: number, itemMessage = 'must be a string') {
  const listMessage =
    min > 0 ? `must be a list of at least ${min} string${min > 1 ? 's' : ''}` : 'must be a list of strings';
  return z
    .array(
      nonEmptyText(itemMessage === 'must be a string' ? 'must be a non-empty string' : itemMessage),
      e(listMessage),
    )
    .min(min, e(listMessage))
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((item, i) => {
        if (seen.has(item)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate entry '${item}'` });
        seen.add(item);
      });
    });
}

const cmdlineList = () =>
  z.array(
    z.strictObject({ cmdline: nonEmptyText('must be a non-empty command line') }, e('must be a mapping with cmdline')),
    e('must be a list of {cmdline: ...}'),
  );

/** The glance section, shared by all three kinds. */
const glanceSchema = z.strictObject(
  {
    api_version: z
      .union([z.literal(1), z.literal(2)], e('must be 1 or 2'))
      .optional()
      .describe('Glance API version (the client speaks v2)'),
    name: nonEmptyText().optional().describe('image name in Glance'),
    upload_timeout: timeoutSeconds()
      .optional()
      .describe(
        `seconds per upload attempt, 0 for none; a test's upload defaults to ${DEFAULTS['glance.upload_timeout']}, upload and run have none`,
      ),
    upload_stall_timeout: stallSeconds()
      .optional()
      .describe(withDefault('glance.upload_stall_timeout', 'seconds an upload may go without moving data')),
    properties: z
      .record(
        z.string(),
        z.union([z.string(), z.number(), z.boolean()], e('must be a string, number or boolean')),
        e('must be a mapping'),
      )
      .optional()
      .describe('image properties, sent as strings'),
    tags: z.array(nonEmptyText(), e('must be a list of strings')).optional(),
    container_format: nonEmptyText().optional().describe(withDefault('glance.container_format')),
    disk_format: nonEmptyText().optional().describe(withDefault('glance.disk_format')),
    endpoint: url().optional().describe('Glance URL overriding the catalog'),
    public: bool().optional().describe(withDefault('glance.public', 'visibility public, else glance.visibility')),
    visibility: z
      .enum(['shared', 'private', 'community', 'public'], e('must be shared, private, community or public'))
      .optional()
      .describe(withDefault('glance.visibility', 'visibility when public is not true')),
    min_disk: timeout().optional().describe(withDefault('glance.min_disk', 'GiB')),
    min_ram: timeout().optional().describe(withDefault('glance.min_ram', 'MiB')),
    protected: bool().optional().describe(withDefault('glance.protected')),
    share_with: z
      .array(nonEmptyText(), e('must be a list of project names or ids'))
      .optional()
      .describe('projects that become image members'),
  },
  e('must be a mapping'),
);

const novaTimeouts = {
  create_timeout: timeoutSeconds()
    .optional()
    .describe(withDefault('nova.create_timeout', 'seconds for the create request')),
  active_timeout: timeoutSeconds().optional().describe(withDefault('nova.active_timeout', 'seconds until ACTIVE')),
  keypair_timeout: timeoutSeconds().optional().describe(withDefault('nova.keypair_timeout', 'seconds')),
  cleanup_timeout: timeoutSeconds()
    .optional()
    .describe(withDefault('nova.cleanup_timeout', 'seconds per cleanup step')),
};

/** What each test kind runs. */
const TEST_KIND_DESCRIPTIONS: Record<TestKind, string> = {
  shell: 'executable file or directory of them, run outside the instance',
  pytest: 'pytest file or directory',
  ssh: 'script run inside the instance over SSH',
  image: 'passive check of the image file',
  ts: 'TypeScript/JavaScript test file or directory, run by jest',
};

const testPath = (kind: TestKind) => nonEmptyText('must be a path').optional().describe(TEST_KIND_DESCRIPTIONS[kind]);
/** One optional path key per test kind, in TEST_KINDS order. */
const testPaths = Object.fromEntries(TEST_KINDS.map((kind) => [kind, testPath(kind)])) as Record<
  TestKind,
  ReturnType<typeof testPath>
>;

const genericName = z.enum(GENERIC_TESTS, e(`must be all or one of ${GENERIC_TESTS.join(', ')}`));
const genericSchema = z
  .union(
    [z.literal('all'), genericName, z.array(genericName, e('must be a list of generic test names')).min(1)],
    e(`must be all, a name or a list of names of ${GENERIC_TESTS.join(', ')}`),
  )
  .describe("dibctl's generic tests run on the instance: all, or some of their names");

const testEntrySchema = z
  .strictObject(
    {
      ...testPaths,
      generic: genericSchema.optional(),
      timeout: timeoutSeconds()
        .optional()
        .describe(withDefault('tests.tests_list[].timeout', 'seconds for this entry')),
      stop_on_failure: bool()
        .optional()
        .describe(withDefault('tests.tests_list[].stop_on_failure', 'stop at the first failing test of the entry')),
      sudo: bool().optional().describe('ssh: run the script with sudo'),
      format: nonEmptyText().optional().describe('image: the format qemu-img must report (qcow2, raw, ...)'),
      min_virtual_size_gb: z
        .number(e('must be a number of GiB >= 0'))
        .min(0, e('must be a number of GiB >= 0'))
        .optional()
        .describe('image: smallest virtual size, GiB'),
      max_virtual_size_gb: z
        .number(e('must be a number of GiB >= 0'))
        .min(0, e('must be a number of GiB >= 0'))
        .optional()
        .describe('image: largest virtual size, GiB'),
      files_exist: z
        .array(nonEmptyText('must be an absolute path'), e('must be a list of paths'))
        .optional()
        .describe('image: files that must exist inside (needs libguestfs)'),
    },
    e('must be a mapping like {shell: PATH}'),
  )
  .superRefine((entry, ctx) => {
    const kinds = [...TEST_KINDS, 'generic' as const].filter((k) => entry[k] !== undefined);
    if (kinds.length === 0) ctx.addIssue({ code: 'custom', message: `needs one of ${testKindList()} or generic` });
    if (kinds.length > 1)
      ctx.addIssue({
        code: 'custom',
        path: [kinds[1]],
        message: `use one test kind per entry (${kinds.join(' and ')} given)`,
      });
    if (entry.sudo !== undefined && entry.ssh === undefined)
      ctx.addIssue({ code: 'custom', path: ['sudo'], message: 'only an ssh entry runs with sudo' });
    for (const key of ['format', 'min_virtual_size_gb', 'max_virtual_size_gb', 'files_exist'] as const) {
      if (entry[key] !== undefined && entry.image === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'is a check of an image entry' });
    }
  });

const imageEntrySchema = z.strictObject(
  {
    filename: nonEmptyText('must be a path').describe('image file: build output, test and upload input'),
    dib: z
      .strictObject(
        {
          elements: uniqueStrings(1),
          environment_variables: environmentVariablesSchema.optional(),
          cli_options: uniqueStrings(0).optional(),
          min_version: version().optional(),
          max_version: version().optional(),
        },
        e('must be a mapping'),
      )
      .optional(),
    glance: glanceSchema.optional(),
    nova: z.strictObject(novaTimeouts, e('must be a mapping')).optional(),
    tests: z
      .strictObject(
        {
          ssh: z
            .strictObject(
              {
                username: nonEmptyText(),
                port: port().optional().describe(withDefault('tests.ssh.port')),
                // YAML 1.1 reads an unquoted `off` (or `no`) as false and `on`/`yes` as true
                host_key_check: z
                  .union([z.enum(HOST_KEY_CHECKS), z.boolean()], e(`must be one of ${HOST_KEY_CHECKS.join(', ')}`))
                  .optional()
                  .describe(
                    withDefault(
                      'tests.ssh.host_key_check',
                      "how the instance's SSH host key is checked: console (the keys its console log prints, else the first key presented), first-use (the first key presented), off or false (not checked)",
                    ),
                  ),
                key_type: z
                  .enum(SSH_KEY_TYPES, e(`must be one of: ${SSH_KEY_TYPES.join(', ')}`))
                  .optional()
                  .describe(withDefault('tests.ssh.key_type', 'type of the test keypair dibctl makes')),
              },
              e('must be a mapping'),
            )
            .optional(),
          wait_for_port: port().optional(),
          port_wait_timeout: seconds().optional().describe(withDefault('tests.port_wait_timeout', 'seconds')),
          environment_name: nonEmptyText('must be a test environment label').optional(),
          environment_variables: environmentVariablesSchema.optional(),
          pass_environment: passEnvironmentSchema.optional(),
          tests_list: z.array(testEntrySchema, e('must be a list of tests')).optional(),
        },
        e('must be a mapping'),
      )
      .optional(),
    external_build: cmdlineList().optional(),
    external_tests: cmdlineList().optional(),
  },
  e('must be a mapping'),
);

/** Keystone section: aliases matched case-insensitively, every value checked for its field. */
export const keystoneSchema = z
  .record(z.string(), z.unknown(), e('must be a mapping'))
  .superRefine((section, ctx) => {
    const seen = new Map<string, string>();
    for (const [key, value] of Object.entries(section)) {
      const field = keystoneFieldOf(key);
      if (!field) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'unknown keystone key', params: { unknownKey: true } });
        continue;
      }
      const other = seen.get(field);
      if (other !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `sets the same value as '${other}'; keep one` });
      seen.set(field, key);
      const spec = KEYSTONE_FIELDS[field];
      let ok: boolean;
      let expected: string;
      switch (spec.kind) {
        case 'boolean':
          ok = typeof value === 'boolean' || (typeof value === 'string' && parseBoolean(value) !== undefined);
          expected = 'must be true or false';
          break;
        case 'version':
          ok = (typeof value === 'number' || typeof value === 'string') && parseIdentityVersion(value) !== undefined;
          expected = 'must be 2 or 3';
          break;
        case 'interface':
          ok = typeof value === 'string' && parseInterface(value) !== undefined;
          expected = 'must be public, internal or admin';
          break;
        default:
          ok = (typeof value === 'string' && value.length > 0) || (typeof value === 'number' && Number.isFinite(value));
          expected = 'must be a non-empty string';
      }
      if (!ok) ctx.addIssue({ code: 'custom', path: [key], message: expected });
    }
  })
  .describe('credentials; OS_* environment variables override them');

const tlsKeys = {
  ssl_insecure: bool().optional().describe(withDefault('ssl_insecure', 'do not verify TLS certificates')),
  ssl_ca_path: nonEmptyText('must be a path').optional().describe('CA bundle file or directory'),
  disable_warnings: bool().optional().describe(withDefault('disable_warnings')),
};

const nicSchema = z.strictObject(
  {
    net_id: uuid(),
    v4_fixed_ip: z.ipv4(e('must be an IPv4 address')).optional(),
    v6_fixed_ip: z.ipv6(e('must be an IPv6 address')).optional(),
    port_id: uuid().optional(),
    tag: nonEmptyText().optional(),
  },
  e('must be a mapping with net_id'),
);

const regexp = () =>
  z.string(e('must be a regular expression')).refine((s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  }, e('must be a valid regular expression'));

const flavorValue = () => z.union([nonEmptyText(), z.number().int().min(0)], e('must be a flavor id or name'));

const testEnvironmentSchema = z.strictObject(
  {
    keystone: keystoneSchema,
    nova: z
      .strictObject(
        {
          flavor: flavorValue().optional().describe('tried as an id, then as a name'),
          flavor_id: flavorValue().optional().describe('flavor id only'),
          nics: z
            .array(nicSchema, e('must be a list of {net_id: UUID}'))
            .min(1, e('must list at least one nic'))
            .optional(),
          main_nic_regexp: regexp().optional().describe('network name regexp choosing the main IP'),
          config_drive: bool().optional().describe(withDefault('nova.config_drive')),
          availability_zone: nonEmptyText().optional(),
          userdata: text().optional(),
          userdata_file: nonEmptyText('must be a path').optional(),
          ...novaTimeouts,
        },
        e('must be a mapping'),
      )
      .superRefine((nova, ctx) => {
        if (nova.flavor !== undefined && nova.flavor_id !== undefined)
          ctx.addIssue({ code: 'custom', path: ['flavor_id'], message: 'use either flavor or flavor_id, not both' });
        if (nova.flavor === undefined && nova.flavor_id === undefined)
          ctx.addIssue({ code: 'custom', message: 'needs flavor or flavor_id' });
        if (nova.userdata !== undefined && nova.userdata_file !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['userdata_file'],
            message: 'use either userdata or userdata_file, not both',
          });
      }),
    glance: glanceSchema.optional(),
    neutron: z.record(z.string(), z.unknown(), e('must be a mapping')).optional().describe('reserved'),
    ...tlsKeys,
    tests: z
      .strictObject(
        {
          port_wait_timeout: seconds().optional(),
          environment_variables: environmentVariablesSchema.optional(),
          pass_environment: passEnvironmentSchema.optional(),
        },
        e('must be a mapping'),
      )
      .optional(),
  },
  e('must be a mapping'),
);

/** An optional section of strictly known keys. */
const optionalSection = <T extends z.ZodRawShape>(description: string, shape: T) =>
  z.strictObject(shape, e('must be a mapping')).optional().describe(description);

const uploadEnvironmentSchema = z
  .strictObject(
    {
      // an environment that publishes only through external_upload commands needs none (dibctl's example has one)
      keystone: keystoneSchema.optional(),
      glance: glanceSchema.optional(),
      ...tlsKeys,
      preprocessing: z
        .strictObject(
          {
            cmdline: nonEmptyText('must be a non-empty command line'),
            output_filename: nonEmptyText('must be a file name pattern'),
            use_existing: bool()
              .optional()
              .describe(withDefault('preprocessing.use_existing', 'skip the command when the output exists')),
            delete_processed_after_upload: bool()
              .optional()
              .describe(withDefault('preprocessing.delete_processed_after_upload')),
          },
          e('must be a mapping'),
        )
        .optional(),
      external_upload: cmdlineList().optional().describe('commands replacing the native upload'),
      retire: optionalSection('when obsolete images are deleted once unused', {
        enabled: bool()
          .optional()
          .describe(withDefault('retire.enabled', 'false: obsolete images wait for rotate, as dibctl')),
        check_every: duration(LIMITS.minCheckEverySeconds)
          .optional()
          .describe(withDefault('retire.check_every', 'how often the retirement workflow checks')),
        delete_after: duration()
          .optional()
          .describe(withDefault('retire.delete_after', 'how long an obsolete image is kept at least')),
        keep: timeout()
          .optional()
          .describe(withDefault('retire.keep', 'newest obsolete copies of each name never deleted')),
      }),
      retry: optionalSection('how long publishing rides out a cloud that is unreachable or answers 5xx, 409 or 429', {
        attempts: count()
          .optional()
          .describe(withDefault('retry.attempts', 'attempts of a short cloud step (obsolete, share, survey, delete)')),
        upload_attempts: count().optional().describe(withDefault('retry.upload_attempts', 'attempts of an upload')),
        max_interval: duration()
          .optional()
          .describe(withDefault('retry.max_interval', 'longest pause between two attempts')),
      }),
    },
    e('must be a mapping'),
  )
  .superRefine((entry, ctx) => {
    if (entry.keystone === undefined && !entry.external_upload?.length)
      ctx.addIssue({
        code: 'custom',
        path: ['keystone'],
        message: 'is required (only an environment that publishes with external_upload alone may leave it out)',
      });
  });

export type GlanceSection = z.infer<typeof glanceSchema>;
export type ImageEntry = z.infer<typeof imageEntrySchema>;
export type TestEnvironmentEntry = z.infer<typeof testEnvironmentSchema>;
export type UploadEnvironmentEntry = z.infer<typeof uploadEnvironmentSchema>;
export type NovaTimeoutsSection = Partial<Record<keyof typeof novaTimeouts, number>>;

export interface KindEntry {
  images: ImageEntry;
  test: TestEnvironmentEntry;
  upload: UploadEnvironmentEntry;
}

export const ENTRY_SCHEMAS = {
  images: imageEntrySchema,
  test: testEnvironmentSchema,
  upload: uploadEnvironmentSchema,
} as const;
