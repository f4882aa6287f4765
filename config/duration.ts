/**
 * Durations in upload.yaml (`retire.check_every`, `retry.max_interval`) and on
 * the command line (`schedule create --every`): a number of seconds, or digits
 * followed by s, m, h, d or w. Every duration and timeout is at most
 * LIMITS.maxDurationSeconds.
 */
import { LIMITS } from './defaults';
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

const YEAR = 365 * 86400;

/** A bound in words with its seconds: `10 years (315360000 seconds)`, `1 minute (60 seconds)`. */
function spelled(seconds: number): string {
  const units: [number, string][] = [
    [YEAR, 'year'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  const unit = units.find(([size]) => seconds >= size && seconds % size === 0);
  if (!unit) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const n = seconds / unit[0];
  return `${n} ${unit[1]}${n === 1 ? '' : 's'} (${seconds} seconds)`;
}

/** `must be at most 10 years (315360000 seconds)`: what a value above the longest duration is told. */
export const TOO_LONG = `must be at most ${spelled(LIMITS.maxDurationSeconds)}`;

/** What is wrong with a duration of `seconds` that must lie within [minSeconds, the longest duration]; undefined when nothing is. */
export function durationProblem(seconds: number, minSeconds = 0): string | undefined {
  if (seconds > LIMITS.maxDurationSeconds) return TOO_LONG;
  if (seconds < minSeconds) return `must be at least ${spelled(minSeconds)}`;
  return undefined;
}
