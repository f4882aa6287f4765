/** In-memory output with a cap: the end of the text is kept, and a marker says how much was cut. */

export class TailBuffer {
  private kept = '';
  private cut = 0;

  constructor(readonly limit: number) {}

  append(text: string): void {
    const all = this.kept + text;
    if (all.length > this.limit) {
      this.cut += all.length - this.limit;
      this.kept = all.slice(-this.limit);
    } else {
      this.kept = all;
    }
  }

  /** Characters dropped from the beginning so far. */
  get truncated(): number {
    return this.cut;
  }

  /** The kept text, after a marker line when something was cut. */
  text(): string {
    return this.cut ? `${truncationMarker(this.cut)}\n${this.kept}` : this.kept;
  }
}

export function truncationMarker(characters: number): string {
  return `[dibctl: ${characters} earlier characters of output not kept]`;
}
