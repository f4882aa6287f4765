/** `dibctl build LABEL [-o FILE]` on the command line; the command itself is in commands/build.ts. */
import type { Command } from 'commander';
import { Cli, configFileOptions, example } from '../cli';
import type { BuildOptions } from '../commands/build';

export function register(program: Command, cli: Cli): void {
  configFileOptions(
    program
      .command('build')
      .description('build the image with diskimage-builder (and external_build) on this host')
      .argument('<label>', 'image label')
      .option('-o, --output <file>', 'image file to produce (default: the configured filename)')
      .addHelpText(
        'after',
        example(
          'dibctl build ubuntu-noble -o /srv/images/ubuntu-noble.qcow2',
          'build image ubuntu-noble of images.yaml into that file',
        ),
      ),
    'images',
  ).action(async (label: string, opts: BuildOptions) => {
    const { build, buildPreview } = await import('../commands/build');
    const preview = buildPreview(label, opts);
    return cli.inSession((s, o) => build(s, label, preview, o, cli.interrupted()));
  });
}
