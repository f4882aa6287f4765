/** `dibctl run LABEL --upload-env ENV ...` on the command line; the command itself is in commands/run.ts. */
import type { Command } from 'commander';
import { Cli, example, lifecycleOptions } from '../cli';
import type { RunOptions } from '../commands/run';
import { junitXmlOption } from '../report-options';

export function register(program: Command, cli: Cli): void {
  lifecycleOptions(
    program
      .command('run')
      .description('build, test and publish an image to every upload environment in parallel, obsoleting older copies')
      .argument('<label>', 'image label')
      .addOption(junitXmlOption())
      .addHelpText(
        'after',
        example(
          'dibctl run ubuntu-noble --upload-env region-a --upload-env region-b',
          'build, test, publish to both regions in parallel and retire the older copies',
        ),
      ),
  ).action(async (label: string, opts: RunOptions) => {
    const { checkRunOptions, lifecycleInput, run } = await import('../commands/run');
    // usage (2), config (10), label (11) and credentials (12) fail before any session starts
    checkRunOptions(opts);
    const input = lifecycleInput(label, opts, undefined, process.cwd(), cli.output().err);
    return cli.inSession((s, o) => run(s, label, opts, input, o));
  });
}
