/** `dibctl schema` on the command line; the command itself is in commands/schema.ts. */
import { Argument, Command } from 'commander';
import { CONFIG_KINDS, ConfigKind } from '../../config/kinds';
import { Cli, example } from '../cli';
import type { SchemaOptions } from '../commands/schema';

export function register(program: Command, cli: Cli): void {
  program
    .command('schema')
    .description('print the JSON Schema of a config kind (images, test, upload), or of all three')
    .addArgument(new Argument('[kind]').choices(CONFIG_KINDS))
    .option('--out-dir <dir>', 'write <kind>.schema.json files there')
    .addHelpText(
      'after',
      example(
        'dibctl schema --out-dir .schemas',
        "write images, test and upload .schema.json files for an editor's YAML support",
      ),
    )
    .action(async (kind: ConfigKind | undefined, opts: SchemaOptions) => {
      const { schema } = await import('../commands/schema');
      return cli.withoutSession((o) => schema(kind, opts, o));
    });
}
