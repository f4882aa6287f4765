/** `dibctl schedule ...` on the command line; the commands themselves are in commands/schedule.ts. */
import type { Command } from 'commander';
import { Cli, SessionNeeds, example, lifecycleOptions } from '../cli';
import type { ScheduleCreateOptions } from '../commands/schedule';

/** Schedules live on the server: no worker runs in this process. */
const READS: SessionNeeds = { needsWorker: false };

const PAUSE_EXAMPLES = {
  pause: example(
    'dibctl schedule pause dibctl-ubuntu-noble --note "mirror down"',
    'no runs of ubuntu-noble until unpause; describe shows why',
  ),
  unpause: example(
    'dibctl schedule unpause dibctl-ubuntu-noble --note "mirror back"',
    'runs of ubuntu-noble start again',
  ),
};

/** `dibctl schedule` and its subcommands; none needs a worker. */
export function register(program: Command, cli: Cli): void {
  const schedule = program
    .command('schedule')
    .description('periodic image lifecycles as Temporal Schedules')
    .addHelpText(
      'after',
      example(
        'dibctl schedule create ubuntu-noble --every 7d --upload-env region-a',
        'rebuild and publish ubuntu-noble every week',
      ),
    );
  lifecycleOptions(
    schedule
      .command('create')
      .description('create a schedule that runs the lifecycle of an image (--every 7d or --cron "0 3 * * 1")')
      .argument('<label>', 'image label')
      .option('--every <duration>', 'interval: 90s, 30m, 6h, 7d, 2w')
      .option('--cron <expression>', 'cron expression (UTC)')
      .option('--id <schedule-id>', 'schedule id (default dibctl-LABEL)')
      .option(
        '--overlap <policy>',
        'when a run is due while one runs: skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all',
        'skip',
      )
      .option(
        '--catchup-window <duration>',
        'runs missed while the server was down are made up within this window',
        '1d',
      )
      .option('--paused', 'create it paused')
      .addHelpText(
        'after',
        example(
          'dibctl schedule create ubuntu-noble --cron "0 3 * * 1" --upload-env region-a --upload-env region-b',
          'build, test and publish ubuntu-noble to both regions every Monday at 03:00 UTC',
        ),
      ),
  ).action(async (label: string, opts: ScheduleCreateOptions) => {
    const { prepareScheduleCreate, scheduleCreate } = await import('../commands/schedule');
    const prepared = prepareScheduleCreate(label, opts, await cli.sessionMode());
    return cli.inSession((s, o) => scheduleCreate(s, prepared, opts, o), READS);
  });
  schedule
    .command('list')
    .description('list image schedules')
    .addHelpText('after', example('dibctl schedule list', 'every image schedule with its timing and next run'))
    .action(async () => {
      const { scheduleList } = await import('../commands/schedule');
      return cli.inSession((s, o) => scheduleList(s, o), READS);
    });
  schedule
    .command('describe')
    .description('show a schedule: timing, policies, recent and next runs')
    .argument('<schedule-id>')
    .addHelpText(
      'after',
      example(
        'dibctl schedule describe dibctl-ubuntu-noble',
        'its timing and policies, the runs it started and when it runs next',
      ),
    )
    .action(async (id: string) => {
      const { scheduleDescribe } = await import('../commands/schedule');
      return cli.inSession((s, o) => scheduleDescribe(s, id, o), READS);
    });
  for (const action of ['pause', 'unpause'] as const) {
    schedule
      .command(action)
      .description(`${action} a schedule`)
      .argument('<schedule-id>')
      .option('--note <text>', 'why (shown by describe)')
      .addHelpText('after', PAUSE_EXAMPLES[action])
      .action(async (id: string, opts: { note?: string }) => {
        const { scheduleAct } = await import('../commands/schedule');
        return cli.inSession((s, o) => scheduleAct(s, action, id, o, opts.note), READS);
      });
  }
  schedule
    .command('trigger')
    .description('start a run now (skipped if one runs and the overlap policy is skip)')
    .argument('<schedule-id>')
    .addHelpText(
      'after',
      example(
        'dibctl schedule trigger dibctl-ubuntu-noble',
        'rebuild ubuntu-noble now instead of waiting for its next run',
      ),
    )
    .action(async (id: string) => {
      const { scheduleAct } = await import('../commands/schedule');
      return cli.inSession((s, o) => scheduleAct(s, 'trigger', id, o), READS);
    });
  schedule
    .command('delete')
    .description('delete a schedule (running lifecycles go on)')
    .argument('<schedule-id>')
    .addHelpText(
      'after',
      example(
        'dibctl schedule delete dibctl-ubuntu-noble',
        'no more periodic runs of ubuntu-noble; a run in progress goes on',
      ),
    )
    .action(async (id: string) => {
      const { scheduleAct } = await import('../commands/schedule');
      return cli.inSession((s, o) => scheduleAct(s, 'delete', id, o), READS);
    });
}
