/** Output kept three ways: live lines to a callback, everything in a file, the end in memory. */
import fs from 'node:fs';
import { TailBuffer } from './bounded';
import type { OutputSink } from './sink';

const TAIL_CHARS = 8 * 1024;
/** A test case's own output kept for its report: the results travel through Temporal. */
const SECTION_CHARS = 4 * 1024;

export class OutputLog implements OutputSink {
  private readonly tailText = new TailBuffer(TAIL_CHARS);
  private section: TailBuffer | undefined;
  private partial = new Map<string, string>();
  private readonly fd: number;

  constructor(
    readonly file: string,
    private readonly onOutput?: (line: string) => void,
  ) {
    this.fd = fs.openSync(file, 'a', 0o600);
  }

  /** Text from a named stream (stdout, stderr, ...). */
  write(chunk: string | Buffer, stream = 'out'): void {
    const text = chunk.toString();
    if (!text) return;
    fs.writeSync(this.fd, text);
    this.tailText.append(text);
    this.section?.append(text);
    const pending = (this.partial.get(stream) ?? '') + text;
    const lines = pending.split('\n');
    this.partial.set(stream, lines.pop() ?? '');
    for (const line of lines) this.emit(line);
  }

  /** A line of dibctl's own (what is run, why it stopped). */
  note(line: string): void {
    this.write(`${line}\n`, 'note');
  }

  private emit(line: string): void {
    try {
      this.onOutput?.(line.replace(/\r$/, ''));
    } catch {
      // a failing listener must not break the run
    }
  }

  /**
   * Starts keeping the end of what is written from now on apart (the output of
   * one test case inside an entry); returns what it holds so far when called.
   */
  startSection(limit = SECTION_CHARS): () => string {
    const section = new TailBuffer(limit);
    this.section = section;
    return () => section.text();
  }

  /** The end of the output (a marker first when the beginning was dropped). */
  tail(): string {
    return this.tailText.text();
  }

  close(): void {
    for (const rest of this.partial.values()) if (rest) this.emit(rest);
    this.partial.clear();
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
