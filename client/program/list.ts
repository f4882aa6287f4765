/** `dibctl list` on the command line; the command itself is in commands/list.ts. */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { Cli, example } from '../cli';
import type { ListOptions } from '../commands/list';

/** The states `--state` takes, with the ExecutionStatus each names. */
export const LIST_STATES = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
} as const;
export type ListState = keyof typeof LIST_STATES;

function parseState(value: string): ListState {
  if (!(value in LIST_STATES)) throw new InvalidArgumentError(`must be one of ${Object.keys(LIST_STATES).join(', ')}`);
  return value as ListState;
}

function parseLimit(value: string): string {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return value;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('list')
    .description('list image lifecycles (newest first) with the stage of running ones')
    .option('--label <label>', 'only this image')
    .option('--environment <env>', 'only those publishing to this upload environment')
    .addOption(
      new Option('--state <state>', 'only those in this state').choices(Object.keys(LIST_STATES)).argParser(parseState),
    )
    .addOption(new Option('--running', 'only running ones (--state running)').conflicts('state'))
    .addOption(new Option('--limit <n>', 'at most this many').default('20').argParser(parseLimit))
    .addHelpText(
      'after',
      example('dibctl list --label ubuntu-noble --state failed', 'the failed lifecycles of ubuntu-noble, newest first'),
    )
    .action(async (opts: ListOptions) => {
      const { list } = await import('../commands/list');
      return cli.inSession((s, o) => list(s, opts, o), { needsWorker: false });
    });
}
