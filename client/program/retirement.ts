/** `dibctl retirement ENV [--check-now]` on the command line; the command itself is in commands/retirement.ts. */
import type { Command } from 'commander';
import { Cli, configFileOptions, example } from '../cli';
import type { RetirementOptions } from '../commands/retirement';

export function register(program: Command, cli: Cli): void {
  configFileOptions(
    program
      .command('retirement')
      .description("show what the environment's retirement workflow holds and why each image is kept")
      .argument('<env>', 'upload environment label')
      .option('--check-now', 'wake it (starting it if needed), wait for the check and show the outcome')
      .addHelpText(
        'after',
        example(
          'dibctl retirement region-a --check-now',
          "check region-a's obsolete images now: what was deleted, and why each other one is kept",
        ),
      ),
    'upload',
  ).action(async (env: string, opts: RetirementOptions) => {
    const { checkRetirement, retirement } = await import('../commands/retirement');
    checkRetirement(env, opts, cli.output());
    return cli.inSession((s, o) => retirement(s, env, opts, o));
  });
}
