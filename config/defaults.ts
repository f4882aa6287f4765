/**
 * The default of every config key that has one, by its key path as written in
 * the YAML files (`tests.tests_list[].timeout`: a key of each tests_list entry).
 * The view applies these values, the schema's descriptions quote them, and the
 * Defaults table of config/README.md is written from this table by
 * scripts/config-readme.js (a test checks that the committed README matches).
 * Timeouts are seconds; durations are text that durationSeconds reads.
 */
export const DEFAULTS = {
  /** A test's upload only: `upload` and `run` have no total limit unless the key is set. */
  'glance.upload_timeout': 360,
  'glance.upload_stall_timeout': 120,
  'glance.container_format': 'bare',
  'glance.disk_format': 'qcow2',
  'glance.public': false,
  'glance.visibility': 'shared',
  'glance.min_disk': 0,
  'glance.min_ram': 0,
  'glance.protected': false,
  'nova.create_timeout': 360,
  'nova.active_timeout': 360,
  'nova.keypair_timeout': 10,
  'nova.cleanup_timeout': 60,
  'nova.config_drive': false,
  'tests.ssh.port': 22,
  'tests.ssh.host_key_check': 'console',
  'tests.ssh.key_type': 'rsa',
  'tests.port_wait_timeout': 61,
  'tests.tests_list[].timeout': 300,
  'tests.tests_list[].stop_on_failure': true,
  ssl_insecure: false,
  disable_warnings: false,
  'preprocessing.use_existing': false,
  'preprocessing.delete_processed_after_upload': true,
  'retire.enabled': true,
  'retire.check_every': '6h',
  'retire.delete_after': '0s',
  'retire.keep': 0,
  'retry.attempts': 12,
  'retry.upload_attempts': 6,
  'retry.max_interval': '30s',
} as const satisfies Record<string, number | string | boolean>;

/**
 * The bounds of every duration and timeout, in seconds. Nothing longer than
 * `maxDurationSeconds` is accepted anywhere (config keys and command-line
 * options): a timer that long could not even be shown as a date. Retirement
 * checks at most once a minute. The retirement workflow clamps the policy it
 * receives to the same bounds.
 */
export const LIMITS = {
  maxDurationSeconds: 10 * 365 * 86400,
  minCheckEverySeconds: 60,
} as const;

type DefaultKey = keyof typeof DEFAULTS;

/** A key's description for editors, ending with its default: `seconds, default 360`. */
export function withDefault(key: DefaultKey, description?: string): string {
  return description ? `${description}, default ${DEFAULTS[key]}` : `default ${DEFAULTS[key]}`;
}
