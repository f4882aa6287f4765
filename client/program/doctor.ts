/** `dibctl doctor` on the command line; the command itself is in commands/doctor.ts. */
import type { Command } from 'commander';
import { configFileOptions, example } from '../cli';
import type { Cli } from '../cli';
import type { DoctorOptions } from '../commands/doctor';

export function register(program: Command, cli: Cli): void {
  configFileOptions(
    program
      .command('doctor')
      .description('run a workflow that checks what the configured images need on the worker host')
      .option('--image-dir <dir>', 'directory where image files are built', '.')
      .addHelpText(
        'after',
        example(
          'dibctl doctor --image-dir /srv/images',
          'check this host has the tools images.yaml needs and room in /srv/images',
        ),
      ),
    'images',
  ).action(async (opts: DoctorOptions) => {
    // the configs are read before Temporal is reached: a broken one is reported as such
    const [{ doctor }, { imageNeeds }] = await Promise.all([import('../commands/doctor'), import('../doctor-needs')]);
    const needs = imageNeeds({ cwd: process.cwd(), imagesConfig: opts.imagesConfig });
    return cli.inSession((s, o) => doctor(s, opts, needs, o));
  });
}
