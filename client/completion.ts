/**
 * Shell completion scripts. The command line's shape (commands, options, what
 * each argument is) is taken from the program when the script is made and
 * carried inside it; at completion time the script hands it, with the words
 * typed so far, to `dibctl __complete`, which adds the labels of the configs
 * in the current directory.
 */
import type { Argument, Command, Option } from 'commander';
import type { CommandSpec, OptionSpec, ValueKind } from './complete';

/** Commands the operator never types: not offered. */
export const HIDDEN_COMMAND = '__complete';

/** What a value named `<name>` described as `description` is. */
function kindOf(name: string, description: string, choices: readonly string[] | undefined): ValueKind {
  if (choices?.length) return { choices: [...choices] };
  const d = description.toLowerCase();
  if (/upload environment/.test(d)) return 'upload-env';
  if (/test environment/.test(d)) return 'test-env';
  if (/^image[- ]labels?$/.test(name) || /^label$/.test(name) || /^image label/.test(d)) return 'image';
  if (name === 'env') return 'upload-env';
  if (name === 'file' || name === 'key') return 'file';
  if (name === 'dir') return 'dir';
  return 'text';
}

function optionSpec(o: Option): OptionSpec {
  const flags = [o.short, o.long].filter((f): f is string => Boolean(f));
  if (!o.required && !o.optional) return { flags };
  const name = /<([^>]+)>|\[([^\]]+)\]/.exec(o.flags);
  return { flags, value: kindOf(name?.[1] ?? name?.[2] ?? '', o.description, o.argChoices) };
}

function argumentKind(a: Argument): ValueKind {
  return kindOf(a.name(), a.description, a.argChoices);
}

/** The spec of a command and its subcommands, as `__complete` reads it. */
export function commandSpec(cmd: Command): CommandSpec {
  const commands: Record<string, CommandSpec> = {};
  for (const sub of cmd.commands) {
    if (sub.name() === HIDDEN_COMMAND || sub.name() === 'help') continue;
    commands[sub.name()] = commandSpec(sub);
  }
  const args = cmd.registeredArguments;
  return {
    commands,
    options: cmd.options.filter((o) => !o.hidden).map(optionSpec),
    args: args.map(argumentKind),
    variadic: Boolean(args[args.length - 1]?.variadic),
  };
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function bashScript(spec: CommandSpec): string {
  return `# dibctl completion for bash: eval "$(dibctl completion bash)" in ~/.bashrc,
# or save it as /etc/bash_completion.d/dibctl
_dibctl_spec=${quote(JSON.stringify(spec))}
_dibctl() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out IFS=$'\\n'
  [[ $cur == = ]] && cur=
  out=$(printf '%s' "$_dibctl_spec" | "\${COMP_WORDS[0]}" __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  case "$out" in
    :files) COMPREPLY=($(compgen -f -- "$cur")) ;;
    :dirs) COMPREPLY=($(compgen -d -- "$cur")) ;;
    *) COMPREPLY=($(compgen -W "$out" -- "$cur")) ;;
  esac
}
complete -F _dibctl dibctl
`;
}

export function zshScript(spec: CommandSpec): string {
  return `#compdef dibctl
# dibctl completion for zsh: source <(dibctl completion zsh) in ~/.zshrc (after compinit)
_dibctl_spec=${quote(JSON.stringify(spec))}
_dibctl() {
  local -a out
  out=(\${(f)"$(printf '%s' "$_dibctl_spec" | \${words[1]} __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)"})
  if [[ \${out[1]} == :files ]]; then
    _files
  elif [[ \${out[1]} == :dirs ]]; then
    _files -/
  else
    compadd -a out
  fi
}
compdef _dibctl dibctl
`;
}
