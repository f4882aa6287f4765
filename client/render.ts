/** All command output goes through here, so every command looks the same. */

export interface Output {
  out(line: string): void;
  err(line: string): void;
  json: boolean;
}

export function consoleOutput(json = false): Output {
  return {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    json,
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
