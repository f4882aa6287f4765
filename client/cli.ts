/**
 * What a command module needs to register itself on the program: the `Cli`
 * its actions run through, and the option groups that several commands share,
 * each declared once here so that every command spells them the same way.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { CONFIG_KINDS, ConfigKind } from '../config/kinds';
import type { Output } from './render';
import type { Session, SessionMode } from './session';

/** What a command's session needs besides Temporal. */
export interface SessionNeeds {
  /** False for commands that only read (status, schedules): no worker is started or required. */
  needsWorker?: boolean;
  /** Called right before a worker starts in this process: a check only such a worker needs throws here. */
  beforeLocalWorker?: () => void;
}

/**
 * What the program gives a command's action; whatever the action resolves to is the exit code.
 * An action checks what the operator can get wrong (options, config, labels, credentials)
 * before it asks for a session, so those errors come before anything reaches Temporal.
 */
export interface Cli {
  /** Runs fn in a Temporal session, with an in-process worker when none polls (unless needs.needsWorker is false). */
  inSession(fn: (s: Session, o: Output) => Promise<number>, needs?: SessionNeeds): Promise<void>;
  /** Runs fn without a Temporal session. */
  withoutSession(fn: (o: Output) => Promise<number>): Promise<void>;
  /** Where output goes (--json or text): for what an action prints before its session. */
  output(): Output;
  /**
   * Where a session of this command would run (configured, local or embedded), decided
   * without contacting Temporal: an embedded session always runs its worker in this process.
   */
  sessionMode(): Promise<SessionMode>;
  /** Resolves at the first SIGINT/SIGTERM: long-running commands stop cleanly on it. */
  interrupted(): Promise<void>;
  /** Installs the Temporal runtime logging at level (DEBUG with --debug); later calls do nothing. */
  installRuntime(level: 'INFO' | 'ERROR'): Promise<void>;
  /**
   * With --debug: where OpenStack requests made in this process (the CLI's own
   * and its in-process worker's) are traced, one line each on stderr, secrets redacted.
   */
  openStackTrace(): ((line: string) => void) | undefined;
}

/** Each module under `commands/` exports one: it adds its command(s) to the program. */
export type Register = (program: Command, cli: Cli) => void;

/**
 * The text that ends a command's `--help` (`.addHelpText('after', example(...))`):
 * one realistic command line and what it does, the same shape for every command.
 */
export function example(commandLine: string, whatItDoes: string): string {
  return `\nExample:\n  $ ${commandLine}\n    ${whatItDoes}`;
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const CONFIG_FILE_FLAGS: Record<ConfigKind, string> = {
  images: '--images-config <file>',
  test: '--test-config <file>',
  upload: '--upload-config <file>',
};

/**
 * `--images-config`, `--test-config` and `--upload-config`, those of kinds,
 * always in this order; they give `imagesConfig`, `testConfig`, `uploadConfig`.
 */
export function configFileOptions<C extends Command>(cmd: C, ...kinds: ConfigKind[]): C {
  for (const kind of CONFIG_KINDS) {
    if (kinds.includes(kind)) cmd.option(CONFIG_FILE_FLAGS[kind], `use this ${kind} config alone`);
  }
  return cmd;
}

/** `-i, --input <file>`: the image file a command reads instead of the configured one. */
export function imageFileOption(): Option {
  return new Option('-i, --input <file>', 'image file (default: the configured filename)');
}

/** Where and how `test` and `shell` prepare the instance, and what they keep when it fails. */
export function testEnvironmentOptions<C extends Command>(cmd: C): C {
  cmd
    .option('--environment <env>', "test environment label (default: the image's tests.environment_name)")
    .option('--use-existing-image <uuid>', 'test this Glance image instead of uploading the file (never deleted)')
    .option('--use-existing-instance <uuid>', 'use this running instance instead of booting one (never deleted)')
    .option('--private-key-file <file>', 'private key the existing instance accepts')
    .option('--keep-failed-image', 'keep the test image when the test fails')
    .option(
      '--keep-failed-instance',
      'hold the instance and key when the test fails, until dibctl keep/discard or the hold limit',
    )
    .addOption(
      new Option('--hold-limit <seconds>', 'how long a held instance waits for keep/discard (default 86400)').argParser(
        parseSeconds,
      ),
    );
  return configFileOptions(cmd, 'images', 'test');
}

/** What an image lifecycle does and where it publishes: `run` and `schedule create`. */
export function lifecycleOptions<C extends Command>(cmd: C): C {
  cmd
    .option(
      '--upload-env <env>',
      'upload environment to publish to (repeat for several, published in parallel)',
      collect,
      [],
    )
    .addOption(imageFileOption())
    .option('--no-build', 'use the existing image file instead of building it')
    .option('--no-test', 'publish without testing first')
    .option('--environment <env>', "test environment (default: the image's tests.environment_name)");
  return configFileOptions(cmd, 'images', 'test', 'upload');
}
