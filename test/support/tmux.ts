/**
 * A real terminal for tests: dibctl in a pane of a private tmux server (its own
 * socket), read back as a person sees it (capture-pane), resized and sent keys.
 * dibctl runs under a shell that, as an operator's does, outlives it: the
 * terminal it leaves behind (its last screen, whether the cursor shows) and its
 * exit status can be read after it ended; stop() ends the server and whatever
 * still runs in it.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIBCTL_BIN } from './cli';

const TMUX = '/usr/bin/tmux';

/** Why terminal tests cannot run here, or undefined when tmux is installed. */
export function tmuxMissing(): string | undefined {
  return existsSync(TMUX) ? undefined : `${TMUX} is not installed (Debian package tmux)`;
}

function quote(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}

export class TmuxTerminal {
  private readonly socket = `dibctl-test-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'dibctl-tmux-'));
  private stopped = false;

  /** Starts `dibctl args` in a width × height terminal, with env as its whole environment besides TERM. */
  constructor(args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string; width?: number; height?: number }) {
    const conf = path.join(this.dir, 'tmux.conf');
    writeFileSync(conf, ['set -g status off', 'set -g history-limit 20000', ''].join('\n'));
    // the shell catches Ctrl-C (its child gets the default action back) and records how dibctl ended
    const script = path.join(this.dir, 'run.sh');
    const command = [process.execPath, DIBCTL_BIN, ...args].map(quote).join(' ');
    writeFileSync(
      script,
      ['#!/bin/bash', 'trap true INT', command, `echo $? > ${quote(this.exitFile)}`, 'exec sleep 3600', ''].join('\n'),
      { mode: 0o755 },
    );
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
    this.tmux(
      [
        '-f',
        conf,
        'new-session',
        '-d',
        '-s',
        'dibctl',
        '-x',
        String(opts.width ?? 100),
        '-y',
        String(opts.height ?? 30),
      ],
      ['-c', opts.cwd, script],
      env,
    );
    this.socketPath = this.format('#{socket_path}');
  }

  /** Where the server listens: tmux leaves the file behind when the server ends. */
  private readonly socketPath: string;

  private get exitFile(): string {
    return path.join(this.dir, 'exit-status');
  }

  private tmux(args: string[], rest: string[] = [], env: NodeJS.ProcessEnv = process.env): string {
    const r = spawnSync(TMUX, ['-L', this.socket, ...args, ...rest], { env, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  }

  /** The screen as it shows now, one string per row (lines the terminal wrapped joined again). */
  screen(): string[] {
    const text = this.tmux(['capture-pane', '-p', '-J', '-t', 'dibctl']);
    return text.replace(/\n+$/, '').split('\n');
  }

  /** Everything the pane showed, scrolled-off lines included. */
  history(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-', '-t', 'dibctl']);
  }

  /** What tmux knows of the pane: `#{pane_dead}` and the like. */
  format(fmt: string): string {
    return this.tmux(['display-message', '-p', '-t', 'dibctl', fmt]).trim();
  }

  /** dibctl's exit status once it ended (128 + the signal's number when a signal ended it); undefined while it runs. */
  exitStatus(): number | undefined {
    if (!existsSync(this.exitFile)) return undefined;
    const text = readFileSync(this.exitFile, 'utf8').trim();
    return text ? Number(text) : undefined;
  }

  /** Whether the terminal shows its cursor (a program that hid it and ended without showing it again leaves it hidden). */
  cursorShown(): boolean {
    return this.format('#{cursor_flag}') === '1';
  }

  resize(width: number, height: number): void {
    this.tmux(['resize-window', '-t', 'dibctl', '-x', String(width), '-y', String(height)]);
  }

  /** Keys as tmux names them: `C-c`, `Enter`. */
  sendKeys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', 'dibctl', ...keys]);
  }

  /** Waits until the screen satisfies check; returns that screen. */
  async waitForScreen(check: (rows: string[]) => boolean, what: string, timeoutMs = 60_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = this.screen();
      if (check(rows)) return rows;
      if (Date.now() > deadline || this.exitStatus() !== undefined) {
        throw new Error(`the terminal never showed ${what}:\n${this.history()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for dibctl to end; returns its exit status. */
  async exited(timeoutMs = 90_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = this.exitStatus();
      if (status !== undefined) {
        await this.settled();
        return status;
      }
      if (Date.now() > deadline) throw new Error(`dibctl did not exit:\n${this.history()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Waits until tmux has shown all the output it was given: two looks at the screen agree. */
  private async settled(): Promise<void> {
    let before = this.history();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 150));
      const now = this.history();
      if (now === before) return;
      before = now;
    }
  }

  /** Ends the tmux server and what runs in it. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    spawnSync(TMUX, ['-L', this.socket, 'kill-server'], { timeout: 10_000 });
    if (this.socketPath) rmSync(this.socketPath, { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
