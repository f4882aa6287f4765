/**
 * The dibctl command line. The one place that turns a typed error into an
 * exit code and a one-line message.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { projectVersion } from '../common/project';
import { DibctlError, ExitCode, describeError } from '../errors';
import { doctor } from './commands/doctor';
import { schema } from './commands/schema';
import { server } from './commands/server';
import { status } from './commands/status';
import { validate } from './commands/validate';
import { worker } from './commands/worker';
import { emulator } from './commands/emulator';
import { markObsolete, rotate, upload } from './commands/publish';
import { retirement } from './commands/retirement';
import { run } from './commands/run';
import { list } from './commands/list';
import { transfer } from './commands/transfer';
import { scheduleAct, scheduleCreate, scheduleDescribe, scheduleList } from './commands/schedule';
import { BuildOptions, build } from './commands/build';
import { TestOptions, decide, imageTest } from './commands/test';
import { demo } from './commands/demo';
import { Output, consoleOutput } from './render';
import { Session, withSession } from './session';


interface GlobalOptions {
  debug?: boolean;
  json?: boolean;
  localWorker?: boolean;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('must be a whole number from 1 to 100');
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number (1-65535)');
  return n;
}

/** Resolves at the first SIGINT/SIGTERM: long-running commands stop cleanly on it. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
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

  async function inSession(fn: (s: Session, o: Output) => Promise<number>, needsWorker = true): Promise<void> {
    const o = output();
    // A command's in-process worker stays quiet: the command itself reports what failed.
    installRuntime(globals().debug ? 'DEBUG' : 'ERROR');
    result.code = await withSession(
      { localWorker: globals().localWorker === false ? 'never' : 'auto', needsWorker, note: o.err },
      (s) => fn(s, o),
    );
  }

  program
    .description('Build, test, publish and retire OpenStack images as durable Temporal workflows.')
    .version(projectVersion(), '--version')
    .option('--debug', 'verbose logs (secrets are never printed)')
    .option('--json', 'machine-readable output')
    .option('--no-local-worker', 'never run an in-process worker; fail if none polls the task queue')
    .showHelpAfterError('(run dibctl --help for the list of commands)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('doctor')
    .description('run a workflow that checks what image lifecycles need on the worker host')
    .option('--image-dir <dir>', 'directory where image files are built', '.')
    .action(async (opts: { imageDir: string }) => inSession((s, o) => doctor(s, opts, o)));

  program
    .command('status')
    .description('show the state and current stage of a workflow')
    .argument('<workflow-id>')
    .action(async (id: string) => inSession((s, o) => status(s, id, o), false));

  program
    .command('server')
    .description('run a local Temporal server whose state persists under the state directory, with the Web UI')
    .option('--ip <ip>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'frontend port').default(7233).argParser(parsePort))
    .addOption(new Option('--ui-port <port>', 'Web UI port (default: port + 1000)').argParser(parsePort))
    .option('--db-filename <file>', 'SQLite file holding the server state')
    .option('--headless', 'no Web UI')
    .action(async (opts) => {
      result.code = await server(opts, output(), interrupted());
    });

  program
    .command('worker')
    .description('run a dibctl worker against the configured Temporal server (TEMPORAL_ADDRESS, ...)')
    .option('--task-queue <name>', 'shared task queue', 'dibctl')
    .action(async (opts: { taskQueue: string }) => {
      installRuntime(globals().debug ? 'DEBUG' : 'INFO');
      result.code = await worker(opts, output(), interrupted());
    });

  program
    .command('validate')
    .description('load and validate every config file (or the given ones); with image labels, only those images')
    .argument('[image-labels...]')
    .option('--images-config <file>', 'use this images config alone')
    .option('--test-config <file>', 'use this test config alone')
    .option('--upload-config <file>', 'use this upload config alone')
    .option('--credentials', "also resolve each environment's credentials (names the OS_* variables used, never values)")
    .action(async (labels: string[], opts: { imagesConfig?: string; testConfig?: string; uploadConfig?: string; credentials?: boolean }) => {
      result.code = await validate(labels, opts, output());
    });

  program
    .command('schema')
    .description('print the JSON Schema of a config kind (images, test, upload), or of all three')
    .addArgument(new Argument('[kind]').choices(['images', 'test', 'upload']))
    .option('--out-dir <dir>', 'write <kind>.schema.json files there')
    .action(async (kind: 'images' | 'test' | 'upload' | undefined, opts: { outDir?: string }) => {
      result.code = await schema(kind, opts, output());
    });

  program
    .command('emulator')
    .description('run a local OpenStack emulator (Keystone, Glance, Nova, Neutron; servers reachable over SSH) until Ctrl-C')
    .option('--host <ip>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'API port').default(5000).argParser(parsePort))
    .option('--regions <names>', 'comma-separated region names', 'RegionOne,RegionTwo')
    .option('--state-file <file>', 'keep the cloud state in this JSON file across restarts')
    .option('--data-dir <dir>', 'where image data and server directories live (default: next to the state file, or temporary)')
    .addOption(new Option('--token-ttl <seconds>', 'token lifetime').default(3600).argParser((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive number of seconds');
      return n;
    }))
    .addOption(new Option('--ssh-port <port>', 'port the servers answer SSH on (default 22 as root)').argParser(parsePort))
    .action(async (opts) => {
      result.code = await emulator(opts, output(), interrupted());
    });

  program
    .command('upload')
    .description('upload an image to an upload environment, then mark older same-named images obsolete')
    .argument('<label>', 'image label')
    .argument('<env>', 'upload environment label')
    .option('-i, --input <file>', 'image file (default: the configured filename)')
    .option('--no-obsolete', 'do not mark older images with the same name obsolete')
    .option('--images-config <file>', 'use this images config alone')
    .option('--upload-config <file>', 'use this upload config alone')
    .action(async (label: string, env: string, opts: { input?: string; obsolete: boolean; imagesConfig?: string; uploadConfig?: string }) =>
      inSession((s, o) => upload(s, label, env, opts, o)),
    );

  program
    .command('mark-obsolete')
    .description("rename an image 'Obsolete <name>', set obsolete=true and hand it to the environment's retirement")
    .argument('<env>', 'upload environment label')
    .argument('<uuid>', 'image id')
    .option('--upload-config <file>', 'use this upload config alone')
    .action(async (env: string, uuid: string, opts: { uploadConfig?: string }) => inSession((s, o) => markObsolete(s, env, uuid, opts, o)));

  program
    .command('rotate')
    .description('delete every obsolete image of the environment that no server in any project uses')
    .argument('<env>', 'upload environment label')
    .option('--dry-run', 'only list what would be removed')
    .option('--upload-config <file>', 'use this upload config alone')
    .action(async (env: string, opts: { dryRun?: boolean; uploadConfig?: string }) => inSession((s, o) => rotate(s, env, undefined, opts, o)));

  program
    .command('rotate-single')
    .description("like rotate, only for the obsolete copies of one image's name")
    .argument('<env>', 'upload environment label')
    .argument('<label>', 'image label')
    .option('--dry-run', 'only list what would be removed')
    .option('--images-config <file>', 'use this images config alone')
    .option('--upload-config <file>', 'use this upload config alone')
    .action(async (env: string, label: string, opts: { dryRun?: boolean; imagesConfig?: string; uploadConfig?: string }) =>
      inSession((s, o) => rotate(s, env, label, opts, o)),
    );

  program
    .command('build')
    .description('build the image with diskimage-builder (and external_build) on this host')
    .argument('<label>', 'image label')
    .option('-o, --output <file>', 'image file to produce (default: the configured filename)')
    .option('--images-config <file>', 'use this images config alone')
    .action(async (label: string, opts: BuildOptions) => inSession((s, o) => build(s, label, opts, o, interrupted())));

  const parseSeconds = (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds');
    return n;
  };
  const testOptions = (cmd: Command) =>
    cmd
      .option('--environment <env>', "test environment label (default: the image's tests.environment_name)")
      .option('--use-existing-image <uuid>', 'test this Glance image instead of uploading the file (never deleted)')
      .option('--use-existing-instance <uuid>', 'use this running instance instead of booting one (never deleted)')
      .option('--private-key-file <file>', 'private key the existing instance accepts')
      .option('--keep-failed-image', 'keep the test image when the test fails')
      .option('--keep-failed-instance', 'hold the instance and key when the test fails, until dibctl keep/discard or the hold limit')
      .addOption(new Option('--hold-limit <seconds>', 'how long a held instance waits for keep/discard (default 86400)').argParser(parseSeconds))
      .option('--images-config <file>', 'use this images config alone')
      .option('--test-config <file>', 'use this test config alone');

  testOptions(
    program
      .command('test')
      .description('upload a test copy of the image, boot it, run its tests, and remove everything (unless kept)')
      .argument('<label>', 'image label')
      .option('-i, --input <file>', 'image file (default: the configured filename)')
      .option('--upload-only', 'upload the test image and stop (the image is kept)')
      .option('--shell', 'on failure, open an SSH shell on the instance (exit 42 keeps it)'),
  ).action(async (label: string, opts: TestOptions) => inSession((s, o) => imageTest(s, label, opts, o, interrupted(), 'test')));

  testOptions(
    program
      .command('shell')
      .description('prepare an instance of the image and open an SSH shell on it, no tests (exit 42 keeps it)')
      .argument('<label>', 'image label')
      .option('-i, --input <file>', 'image file (default: the configured filename)'),
  ).action(async (label: string, opts: TestOptions) => inSession((s, o) => imageTest(s, label, opts, o, interrupted(), 'shell')));

  program
    .command('keep')
    .description('keep the instance, key and image a test holds (or ask a running test to hold them if it fails)')
    .argument('<workflow-id>')
    .action(async (id: string) => inSession((s, o) => decide(s, id, 'keep', o)));

  program
    .command('discard')
    .description('remove what a held test keeps now (or ask a running test to clean up even if it fails)')
    .argument('<workflow-id>')
    .action(async (id: string) => inSession((s, o) => decide(s, id, 'discard', o)));

  program
    .command('retirement')
    .description("show what the environment's retirement workflow holds and why each image is kept")
    .argument('<env>', 'upload environment label')
    .option('--check-now', 'wake it (starting it if needed), wait for the check and show the outcome')
    .option('--upload-config <file>', 'use this upload config alone')
    .action(async (env: string, opts: { checkNow?: boolean; uploadConfig?: string }) => inSession((s, o) => retirement(s, env, opts, o)));

  const collect = (value: string, previous: string[]) => [...previous, value];
  const lifecycleOptions = (cmd: Command) =>
    cmd
      .option('--upload-env <env>', 'upload environment to publish to (repeat for several, published in parallel)', collect, [])
      .option('-i, --input <file>', 'image file (default: the configured filename)')
      .option('--no-build', 'use the existing image file instead of building it')
      .option('--no-test', 'publish without testing first')
      .option('--environment <env>', "test environment (default: the image's tests.environment_name)")
      .option('--images-config <file>', 'use this images config alone')
      .option('--test-config <file>', 'use this test config alone')
      .option('--upload-config <file>', 'use this upload config alone');

  lifecycleOptions(
    program
      .command('run')
      .description('build, test and publish an image to every upload environment in parallel, obsoleting older copies')
      .argument('<label>', 'image label'),
  ).action(async (label: string, opts) => inSession((s, o) => run(s, label, opts, o)));

  program
    .command('transfer')
    .description('copy an image between clouds (streamed), keeping properties, tags, visibility and members')
    .argument('<uuid>', 'image id in the source cloud')
    .option('--src-env <env>', 'source: upload environment label')
    .option('--src-cloud <name>', 'source: clouds.yaml cloud')
    .option('--dst-env <env>', 'destination: upload environment label')
    .option('--dst-cloud <name>', 'destination: clouds.yaml cloud')
    .option('--ignore-meta', 'copy only name, formats and data (private, no properties or tags)')
    .option('--ignore-membership', 'do not share with the source image members')
    .option('--upload-config <file>', 'use this upload config alone')
    .action(async (uuid: string, opts) => inSession((s, o) => transfer(s, uuid, opts, o)));

  program
    .command('list')
    .description('list image lifecycles (newest first) with the stage of running ones')
    .option('--label <label>', 'only this image')
    .option('--environment <env>', 'only those publishing to this upload environment')
    .option('--running', 'only running ones')
    .option('--limit <n>', 'at most this many', '20')
    .action(async (opts: { label?: string; environment?: string; running?: boolean; limit: string }) => inSession((s, o) => list(s, opts, o), false));

  const schedule = program.command('schedule').description('periodic image lifecycles as Temporal Schedules');
  lifecycleOptions(
    schedule
      .command('create')
      .description('create a schedule that runs the lifecycle of an image (--every 7d or --cron "0 3 * * 1")')
      .argument('<label>', 'image label')
      .option('--every <duration>', 'interval: 90s, 30m, 6h, 7d, 2w')
      .option('--cron <expression>', 'cron expression (UTC)')
      .option('--id <schedule-id>', 'schedule id (default dibctl-LABEL)')
      .option('--overlap <policy>', 'when a run is due while one runs: skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all', 'skip')
      .option('--catchup-window <duration>', 'runs missed while the server was down are made up within this window', '1d')
      .option('--paused', 'create it paused'),
  ).action(async (label: string, opts) => inSession((s, o) => scheduleCreate(s, label, opts, o), false));
  schedule
    .command('list')
    .description('list image schedules')
    .action(async () => inSession((s, o) => scheduleList(s, o), false));
  schedule
    .command('describe')
    .description('show a schedule: timing, policies, recent and next runs')
    .argument('<schedule-id>')
    .action(async (id: string) => inSession((s, o) => scheduleDescribe(s, id, o), false));
  for (const action of ['pause', 'unpause'] as const) {
    schedule
      .command(action)
      .description(`${action} a schedule`)
      .argument('<schedule-id>')
      .option('--note <text>', 'why (shown by describe)')
      .action(async (id: string, opts: { note?: string }) => inSession((s, o) => scheduleAct(s, action, id, o, opts.note), false));
  }
  schedule
    .command('trigger')
    .description('start a run now (skipped if one runs and the overlap policy is skip)')
    .argument('<schedule-id>')
    .action(async (id: string) => inSession((s, o) => scheduleAct(s, 'trigger', id, o), false));
  schedule
    .command('delete')
    .description('delete a schedule (running lifecycles go on)')
    .argument('<schedule-id>')
    .action(async (id: string) => inSession((s, o) => scheduleAct(s, 'delete', id, o), false));

  program
    .command('demo')
    .description('the whole lifecycle with nothing to configure: the bundled OpenStack emulator, build, test over SSH, publish to two regions')
    .option('--dir <dir>', 'where the demo writes its configs, tests and image (default: under the state directory)')
    .addOption(new Option('--runs <n>', 'lifecycles to run; from the second on, older copies become obsolete').default(2).argParser(parseCount))
    .action(async (opts: { dir?: string; runs: number }) => inSession((s, o) => demo(s, opts, o)));

  return program;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  const result = { code: 0 };
  const program = buildProgram(result);
  if (argv.length <= 2) {
    program.outputHelp();
    return ExitCode.GENERIC;
  }
  try {
    await program.parseAsync(argv);
    return result.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version are exits with code 0; usage errors were printed already
      return err.exitCode === 0 ? 0 : ExitCode.GENERIC;
    }
    if (err instanceof DibctlError) {
      process.stderr.write(`Error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`Error: ${describeError(err)}\n`);
    if (program.opts<GlobalOptions>().debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return ExitCode.GENERIC;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}
