/**
 * Known secrets removed from a process's output before anything keeps or
 * shows it. Output is scrubbed a line at a time so a secret split between two
 * reads is still found; a line longer than HOLD_LIMIT is passed on unfinished.
 */
import { scrub } from '../../openstack/redact';
import type { OutputSink } from './sink';

const HOLD_LIMIT = 64 * 1024;

/**
 * Names of variables whose values are secrets: passwords, credential secrets,
 * tokens, keys. Variables that name a file or a directory (`…_FILE`, `…_PATH`,
 * `…_DIR`, and dibctl's own `DIBCTL_SSH_PRIVATE_KEY`, a key file's path) hold
 * no secret themselves.
 */
export function isSecretName(name: string): boolean {
  if (/_(FILE|PATH|DIR)$/i.test(name) || name === 'DIBCTL_SSH_PRIVATE_KEY') return false;
  return /PASSWORD|PASSWD|SECRET|TOKEN|KEY/i.test(name);
}

/** The values of an environment's secret-named variables. */
export function environmentSecrets(...envs: Array<NodeJS.ProcessEnv | Record<string, string> | undefined>): string[] {
  const out: string[] = [];
  for (const env of envs) {
    for (const [name, value] of Object.entries(env ?? {})) if (value && isSecretName(name)) out.push(value);
  }
  return out;
}

/** The secrets worth looking for (scrub ignores short ones, which would hide ordinary text). */
export function knownSecrets(values: Iterable<string | undefined> | undefined): string[] {
  return [...(values ?? [])].filter((s): s is string => typeof s === 'string' && s.length >= 4);
}

export class ScrubbingSink implements OutputSink {
  private partial = new Map<string, string>();

  constructor(
    private readonly inner: OutputSink,
    private readonly secrets: string[],
  ) {}

  write(chunk: string | Buffer, stream: string): void {
    const text = (this.partial.get(stream) ?? '') + chunk.toString();
    const end = text.length > HOLD_LIMIT ? text.length : text.lastIndexOf('\n') + 1;
    this.partial.set(stream, text.slice(end));
    if (end > 0) this.inner.write(scrub(text.slice(0, end), this.secrets), stream);
  }

  note(line: string): void {
    this.inner.note?.(scrub(line, this.secrets));
  }

  /** Passes on what is held back (the output ended). */
  flush(): void {
    for (const [stream, rest] of this.partial) if (rest) this.inner.write(scrub(rest, this.secrets), stream);
    this.partial.clear();
  }
}
