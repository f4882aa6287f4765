/** All command output goes through here, so every command looks the same. */
import type { UploadHeartbeat } from '../activities';

export interface Output {
  out(line: string): void;
  err(line: string): void;
  json: boolean;
  /** The terminal progress goes to, when output is the process's own (a live view may draw there). */
  terminal?: NodeJS.WriteStream;
}

export function consoleOutput(json = false): Output {
  return {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    json,
    terminal: process.stderr,
  };
}

/** A plain text table: header row, a rule, left-aligned columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function printJson(o: Output, value: unknown): void {
  o.out(JSON.stringify(value, null, 2));
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
/** Bytes as the operator reads them: `512 B`, `3.0 MiB`. */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** Seconds left, rounded: `42s`, `3m05s`, `2h10m`; `?` when unknown. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const r = Math.round(s);
  if (r < 60) return `${r}s`;
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

/** One progress line: bytes, share, rate and time left. */
export function progressLine(what: string, p: UploadHeartbeat): string {
  const pct = p.total ? Math.floor((p.bytes / p.total) * 100) : 0;
  const eta = p.rate > 0 ? formatSeconds((p.total - p.bytes) / p.rate) : '?';
  return `${what}: ${formatBytes(p.bytes)} of ${formatBytes(p.total)} (${pct}%), ${formatBytes(p.rate)}/s, ETA ${eta}`;
}
