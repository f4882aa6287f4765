/** `dibctl list` on the command line; the command itself is in commands/list.ts. */
import type { Command } from 'commander';
import type { Cli } from '../cli';
import type { ListOptions } from '../commands/list';

export function register(program: Command, cli: Cli): void {
  program
    .command('list')
    .description('list image lifecycles (newest first) with the stage of running ones')
    .option('--label <label>', 'only this image')
    .option('--environment <env>', 'only those publishing to this upload environment')
    .option('--running', 'only running ones')
    .option('--limit <n>', 'at most this many', '20')
    .action(async (opts: ListOptions) => {
      const { list } = await import('../commands/list');
      return cli.inSession((s, o) => list(s, opts, o), { needsWorker: false });
    });
}
