/**
 * The dibctl command line. The one place that turns a typed error into an
 * exit code and a one-line message.
 */
import { Command, CommanderError } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { projectVersion } from '../common/project';
import { DibctlError, ExitCode, describeError } from '../errors';
import { Cli, Register } from './cli';
import * as doctor from './commands/doctor';
import * as status from './commands/status';
import * as server from './commands/server';
import * as worker from './commands/worker';
import * as validate from './commands/validate';
import * as schema from './commands/schema';
import * as emulator from './commands/emulator';
import * as publish from './commands/publish';
import * as build from './commands/build';
import * as test from './commands/test';
import * as retirement from './commands/retirement';
import * as run from './commands/run';
import * as transfer from './commands/transfer';
import * as list from './commands/list';
import * as schedule from './commands/schedule';
import * as demo from './commands/demo';
import * as completion from './commands/completion';
import { Output, consoleOutput } from './render';
import { withSession } from './session';

/** Every command module, in the order `dibctl --help` lists their commands. */
const COMMANDS: { register: Register }[] = [
  doctor,
  status,
  server,
  worker,
  validate,
  schema,
  emulator,
  publish,
  build,
  test,
  retirement,
  run,
  transfer,
  list,
  schedule,
  demo,
  completion,
];

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
function installRuntime(level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(level), shutdownSignals: [] });
}

export function buildProgram(result: { code: number }): Command {
  const program = new Command('dibctl');
  const globals = () => program.opts<GlobalOptions>();
  const output = (): Output => consoleOutput(Boolean(globals().json));

  const cli: Cli = {
    async inSession(fn, needsWorker = true) {
      const o = output();
      // A command's in-process worker stays quiet: the command itself reports what failed.
      cli.installRuntime('ERROR');
      const debug = cli.openStackTrace();
      result.code = await withSession(
        {
          localWorker: globals().localWorker === false ? 'never' : 'auto',
          needsWorker,
          note: o.err,
          ...(debug ? { activityDeps: { debug } } : {}),
        },
        (s) => fn(s, o),
      );
    },
    async withoutSession(fn) {
      result.code = await fn(output());
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
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  for (const command of COMMANDS) command.register(program, cli);
  return program;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  const result = { code: 0 };
  const program = buildProgram(result);
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
    if (err instanceof DibctlError) {
      process.stderr.write(`Error: ${err.message}\n`);
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
