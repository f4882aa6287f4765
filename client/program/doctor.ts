/** `dibctl doctor` on the command line; the command itself is in commands/doctor.ts. */
import type { Command } from 'commander';
import type { Cli } from '../cli';
import type { DoctorOptions } from '../commands/doctor';

export function register(program: Command, cli: Cli): void {
  program
    .command('doctor')
    .description('run a workflow that checks what image lifecycles need on the worker host')
    .option('--image-dir <dir>', 'directory where image files are built', '.')
    .action(async (opts: DoctorOptions) => {
      const { doctor } = await import('../commands/doctor');
      return cli.inSession((s, o) => doctor(s, opts, o));
    });
}
