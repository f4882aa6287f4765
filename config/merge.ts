/**
 * How an image's settings combine with an environment's. Small pure functions,
 * each one rule of dibctl's.
 */
import type { GlanceSection, NovaTimeoutsSection } from './schema';

/** Both present: the larger; one present: that one. */
export function largerTimeout(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.max(a, b);
}

/** Every nova timeout present in image and environment: the larger wins. */
export function mergeNovaTimeouts(image: NovaTimeoutsSection = {}, env: NovaTimeoutsSection = {}): NovaTimeoutsSection {
  const out: NovaTimeoutsSection = {};
  for (const key of ['create_timeout', 'active_timeout', 'keypair_timeout', 'cleanup_timeout'] as const) {
    const v = largerTimeout(image[key], env[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Concatenates lists keeping the first occurrence of each value. */
export function unionList(a: readonly string[] | undefined, b: readonly string[] | undefined): string[] | undefined {
  if (a === undefined && b === undefined) return undefined;
  return [...new Set([...(a ?? []), ...(b ?? [])])];
}

/** `true` wins over `false`. */
function eitherTrue(a: boolean | undefined, b: boolean | undefined): boolean | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a || b;
}

const ENVIRONMENT_WINS = ['api_version', 'endpoint', 'disk_format', 'container_format'] as const;

/**
 * Image's glance section merged with an environment's:
 * environment wins for api_version, endpoint, disk_format, container_format;
 * the maximum wins for upload_timeout, upload_stall_timeout, protected, min_disk, min_ram;
 * properties are merged (environment wins on the same key), tags and
 * share_with concatenated without duplicates; anything else (name, public): image wins.
 */
export function mergeGlance(image: GlanceSection = {}, env: GlanceSection = {}): GlanceSection {
  const out: GlanceSection = { ...env, ...image };
  for (const key of ENVIRONMENT_WINS) {
    if (env[key] !== undefined) (out as Record<string, unknown>)[key] = env[key];
  }
  const set = <T extends keyof GlanceSection>(key: T, value: GlanceSection[T] | undefined) => {
    if (value === undefined) delete out[key];
    else out[key] = value;
  };
  set('upload_timeout', largerTimeout(image.upload_timeout, env.upload_timeout));
  set('upload_stall_timeout', largerTimeout(image.upload_stall_timeout, env.upload_stall_timeout));
  set('min_disk', largerTimeout(image.min_disk, env.min_disk));
  set('min_ram', largerTimeout(image.min_ram, env.min_ram));
  set('protected', eitherTrue(image.protected, env.protected));
  set('properties', image.properties || env.properties ? { ...image.properties, ...env.properties } : undefined);
  set('tags', unionList(image.tags, env.tags));
  set('share_with', unionList(image.share_with, env.share_with));
  return out;
}

/** Environment variables for tests: environment's over image's (the process environment comes below both). */
export function mergeEnvironmentVariables(
  image: Record<string, string> = {},
  env: Record<string, string> = {},
): Record<string, string> {
  return { ...image, ...env };
}
