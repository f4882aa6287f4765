/**
 * Following log files that activities on this host write (build output, test
 * output), so the operator sees them as they grow, whichever worker process
 * runs the activity. Only complete lines are printed; `flush` prints the rest.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export class LogTail {
  private offset: number;
  private partial = '';

  constructor(
    readonly file: string,
    private readonly print: (line: string) => void,
    /** Start here (e.g. the size before the activity started: earlier runs' output is not shown). */
    from?: number,
  ) {
    this.offset = from ?? 0;
  }

  /** The current size of a file (0 when it does not exist). */
  static sizeOf(file: string): number {
    return existsSync(file) ? statSync(file).size : 0;
  }

  poll(): void {
    if (!existsSync(this.file)) return;
    const size = statSync(this.file).size;
    if (size <= this.offset) return;
    const fd = openSync(this.file, 'r');
    try {
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const lines = (this.partial + buf.subarray(0, n).toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.print(line.replace(/\r$/, ''));
    } finally {
      closeSync(fd);
    }
  }

  flush(): void {
    this.poll();
    if (this.partial) this.print(this.partial);
    this.partial = '';
  }
}

/** Follows every `*.log` file of a directory, in name order. */
export class LogDirTail {
  private tails = new Map<string, LogTail>();

  constructor(
    readonly dir: string,
    private readonly print: (line: string) => void,
  ) {}

  poll(): void {
    if (!existsSync(this.dir)) return;
    for (const name of readdirSync(this.dir)
      .filter((n) => n.endsWith('.log'))
      .sort()) {
      const file = path.join(this.dir, name);
      let t = this.tails.get(file);
      if (!t) this.tails.set(file, (t = new LogTail(file, this.print)));
      t.poll();
    }
  }

  flush(): void {
    this.poll();
    for (const t of this.tails.values()) t.flush();
  }
}
