/** `dibctl server` on the command line; the command itself is in commands/server.ts. */
import { Command, Option } from 'commander';
import { Cli, example, parsePort } from '../cli';
import type { ServerOptions } from '../commands/server';

export function register(program: Command, cli: Cli): void {
  program
    .command('server')
    .description('run a local Temporal server whose state persists under the state directory, with the Web UI')
    .option('--ip <ip>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'frontend port').default(7233).argParser(parsePort))
    .addOption(new Option('--ui-port <port>', 'Web UI port (default: port + 1000)').argParser(parsePort))
    .option('--db-filename <file>', 'SQLite file holding the server state')
    .option('--headless', 'no Web UI')
    .addHelpText(
      'after',
      example(
        'dibctl server',
        'keep a Temporal server on 127.0.0.1:7233 (Web UI on :8233) that other dibctl commands use',
      ),
    )
    .action(async (opts: ServerOptions) => {
      const { server } = await import('../commands/server');
      return cli.withoutSession((o) => server(opts, o, cli.interrupted()));
    });
}
