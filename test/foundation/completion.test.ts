/**
 * Shell completion as an operator gets it: the script `dibctl completion bash`
 * prints is sourced in a real bash, and the completion function it registers
 * offers commands, options, image labels and upload environments read from the
 * configs of the current directory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { candidates } from '../../client/complete';
import { commandSpec } from '../../client/completion';
import { buildProgram } from '../../client/main';
import { DIBCTL_BIN, runDibctl } from '../support/cli';

const IMAGES = 'alpha:\n  filename: alpha.qcow2\nbeta:\n  filename: beta.qcow2\n';
const UPLOAD = 'prod:\n  external_upload: [{cmdline: "true"}]\nstaging:\n  external_upload: [{cmdline: "true"}]\n';
const TEST = 'lab:\n  nova: {flavor: m1.tiny, nics: [{net_id: x}]}\n';

describe('dibctl completion', () => {
  let dir: string;
  let script: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-completion-'));
    await fs.writeFile(path.join(dir, 'images.yaml'), IMAGES);
    await fs.writeFile(path.join(dir, 'upload.yaml'), UPLOAD);
    await fs.writeFile(path.join(dir, 'test.yaml'), TEST);
    // `dibctl` on PATH, as an installed one is
    await fs.mkdir(path.join(dir, 'bin'));
    await fs.symlink(DIBCTL_BIN, path.join(dir, 'bin', 'dibctl'));
    const r = await runDibctl(['completion', 'bash']);
    expect(r.code).toBe(0);
    script = path.join(dir, 'dibctl.bash');
    await fs.writeFile(script, r.stdout);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  /** What the registered completion function offers for `line` (a trailing space starts a new word). */
  function complete(line: string, cwd = dir): string[] {
    const words = line.split(' ');
    const bash = [
      `source ${JSON.stringify(script)}`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      'COMPREPLY=()',
      '_dibctl',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const out = execFileSync('bash', ['--norc', '--noprofile', '-c', bash], {
      cwd,
      env: { ...process.env, PATH: `${path.join(dir, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin` },
      encoding: 'utf8',
    });
    return out.split('\n').filter(Boolean).sort();
  }

  it('registers a completion function for dibctl that compgen uses', () => {
    const r = spawnSync(
      'bash',
      [
        '--norc',
        '--noprofile',
        '-c',
        `source ${script}; complete -p dibctl; compgen -F _dibctl dibctl 2>/dev/null; echo ok`,
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stdout).toMatch(/^complete -F _dibctl dibctl$/m);
    expect(r.stdout).toMatch(/ok\n$/);
  });

  it('completes a command', () => {
    expect(complete('dibctl st')).toEqual(['status']);
    expect(complete('dibctl r')).toEqual(['retirement', 'rotate', 'rotate-single', 'run']);
    expect(complete('dibctl schedule ')).toEqual(
      ['create', 'delete', 'describe', 'list', 'pause', 'trigger', 'unpause'].sort(),
    );
    // the hidden answering command is never offered
    expect(complete('dibctl __')).toEqual([]);
  });

  it("completes a command's options and the global ones", () => {
    expect(complete('dibctl run --up')).toEqual(['--upload-config', '--upload-env']);
    expect(complete('dibctl list --')).toEqual(
      expect.arrayContaining(['--label', '--environment', '--state', '--limit', '--json', '--help']),
    );
    expect(complete('dibctl --js')).toEqual(['--json']);
  });

  it('completes image labels from the images config of the current directory', () => {
    expect(complete('dibctl test ')).toEqual(['alpha', 'beta']);
    expect(complete('dibctl run b')).toEqual(['beta']);
    expect(complete('dibctl validate alpha ')).toEqual(['alpha', 'beta']);
    expect(complete('dibctl list --label ')).toEqual(['alpha', 'beta']);
  });

  it('completes upload environments and test environments where each is expected', () => {
    expect(complete('dibctl run alpha --upload-env ')).toEqual(['prod', 'staging']);
    expect(complete('dibctl upload alpha ')).toEqual(['prod', 'staging']);
    expect(complete('dibctl retirement s')).toEqual(['staging']);
    expect(complete('dibctl test alpha --environment ')).toEqual(['lab']);
    expect(complete('dibctl list --environment ')).toEqual(['prod', 'staging']);
    // bash splits --opt=value at '='
    expect(complete('dibctl run alpha --upload-env = p')).toEqual(['prod']);
  });

  it('completes the choices of an option and of an argument', () => {
    expect(complete('dibctl list --state ')).toEqual(
      ['cancelled', 'completed', 'failed', 'running', 'terminated', 'timed-out'].sort(),
    );
    expect(complete('dibctl completion ')).toEqual(['bash', 'zsh']);
  });

  it('offers no labels (and says nothing) where there are no configs', async () => {
    const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-completion-empty-'));
    try {
      expect(complete('dibctl test ', empty)).toEqual([]);
      expect(complete('dibctl st', empty)).toEqual(['status']);
    } finally {
      await fs.rm(empty, { recursive: true, force: true });
    }
  });

  it('reads the labels of a config given on the line', async () => {
    await fs.mkdir(path.join(dir, 'other'));
    await fs.writeFile(path.join(dir, 'other', 'more.yaml'), 'gamma:\n  filename: g.qcow2\n');
    expect(complete('dibctl build --images-config other/more.yaml ')).toEqual(['gamma']);
  });

  it('completes --opt=value typed as one word (as zsh passes it)', () => {
    const spec = commandSpec(buildProgram({ code: 0 }));
    expect(candidates(spec, ['run', 'alpha', '--upload-env=st'], dir)).toEqual(['--upload-env=staging']);
    expect(candidates(spec, ['build', '--images-config', ''], dir)).toEqual([':files']);
  });

  it('prints a zsh script that registers the same completion', async () => {
    const r = await runDibctl(['completion', 'zsh']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^#compdef dibctl$/m);
    expect(r.stdout).toMatch(/^compdef _dibctl dibctl$/m);
    expect(r.stdout).toContain('__complete --');
  });

  const zsh = spawnSync('zsh', ['--version'], { stdio: 'ignore' }).error ? it.skip : it;
  zsh('the zsh script, sourced in a real zsh after compinit, offers what the bash one does', async () => {
    const r = await runDibctl(['completion', 'zsh']);
    const file = path.join(dir, 'dibctl.zsh');
    await fs.writeFile(file, r.stdout);
    /** What _dibctl hands to compadd (or which _files it asks for) for the words typed so far. */
    const zshComplete = (...words: string[]) => {
      const script = [
        'autoload -Uz compinit && compinit -u -D',
        `source ${JSON.stringify(file)}`,
        // stand-ins for the completion system's own functions, printing what they were given
        'compadd() { [[ $1 == -a ]] && print -l -- ${(P)2} }',
        '_files() { print -- "_files $*" }',
        `words=(${words.map((w) => `'${w}'`).join(' ')})`,
        `CURRENT=${words.length}`,
        '_dibctl',
      ].join('\n');
      return execFileSync('zsh', ['-f', '-c', script], {
        cwd: dir,
        env: { ...process.env, PATH: `${path.join(dir, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin` },
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean)
        .sort();
    };
    expect(zshComplete('dibctl', 'st')).toEqual(['status']);
    expect(zshComplete('dibctl', 'test', '')).toEqual(['alpha', 'beta']);
    expect(zshComplete('dibctl', 'run', 'alpha', '--upload-env', '')).toEqual(['prod', 'staging']);
    expect(zshComplete('dibctl', 'build', '--images-config', '')).toEqual(['_files ']);
  });

  it('refuses a shell it has no script for, exit 2', async () => {
    const r = await runDibctl(['completion', 'fish']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'fish' is invalid.*bash, zsh/);
  });

  it('answers without a Temporal server: __complete never connects', async () => {
    const r = await runDibctl(['__complete', '--', 'upload', 'alpha', ''], {
      cwd: dir,
      env: { TEMPORAL_ADDRESS: '127.0.0.1:1' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['prod', 'staging']);
    expect(r.stderr).toBe('');
  });
});
