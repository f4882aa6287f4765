/**
 * The live view: on a terminal, a command that follows a workflow shows one
 * block redrawn in place — each stage with its state and duration, a progress
 * bar per upload, the retries as they happen — and every other line it prints
 * scrolls above that block. Without a terminal, with NO_COLOR or CI set, or
 * with --json, there is no live view and commands print their plain lines.
 */
import type { UploadHeartbeat } from '../activities';
import { Output, formatBytes, formatSeconds } from './render';

type PhaseState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

/** A stage of the block: its title, and the workflow stages (its stage query's answers) that belong to it. */
export interface PhaseSpec {
  title: string;
  matches: RegExp;
  /** Shown only once the workflow reaches it (a hold, a cleanup after a failure). */
  optional?: boolean;
}

interface Phase extends PhaseSpec {
  state: PhaseState;
  started?: number;
  ended?: number;
  /** The workflow's own words for what the stage does now. */
  detail?: string;
}

interface Bar {
  label: string;
  progress?: UploadHeartbeat;
  /** What the upload environment does besides uploading (sharing, obsoleting, done). */
  note?: string;
}

const RETRIES_SHOWN = 3;
const BAR_CELLS = 24;
const MIN_BAR_CELLS = 6;

/** Elapsed time: `0.4s`, `12.3s`, `4m05s`, `1h02m`. */
function elapsed(ms: number): string {
  const s = Math.max(ms, 0) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return formatSeconds(s);
}

/** Columns a code point takes on a terminal: 0 for combining marks, 2 for wide East Asian and emoji. */
function columns(cp: number): number {
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** The text as one terminal line: control characters (escapes a cloud's message may carry) become spaces. */
function plain(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/** Columns the text takes on a terminal. */
export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += columns(ch.codePointAt(0)!);
  return w;
}

/** The text cut to at most width columns, ending in `…` when cut. */
export function truncate(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  if (width <= 0) return '';
  let out = '';
  let w = 0;
  for (const ch of text) {
    const c = columns(ch.codePointAt(0)!);
    if (w + c > width - 1) break;
    out += ch;
    w += c;
  }
  return out + '…';
}

function bar(p: UploadHeartbeat, cells: number): string {
  const share = p.total ? Math.min(p.bytes / p.total, 1) : 0;
  const full = Math.floor(share * cells);
  return `[${'#'.repeat(full)}${'.'.repeat(cells - full)}]`;
}

/** What the live block shows; render() turns it into the block's lines. */
export class LiveModel {
  private readonly phases: Phase[];
  private readonly bars = new Map<string, Bar>();
  private readonly retries: string[] = [];
  private ended?: number;
  private outcome?: 'done' | 'failed' | 'interrupted';

  constructor(
    private readonly title: string,
    phases: PhaseSpec[],
    private readonly started: number = Date.now(),
  ) {
    this.phases = phases.map((p) => ({ ...p, state: 'pending' }));
  }

  /** The workflow's stage: the stage it belongs to runs, those before it are over. */
  stage(text: string, now = Date.now()): void {
    if (this.outcome) return;
    const i = this.phases.findIndex((p) => p.matches.test(text));
    if (i < 0) {
      const running = this.phases.find((p) => p.state === 'running');
      if (running) running.detail = text;
      return;
    }
    // a stage seen pending until now ran between two looks, unless it is one the workflow may pass by
    this.phases.forEach((p, j) => {
      if (j >= i) return;
      if (p.state === 'running') Object.assign(p, { state: 'done', ended: now });
      else if (p.state === 'pending') p.state = p.optional ? 'skipped' : 'done';
    });
    const p = this.phases[i];
    if (p.state !== 'running') Object.assign(p, { state: 'running', started: now, ended: undefined });
    p.detail = text;
  }

  /** What the running stage does now, in words of a workflow below (a child's stage). */
  detail(text: string): void {
    const running = this.phases.find((p) => p.state === 'running');
    if (running && !this.outcome) running.detail = text;
  }

  /** An upload's progress (from its heartbeat) or what its environment does besides uploading. */
  upload(key: string, label: string, progress?: UploadHeartbeat, note?: string): void {
    const b = this.bars.get(key) ?? { label };
    if (progress) b.progress = progress;
    if (note !== undefined) b.note = note;
    this.bars.set(key, b);
  }

  /** A step waits for its next attempt; the newest few stay shown. */
  retry(line: string): void {
    if (this.retries.includes(line)) return;
    this.retries.push(line);
    if (this.retries.length > RETRIES_SHOWN) this.retries.shift();
  }

  /**
   * The workflow ended (or the operator interrupted): the running stage is over; on success the
   * stages not seen ran between two looks, on failure they never ran.
   */
  finish(outcome: 'done' | 'failed' | 'interrupted', now = Date.now()): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.ended = now;
    if (outcome === 'interrupted') return;
    for (const p of this.phases) {
      if (p.state === 'running') Object.assign(p, { state: outcome === 'done' ? 'done' : 'failed', ended: now });
      else if (p.state === 'pending') p.state = outcome === 'done' && !p.optional ? 'done' : 'skipped';
    }
    if (outcome === 'done') for (const b of this.bars.values()) if (b.progress) b.progress.bytes = b.progress.total;
  }

  /** The block's lines, none wider than width columns, at most height of them. */
  render(width: number, height: number, now = Date.now()): string[] {
    const lines: string[] = [];
    const end = this.ended ?? now;
    const outcome = this.outcome === 'interrupted' ? '  interrupted' : '';
    lines.push(`${this.title}  ${elapsed(end - this.started)}${outcome}`);
    const shown = this.phases.filter((p) => !(p.optional && (p.state === 'pending' || p.state === 'skipped')));
    const titleWidth = Math.max(...shown.map((p) => textWidth(p.title)), 0);
    for (const p of shown) {
      const took = p.started !== undefined ? elapsed((p.ended ?? end) - p.started) : '';
      const detail = p.state === 'running' && p.detail ? `  ${p.detail}` : '';
      lines.push(`  ${p.state.padEnd(8)} ${p.title.padEnd(titleWidth)}  ${took.padStart(6)}${detail}`.trimEnd());
    }
    const labelWidth = Math.max(...[...this.bars.values()].map((b) => textWidth(b.label)), 0);
    for (const b of this.bars.values()) {
      const label = b.label.padEnd(labelWidth);
      const parts: string[] = [];
      if (b.progress) {
        const p = b.progress;
        const pct = p.total ? Math.floor((p.bytes / p.total) * 100) : 0;
        parts.push(
          `${formatBytes(p.bytes)} of ${formatBytes(p.total)}`,
          `${String(pct).padStart(3)}%`,
          `${formatBytes(p.rate)}/s`,
          // no time left to tell once the environment does something else (or ended)
          ...(p.bytes < p.total && p.rate > 0 && !b.note ? [`ETA ${formatSeconds((p.total - p.bytes) / p.rate)}`] : []),
        );
      }
      if (b.note) parts.push(b.note);
      const rest = parts.join('  ');
      // on a narrow terminal the bar shrinks, then goes, before the figures are cut
      const cells = Math.min(BAR_CELLS, width - 4 - labelWidth - textWidth(rest) - 6);
      const drawn = b.progress && cells >= MIN_BAR_CELLS ? `${bar(b.progress, cells)}  ` : '';
      lines.push(`    ${label}  ${drawn}${rest}`.trimEnd());
    }
    for (const r of this.retries) lines.push(`  ${r}`);
    const fitted =
      lines.length > height ? [...lines.slice(0, height - 1), `  … ${lines.length - height + 1} more`] : lines;
    return fitted.map((l) => truncate(plain(l), width));
  }
}

/** Whether this output gets a live view: a terminal, no NO_COLOR, no CI, no --json. */
function wantsLiveView(o: Output, env: NodeJS.ProcessEnv): boolean {
  if (o.json || !o.terminal?.isTTY) return false;
  if (env.NO_COLOR !== undefined || env.CI || env.TERM === 'dumb') return false;
  return true;
}

type Write = typeof process.stdout.write;

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const REDRAW_MS = 200;

interface LiveViewOptions {
  /**
   * What Ctrl-C (SIGINT) or SIGTERM does besides stopping the view: 'handled' when
   * the command itself acts on it (cancels its workflow and shows the cleanup),
   * 'exit' to let the signal end the process as it would without a live view.
   */
  interrupts: 'handled' | 'exit';
}

/**
 * A live block on the terminal. Everything the process writes to stdout or
 * stderr while it runs is printed above the block, whole lines at a time.
 */
export class LiveView {
  readonly model: LiveModel;
  private drawn: string[] = [];
  private drawnColumns: number;
  private running = true;
  private readonly timer: NodeJS.Timeout;
  private readonly writes: { stream: NodeJS.WriteStream; write: Write; pending: string }[];
  private readonly onResize = () => this.redraw(true);
  private readonly onExit = () => this.writeRaw(SHOW_CURSOR);
  private readonly onSignal: (signal: NodeJS.Signals) => void;

  constructor(
    private readonly term: NodeJS.WriteStream,
    title: string,
    phases: PhaseSpec[],
    opts: LiveViewOptions,
  ) {
    this.model = new LiveModel(title, phases);
    this.drawnColumns = this.width();
    this.writes = [process.stdout, process.stderr].map((stream) => ({ stream, write: stream.write, pending: '' }));
    for (const w of this.writes) {
      const passThrough = (chunk: unknown, encoding?: unknown, cb?: unknown) =>
        this.passThrough(w, chunk, encoding, cb);
      w.stream.write = passThrough as Write;
    }
    this.onSignal = (signal) => {
      this.model.finish('interrupted');
      this.stop();
      if (opts.interrupts === 'exit' && process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.on('exit', this.onExit);
    term.on('resize', this.onResize);
    this.writeRaw(HIDE_CURSOR);
    this.redraw();
    this.timer = setInterval(() => this.redraw(), REDRAW_MS);
    this.timer.unref();
  }

  /** False once stopped (at the end, or by Ctrl-C): the command prints its plain lines again. */
  get active(): boolean {
    return this.running;
  }

  stage(text: string): void {
    this.model.stage(text);
  }

  detail(text: string): void {
    this.model.detail(text);
  }

  upload(key: string, label: string, progress?: UploadHeartbeat, note?: string): void {
    this.model.upload(key, label, progress, note);
  }

  retry(line: string): void {
    this.model.retry(line);
  }

  /** Draws the final block, which stays on the screen, and gives the terminal back. */
  finish(outcome: 'done' | 'failed'): void {
    this.model.finish(outcome);
    this.stop();
  }

  /** Stops redrawing: the last block stays, the cursor shows, output is written as it comes. */
  stop(): void {
    if (!this.running) return;
    this.redraw();
    this.running = false;
    clearInterval(this.timer);
    this.term.removeListener('resize', this.onResize);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    for (const w of this.writes) {
      w.stream.write = w.write;
      if (w.pending) w.write.call(w.stream, w.pending);
      w.pending = '';
    }
    this.writeRaw(SHOW_CURSOR);
    process.removeListener('exit', this.onExit);
  }

  private width(): number {
    return Math.max(this.term.columns || 80, 20);
  }

  private writeRaw(text: string): void {
    const w = this.writes.find((x) => x.stream === this.term);
    (w?.write ?? this.term.write).call(this.term, text);
  }

  /**
   * Rows the drawn block takes now: a terminal that narrowed may have wrapped
   * its lines (tmux and most terminals reflow them).
   */
  private drawnRows(): number {
    const cols = this.width();
    if (cols >= this.drawnColumns) return this.drawn.length;
    return this.drawn.reduce((n, l) => n + Math.max(1, Math.ceil(textWidth(l) / cols)), 0);
  }

  private clear(): string {
    const rows = this.drawnRows();
    this.drawn = [];
    return rows ? `\r\x1b[${rows}A\x1b[J` : '';
  }

  private frame(): string[] {
    const cols = this.width();
    // one column spare: a line that fills the width would leave the cursor waiting to wrap
    return this.model.render(cols - 1, Math.max((this.term.rows || 24) - 2, 3));
  }

  /** Draws the block again when it changed (always after a resize). */
  private redraw(force = false): void {
    if (!this.running) return;
    const lines = this.frame();
    if (!force && lines.join('\n') === this.drawn.join('\n')) return;
    const text = this.clear() + lines.map((l) => l + '\n').join('');
    this.drawn = lines;
    this.drawnColumns = this.width();
    this.writeRaw(text);
  }

  /** A write of the process while the block shows: whole lines go above the block. */
  private passThrough(
    w: { stream: NodeJS.WriteStream; write: Write; pending: string },
    chunk: unknown,
    encoding?: unknown,
    cb?: unknown,
  ): boolean {
    const callback = typeof encoding === 'function' ? encoding : typeof cb === 'function' ? cb : undefined;
    const text =
      typeof chunk === 'string'
        ? chunk
        : Buffer.from(chunk as Uint8Array).toString(
            typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
          );
    // a stream that is not this terminal (stdout to a file) is written as it is
    if (w.stream !== this.term && !w.stream.isTTY) return w.write.call(w.stream, chunk as string, callback as never);
    w.pending += text;
    const cut = w.pending.lastIndexOf('\n');
    if (cut >= 0) {
      const whole = w.pending.slice(0, cut + 1);
      w.pending = w.pending.slice(cut + 1);
      this.writeRaw(this.clear());
      w.write.call(w.stream, whole);
      this.redraw(true);
    }
    if (callback) process.nextTick(callback as () => void);
    return true;
  }
}

/** A live view for the command's output when it has a terminal for one (see wantsLiveView); else undefined. */
export function liveView(
  o: Output,
  title: string,
  phases: PhaseSpec[],
  opts: LiveViewOptions,
  env: NodeJS.ProcessEnv = process.env,
): LiveView | undefined {
  if (!wantsLiveView(o, env) || !o.terminal) return undefined;
  return new LiveView(o.terminal, title, phases, opts);
}
