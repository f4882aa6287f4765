/** `dibctl status WORKFLOW_ID` on the command line; the command itself is in commands/status.ts. */
import type { Command } from 'commander';
import { Cli, example } from '../cli';

export function register(program: Command, cli: Cli): void {
  program
    .command('status')
    .description('show a workflow as a tree of its steps: state, duration, held resources and what to do next')
    .argument('<workflow-id>')
    .addHelpText(
      'after',
      example(
        'dibctl status dibctl-run-ubuntu-noble-5c1e9a2b',
        'each step of that lifecycle, what it holds and the command to run next',
      ),
    )
    .action(async (id: string) => {
      const { status } = await import('../commands/status');
      return cli.inSession((s, o) => status(s, id, o), { needsWorker: false });
    });
}
