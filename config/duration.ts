/**
 * Durations in upload.yaml (`retire.check_every`, `retry.max_interval`) and on
 * the command line (`schedule create --every`): a number of seconds, or digits
 * followed by s, m, h, d or w.
 */
import { ConfigError } from './errors';

export const DURATION_PATTERN = /^(\d+)\s*([smhdw]?)$/;

const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds of a duration text (`90s`, `30m`, `6h`, `7d`, `2w`, `45`), undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]] : undefined;
}

/** `90s`, `30m`, `6h`, `7d`, `2w` or a number of seconds, in seconds. */
export function durationSeconds(value: string | number): number {
  if (typeof value === 'number') return value;
  const seconds = parseDuration(value.trim());
  if (seconds === undefined) throw new ConfigError(`not a duration: ${value}`);
  return seconds;
}
