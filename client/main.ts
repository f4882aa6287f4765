/**
 * The dibctl command line. The one place that turns a typed error into an
 * exit code and a one-line message.
 *
 * Start-up stays short: the modules under `program/` define every command with
 * commander alone, and a command's own code (config, the Temporal SDK, the
 * worker) loads only when that command runs.
 */
import { Command, CommanderError } from 'commander';
import { projectVersion } from '../common/project';
import { ExitCode } from '../errors/exit-codes';
import { Cli, Register, example } from './cli';
import * as build from './program/build';
import * as test from './program/test';
import * as publish from './program/publish';
import * as transfer from './program/transfer';
import * as run from './program/run';
import * as schedule from './program/schedule';
import * as list from './program/list';
import * as status from './program/status';
import * as retirement from './program/retirement';
import * as server from './program/server';
import * as worker from './program/worker';
import * as doctor from './program/doctor';
import * as emulator from './program/emulator';
import * as demo from './program/demo';
import * as validate from './program/validate';
import * as schema from './program/schema';
import * as completion from './program/completion';
import { Output, consoleOutput } from './render';
import type { SessionMode } from './session';

/** Every command module; `HELP_GROUPS` decides where `dibctl --help` lists their commands. */
const COMMANDS: { register: Register }[] = [
  build,
  test,
  publish,
  transfer,
  run,
  schedule,
  list,
  status,
  retirement,
  server,
  worker,
  doctor,
  emulator,
  demo,
  validate,
  schema,
  completion,
];

/**
 * The top-level help in an operator's order: an image's lifecycle, then what
 * watches and steers it, the service that runs it, and the tools around it.
 * Every visible command is named once (a test holds the help to this).
 */
const HELP_GROUPS: [heading: string, commands: string[]][] = [
  [
    'Image lifecycle:',
    ['build', 'test', 'shell', 'upload', 'transfer', 'mark-obsolete', 'rotate', 'rotate-single', 'run', 'schedule'],
  ],
  ['Watch and steer:', ['keep', 'discard', 'list', 'status', 'retirement']],
  ['Run the service:', ['server', 'worker', 'doctor']],
  ['Tools:', ['emulator', 'demo', 'validate', 'schema', 'completion']],
];

/** Orders the program's commands as HELP_GROUPS lists them, under its headings; `help` ends the last group. */
function groupCommands(program: Command): void {
  const place = new Map<string, { group: string; rank: number }>();
  for (const [group, names] of HELP_GROUPS) for (const name of names) place.set(name, { group, rank: place.size });
  const rank = (c: Command) => place.get(c.name())?.rank ?? place.size;
  // commander lists subcommands in the order of this array; sorting it in place is the only way to reorder it
  (program.commands as Command[]).sort((a, b) => rank(a) - rank(b));
  for (const c of program.commands) {
    const group = place.get(c.name())?.group;
    if (group) c.helpGroup(group);
  }
  program
    .commandsGroup(HELP_GROUPS[HELP_GROUPS.length - 1][0])
    .helpCommand('help [command]', 'display help for command');
}

interface GlobalOptions {
  debug?: boolean;
  json?: boolean;
  localWorker?: boolean;
}

/** Resolves at the first SIGINT/SIGTERM: long-running commands stop cleanly on it. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** One OpenStack request or answer on stderr (the lines come redacted from the client). */
function openStackTrace(line: string): void {
  process.stderr.write(`openstack: ${line}\n`);
}

let runtimeInstalled = false;
async function installRuntime(level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'): Promise<void> {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger(level), shutdownSignals: [] });
}

export function buildProgram(result: { code: number }): Command {
  const program = new Command('dibctl');
  const globals = () => program.opts<GlobalOptions>();
  const output = (): Output => consoleOutput(Boolean(globals().json));
  let mode: Promise<SessionMode> | undefined;

  const cli: Cli = {
    async inSession(fn, needs = {}) {
      const o = output();
      const [{ withSession }, sessionMode] = await Promise.all([import('./session'), cli.sessionMode()]);
      const debug = cli.openStackTrace();
      result.code = await withSession(
        {
          mode: sessionMode,
          localWorker: globals().localWorker === false ? 'never' : 'auto',
          needsWorker: needs.needsWorker ?? true,
          note: o.err,
          // A command's in-process worker stays quiet: the command itself reports what failed.
          installRuntime: () => cli.installRuntime('ERROR'),
          ...(needs.beforeLocalWorker ? { beforeLocalWorker: needs.beforeLocalWorker } : {}),
          ...(debug ? { activityDeps: { debug } } : {}),
        },
        (s) => fn(s, o),
      );
    },
    async withoutSession(fn) {
      result.code = await fn(output());
    },
    output,
    sessionMode() {
      mode ??= import('./session').then((m) => m.sessionMode());
      return mode;
    },
    interrupted,
    installRuntime: (level) => installRuntime(globals().debug ? 'DEBUG' : level),
    openStackTrace: () => (globals().debug ? openStackTrace : undefined),
  };

  program
    .description('Build, test, publish and retire OpenStack images as durable Temporal workflows.')
    .version(projectVersion(), '--version')
    .option('--debug', 'verbose logs (secrets are never printed)')
    .option('--json', 'machine-readable output')
    .option('--no-local-worker', 'never run an in-process worker; fail if none polls the task queue')
    .showHelpAfterError('(run dibctl --help for the list of commands)')
    .addHelpText(
      'after',
      example(
        'dibctl run ubuntu-noble --upload-env region-a',
        "build, test and publish image ubuntu-noble; 'dibctl help COMMAND' tells more of each command",
      ),
    )
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  for (const command of COMMANDS) command.register(program, cli);
  groupCommands(program);
  return program;
}

/** `dibctl schedule create` for that subcommand. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Runs the CLI and returns the exit code; never throws. */
/** A reader that stops early (`dibctl --help | head`) only ends what is shown, never with a stack trace. */
function ignoreClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  ignoreClosedOutput();
  const result = { code: 0 };
  const program = buildProgram(result);
  /** The command whose action runs: a usage error it finds points to its help. */
  let running: Command | undefined;
  program.hook('preAction', (_program, command) => {
    running = command;
  });
  if (argv.length <= 2) {
    // no command at all is a usage error, as argparse has it
    program.outputHelp({ error: true });
    return ExitCode.USAGE;
  }
  try {
    await program.parseAsync(argv);
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version are exits with code 0; usage errors (unknown command or option,
      // missing or invalid argument) were printed already and exit 2, as with dibctl's argparse
      return err.exitCode === 0 ? 0 : ExitCode.USAGE;
    }
    const { DibctlError, describeError, nextStepOf } = await import('../errors');
    if (err instanceof DibctlError) {
      process.stderr.write(`Error: ${err.message}\n`);
      const next =
        err.exitCode === ExitCode.USAGE && running && !err.nextStep
          ? `'${commandPath(running)} --help' shows its options and an example`
          : nextStepOf(err);
      if (next) process.stderr.write(`Next step: ${next}\n`);
      return err.exitCode;
    }
    process.stderr.write(`Error: ${describeError(err)}\n`);
    if (program.opts<GlobalOptions>().debug && err instanceof Error && err.stack)
      process.stderr.write(err.stack + '\n');
    return ExitCode.GENERIC;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}
