/**
 * `upload`, `mark-obsolete`, `rotate` and `rotate-single` on the command line;
 * the commands themselves are in commands/publish.ts. Config, labels and
 * credentials are checked before the session.
 */
import type { Command } from 'commander';
import { Cli, configFileOptions, example, imageFileOption } from '../cli';
import type { ConfigFileOptions, RotateOptions, UploadOptions } from '../commands/publish';

export function register(program: Command, cli: Cli): void {
  const workerHere = async () => (await cli.sessionMode()) === 'embedded';

  configFileOptions(
    program
      .command('upload')
      .description('upload an image to an upload environment, then mark older same-named images obsolete')
      .argument('<label>', 'image label')
      .argument('<env>', 'upload environment label')
      .addOption(imageFileOption())
      .option('--no-obsolete', 'do not mark older images with the same name obsolete')
      .addHelpText(
        'after',
        example(
          'dibctl upload ubuntu-noble region-a',
          'publish the built image to region-a and mark its older copies obsolete',
        ),
      ),
    'images',
    'upload',
  ).action(async (label: string, env: string, opts: UploadOptions) => {
    const { prepareUpload, upload } = await import('../commands/publish');
    const prepared = prepareUpload(label, env, opts, cli.output().err, await workerHere());
    return cli.inSession((s, o) => upload(s, prepared, opts, o), { beforeLocalWorker: prepared.checkCredentials });
  });

  configFileOptions(
    program
      .command('mark-obsolete')
      .description("rename an image 'Obsolete <name>', set obsolete=true and hand it to the environment's retirement")
      .argument('<env>', 'upload environment label')
      .argument('<uuid>', 'image id')
      .addHelpText(
        'after',
        example(
          'dibctl mark-obsolete region-a 7d1c2f0e-5b8a-4c1e-9f3d-2a6b0c4e8d1f',
          'retire that image of region-a by hand',
        ),
      ),
    'upload',
  ).action(async (env: string, uuid: string, opts: ConfigFileOptions) => {
    const { markObsolete, prepareEnvironment } = await import('../commands/publish');
    const prepared = prepareEnvironment(env, opts, cli.output().err, await workerHere());
    return cli.inSession((s, o) => markObsolete(s, prepared, uuid, o), {
      beforeLocalWorker: prepared.checkCredentials,
    });
  });

  configFileOptions(
    program
      .command('rotate')
      .description('delete every obsolete image of the environment that no server in any project uses')
      .addHelpText(
        'after',
        example(
          'dibctl rotate region-a --dry-run',
          'list the obsolete images of region-a that no server uses, deleting nothing',
        ),
      )
      .argument('<env>', 'upload environment label')
      .option('--dry-run', 'only list what would be removed'),
    'upload',
  ).action(async (env: string, opts: RotateOptions) => {
    const { prepareRotate, rotate } = await import('../commands/publish');
    const prepared = prepareRotate(env, undefined, opts, cli.output().err, await workerHere());
    return cli.inSession((s, o) => rotate(s, prepared, opts, o), { beforeLocalWorker: prepared.checkCredentials });
  });

  configFileOptions(
    program
      .command('rotate-single')
      .description("like rotate, only for the obsolete copies of one image's name")
      .addHelpText(
        'after',
        example(
          'dibctl rotate-single ubuntu-noble region-a',
          'delete the unused obsolete copies of ubuntu-noble in region-a',
        ),
      )
      .argument('<label>', 'image label')
      .argument('<env>', 'upload environment label')
      .option('--dry-run', 'only list what would be removed'),
    'images',
    'upload',
  ).action(async (label: string, env: string, opts: RotateOptions) => {
    const { prepareRotate, rotate } = await import('../commands/publish');
    const prepared = prepareRotate(env, label, opts, cli.output().err, await workerHere());
    return cli.inSession((s, o) => rotate(s, prepared, opts, o), { beforeLocalWorker: prepared.checkCredentials });
  });
}
