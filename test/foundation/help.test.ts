/**
 * `dibctl --help` reads in an operator's order (an image's lifecycle first,
 * the tools last), and every command's help ends with one example.
 */
import type { Command } from 'commander';
import { buildProgram } from '../../client/main';
import { runDibctl } from '../support/cli';

const LIFECYCLE_ORDER = [
  ['Image lifecycle:', 'build'],
  ['Image lifecycle:', 'test'],
  ['Image lifecycle:', 'shell'],
  ['Image lifecycle:', 'upload'],
  ['Image lifecycle:', 'transfer'],
  ['Image lifecycle:', 'mark-obsolete'],
  ['Image lifecycle:', 'rotate'],
  ['Image lifecycle:', 'rotate-single'],
  ['Image lifecycle:', 'run'],
  ['Image lifecycle:', 'schedule'],
  ['Watch and steer:', 'keep'],
  ['Watch and steer:', 'discard'],
  ['Watch and steer:', 'list'],
  ['Watch and steer:', 'status'],
  ['Watch and steer:', 'retirement'],
  ['Run the service:', 'server'],
  ['Run the service:', 'worker'],
  ['Run the service:', 'doctor'],
  ['Tools:', 'emulator'],
  ['Tools:', 'demo'],
  ['Tools:', 'validate'],
  ['Tools:', 'schema'],
  ['Tools:', 'completion'],
  ['Tools:', 'help'],
];

/** The example that ends a help text: `Example:`, `  $ COMMAND LINE`, `    what it does`. */
const ENDS_WITH_EXAMPLE = /\n\nExample:\n {2}\$ (?:\S+=\S+ |eval "\$\()?dibctl\b[^\n]*\n {4}\S[^\n]*\n$/;

/** Every command the operator can ask help for, with its full name (`schedule create`). */
function allCommands(cmd: Command, prefix: string[] = []): Array<[string, Command]> {
  const out: Array<[string, Command]> = [];
  for (const sub of cmd.createHelp().visibleCommands(cmd)) {
    if (sub.name() === 'help') continue; // commander's own: `help COMMAND` shows the command's help
    const name = [...prefix, sub.name()];
    out.push([name.join(' '), sub], ...allCommands(sub, name));
  }
  return out;
}

function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

describe('dibctl help', () => {
  it('--help lists the commands in lifecycle order under group headings, and exits 0', async () => {
    const r = await runDibctl(['--help']);
    expect(r.code).toBe(0);
    const listed: string[][] = [];
    let heading: string | undefined;
    for (const line of r.stdout.split('\n')) {
      if (/^\S.*:$/.test(line)) heading = line;
      else if (heading && !['Options:', 'Example:'].includes(heading) && /^ {2}\S/.test(line))
        listed.push([heading, line.trim().split(' ')[0]]);
    }
    expect(listed).toEqual(LIFECYCLE_ORDER);
    expect(r.stdout).toMatch(ENDS_WITH_EXAMPLE);
  });

  it('help COMMAND and COMMAND --help end with the example too', async () => {
    for (const args of [
      ['help', 'schedule'],
      ['schedule', 'create', '--help'],
    ]) {
      const r = await runDibctl(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(ENDS_WITH_EXAMPLE);
    }
    expect((await runDibctl(['schedule', 'create', '--help'])).stdout).toContain('$ dibctl schedule create ');
  });

  const program = buildProgram({ code: 0 });
  const commands = allCommands(program);

  it('walks every command and subcommand', () => {
    const names = commands.map(([name]) => name);
    expect(names).toEqual(expect.arrayContaining(['run', 'schedule', 'schedule create', 'schedule pause', 'emulator']));
    expect(names).not.toContain('__complete');
  });

  it.each(commands)('%s --help ends with one example of it', (name, cmd) => {
    const help = helpOf(cmd);
    expect(help).toMatch(ENDS_WITH_EXAMPLE);
    expect(help.match(/\nExample:\n/g)).toHaveLength(1);
    const line = /\n {2}\$ ([^\n]*)\n {4}\S[^\n]*\n$/.exec(help)![1];
    // the example runs this very command (the top-level one may show any)
    expect(line).toContain(`dibctl ${name}`);
  });
});

test('help read through a pipe that closes early ends quietly', async () => {
  const { spawn } = await import('node:child_process');
  const { DIBCTL_BIN } = await import('../support/cli');
  // the reader goes away before the help is written, as `dibctl test --help | true` does
  const child = spawn(process.execPath, [DIBCTL_BIN, 'test', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
});
