/** `dibctl worker` on the command line; the command itself is in commands/worker.ts. */
import { setFlagsFromString } from 'node:v8';
import type { Command } from 'commander';
import { Cli, example } from '../cli';
import type { WorkerCommandOptions } from '../commands/worker';

export function register(program: Command, cli: Cli): void {
  program
    .command('worker')
    .description('run a dibctl worker against the configured Temporal server (TEMPORAL_ADDRESS, ...)')
    .option('--task-queue <name>', 'shared task queue', 'dibctl')
    .addHelpText(
      'after',
      example(
        'TEMPORAL_ADDRESS=temporal.example:7233 dibctl worker',
        "run this host's builds, tests and uploads for that Temporal server",
      ),
    )
    .action(async (opts: WorkerCommandOptions) => {
      // a long-lived worker gives up a little of V8's speed for about 30 MB less memory (also in its
      // workflow and hashing threads, started later); set before the SDK loads
      setFlagsFromString('--optimize-for-size');
      const { worker } = await import('../commands/worker');
      await cli.installRuntime('INFO');
      const debug = cli.openStackTrace();
      await cli.withoutSession((o) => worker(opts, o, cli.interrupted(), debug ? { debug } : {}));
    });
}
