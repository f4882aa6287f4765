/** `dibctl status WORKFLOW_ID` on the command line; the command itself is in commands/status.ts. */
import type { Command } from 'commander';
import type { Cli } from '../cli';

export function register(program: Command, cli: Cli): void {
  program
    .command('status')
    .description('show a workflow as a tree of its steps: state, duration, held resources and what to do next')
    .argument('<workflow-id>')
    .action(async (id: string) => {
      const { status } = await import('../commands/status');
      return cli.inSession((s, o) => status(s, id, o), { needsWorker: false });
    });
}
