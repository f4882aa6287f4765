/** Where a process's output goes: the runner writes each chunk with the name of its stream. */
export interface OutputSink {
  write(chunk: string | Buffer, stream: string): void;
  /** A line of dibctl's own (why the process was stopped). */
  note?(line: string): void;
}
