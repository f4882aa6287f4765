/** `dibctl demo` on the command line; the command itself is in commands/demo.ts. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Cli, example } from '../cli';
import type { DemoOptions } from '../commands/demo';

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new InvalidArgumentError('must be a whole number from 1 to 100');
  return n;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('demo')
    .description(
      'the whole lifecycle with nothing to configure: the bundled OpenStack emulator, build, test over SSH, publish to two regions',
    )
    .option('--dir <dir>', 'where the demo writes its configs, tests and image (default: under the state directory)')
    .addOption(
      new Option('--runs <n>', 'lifecycles to run; from the second on, older copies become obsolete')
        .default(2)
        .argParser(parseCount),
    )
    .option(
      '--real-guests',
      "boot the test instance as a QEMU guest of a Debian image (built once, cached) and run dibctl's generic tests on it; needs root",
    )
    .addHelpText(
      'after',
      example(
        'dibctl demo --runs 3',
        'three lifecycles against the bundled emulator; the configs it wrote stay as an example',
      ),
    )
    .action(async (opts: DemoOptions) => {
      const { demo } = await import('../commands/demo');
      return cli.inSession((s, o) => demo(s, opts, o));
    });
}
