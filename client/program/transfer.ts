/** `dibctl transfer UUID ...` on the command line; the command itself is in commands/transfer.ts. */
import type { Command } from 'commander';
import { Cli, configFileOptions, example } from '../cli';
import type { TransferOptions } from '../commands/transfer';

export function register(program: Command, cli: Cli): void {
  configFileOptions(
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
      .addHelpText(
        'after',
        example(
          'dibctl transfer 7d1c2f0e-5b8a-4c1e-9f3d-2a6b0c4e8d1f --src-env region-a --dst-cloud backup',
          'copy that image of region-a to the cloud backup of clouds.yaml',
        ),
      ),
    'upload',
  ).action(async (uuid: string, opts: TransferOptions) => {
    const { prepareTransfer, transfer } = await import('../commands/transfer');
    const ends = prepareTransfer(opts, cli.output(), (await cli.sessionMode()) === 'embedded');
    return cli.inSession((s, o) => transfer(s, uuid, ends, opts, o), { beforeLocalWorker: ends.checkCredentials });
  });
}
