/**
 * `completion bash|zsh` prints the completion script; the hidden `__complete`
 * answers it (the entry point also answers it without loading Temporal). The
 * answering code, which reads the configs, loads only when asked.
 */
import { Argument } from 'commander';
import type { Command } from 'commander';
import { Cli, example } from '../cli';
import { HIDDEN_COMMAND, bashScript, commandSpec, zshScript } from '../completion';

export function register(program: Command, cli: Cli): void {
  program
    .command('completion')
    .description('print the shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      example(
        'eval "$(dibctl completion bash)"',
        'complete commands, options and labels in this shell (put the line in ~/.bashrc)',
      ),
    )
    .action(async (shell: 'bash' | 'zsh') =>
      cli.withoutSession(async (o) => {
        const spec = commandSpec(program);
        o.out((shell === 'bash' ? bashScript(spec) : zshScript(spec)).trimEnd());
        return 0;
      }),
    );
  program
    .command(HIDDEN_COMMAND, { hidden: true })
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[]) => {
      const { completeMain } = await import('../complete');
      return cli.withoutSession(() => completeMain(words, commandSpec(program)));
    });
}
