/** `dibctl emulator` on the command line; the command itself is in commands/emulator.ts. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Cli, example, parsePort } from '../cli';
import type { EmulatorCommandOptions } from '../commands/emulator';

function parseTokenTtl(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('emulator')
    .description(
      'run a local OpenStack emulator (Keystone, Glance, Nova, Neutron; servers reachable over SSH) until Ctrl-C',
    )
    .option('--host <ip>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'API port').default(5000).argParser(parsePort))
    .option('--regions <names>', 'comma-separated region names', 'RegionOne,RegionTwo')
    .option('--state-file <file>', 'keep the cloud state in this JSON file across restarts')
    .option(
      '--data-dir <dir>',
      'where image data and server directories live (default: next to the state file, or temporary)',
    )
    .addOption(new Option('--token-ttl <seconds>', 'token lifetime').default(3600).argParser(parseTokenTtl))
    .addOption(
      new Option('--ssh-port <port>', 'port the servers answer SSH on (default 22 as root)').argParser(parsePort),
    )
    .addOption(
      new Option(
        '--guests <kind>',
        'what a booted server is: host (a shell on this host) or qemu (a QEMU virtual machine of its image; needs root)',
      )
        .choices(['host', 'qemu'])
        .default('host'),
    )
    .addHelpText(
      'after',
      example(
        'dibctl emulator --state-file ~/.local/state/emulator.json',
        'a two-region cloud on 127.0.0.1:5000 that keeps its images across restarts; source the openrc it prints',
      ),
    )
    .action(async (opts: EmulatorCommandOptions) => {
      const { emulator } = await import('../commands/emulator');
      return cli.withoutSession((o) => emulator(opts, o, cli.interrupted()));
    });
}
