/** `dibctl validate` on the command line; the command itself is in commands/validate.ts. */
import type { Command } from 'commander';
import { Cli, configFileOptions, example, imageFileOption } from '../cli';
import type { ValidateOptions } from '../commands/validate';

export function register(program: Command, cli: Cli): void {
  configFileOptions(
    program
      .command('validate')
      .description('load and validate every config file (or the given ones); with image labels, only those images')
      .argument('[image-labels...]'),
    'images',
    'test',
    'upload',
  )
    .addOption(imageFileOption())
    .option(
      '--credentials',
      "also resolve each environment's credentials (names the OS_* variables used, never values)",
    )
    .addHelpText(
      'after',
      example(
        'dibctl validate --credentials',
        'check every config file and name the OS_* variables each environment would use',
      ),
    )
    .action(async (labels: string[], opts: ValidateOptions) => {
      const { validate } = await import('../commands/validate');
      return cli.withoutSession((o) => validate(labels, opts, o));
    });
}
