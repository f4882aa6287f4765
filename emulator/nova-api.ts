/** What every Nova resource module shares: microversions, Nova's validation errors, pagination, the region it serves. */
import { AuthContext, Cloud } from './cloud';
import { HttpError, Request } from './http';
import { Image, RegionState, Server } from './state';

export const MIN_VERSION = '2.1';
export const MAX_VERSION = '2.96';
export const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
export const MALFORMED = 'Malformed request body';

export interface Microversion {
  major: number;
  minor: number;
}

function parseVersion(v: string): Microversion {
  const [major, minor] = v.split('.').map(Number);
  return { major, minor };
}

export function atLeast(v: Microversion, wanted: string): boolean {
  const w = parseVersion(wanted);
  return v.major > w.major || (v.major === w.major && v.minor >= w.minor);
}

/** The microversion a request asks for, from either header; 400/406 like Nova. */
export function requestedVersion(req: Request): Microversion {
  let raw: string | undefined;
  const modern = req.headers['openstack-api-version'];
  if (typeof modern === 'string') {
    for (const part of modern.split(',')) {
      const [service, version] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute') raw = version;
    }
  }
  const legacy = req.headers['x-openstack-nova-api-version'];
  if (raw === undefined && typeof legacy === 'string') raw = legacy.trim();
  if (raw === undefined) return parseVersion(MIN_VERSION);
  if (raw.toLowerCase() === 'latest') return parseVersion(MAX_VERSION);
  if (!/^\d+\.\d+$/.test(raw)) {
    throw new HttpError(400, `API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`);
  }
  const v = parseVersion(raw);
  if (!atLeast(v, MIN_VERSION) || !atLeast(parseVersion(MAX_VERSION), raw)) {
    throw new HttpError(
      406,
      `Version ${raw} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`,
    );
  }
  return v;
}

export function versionHeaders(v: Microversion): Record<string, string> {
  const s = `${v.major}.${v.minor}`;
  return {
    'OpenStack-API-Version': `compute ${s}`,
    'X-OpenStack-Nova-API-Version': s,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}

/** Nova's 400 for a request that fails its JSON schema. */
export const invalid = (field: string, value: unknown, reason: string) =>
  new HttpError(
    400,
    `Invalid input for field/attribute ${field}. Value: ${typeof value === 'string' ? value : JSON.stringify(value)}. ${reason}`,
  );

/** The schema's `additionalProperties: false`: the first key not allowed is a 400. */
export function onlyKeys(field: string, value: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(value).filter((k) => !allowed.includes(k));
  if (extra.length) throw invalid(field, value, `Additional properties are not allowed ('${extra[0]}' was unexpected)`);
}

export function adminOnly(ctx: AuthContext, rule: string): void {
  if (!ctx.isAdmin) throw new HttpError(403, `Policy doesn't allow ${rule} to be performed.`);
}

export interface NovaHooks {
  /** Starts the SSH endpoint of a server that just became ACTIVE; rejects when it cannot. */
  startGuest(region: string, server: Server): Promise<void>;
  stopGuest(region: string, server: Server, removeFiles: boolean): Promise<void>;
  /** The server's own SSH host keys (`TYPE BASE64` lines), which its console log prints. */
  hostKeys(region: string, server: Server): string[];
  /** The console of a server that writes its own (a real guest); without it, the emulator writes one at boot. */
  console?(region: string, server: Server): string[];
  /**
   * Looks an image up in an image service outside this emulator, as the caller
   * (undefined when it does not exist or the caller may not see it). Without
   * it, images come from the emulated Glance of the region.
   */
  findImage?(region: string, id: string, ctx: AuthContext): Promise<Image | undefined>;
}

/** One region's Nova: the cloud, the region's state and the URL its links start with. */
export class NovaRegion {
  constructor(
    readonly cloud: Cloud,
    readonly region: string,
    readonly hooks: NovaHooks,
  ) {}

  rs(): RegionState {
    return this.cloud.region(this.region);
  }

  /** The compute endpoint without its version (`…/compute/REGION`). */
  base(): string {
    return `${this.cloud.baseUrl}/compute/${this.region}`;
  }

  /** `limit`/`marker` as Nova reads them, and the `<what>_links` next link when the page is full. */
  paginate<T extends { id: string | number }>(req: Request, items: T[], markerKey: (t: T) => string, what: string) {
    const limitRaw = req.query.get('limit');
    let limit = 1000;
    if (limitRaw !== null) {
      if (!/^\d+$/.test(limitRaw))
        throw invalid('query parameters limit', limitRaw, `'${limitRaw}' does not match '^[0-9]*$'`);
      limit = Math.min(Number(limitRaw), 1000);
    }
    const marker = req.query.get('marker');
    let rest = items;
    if (marker !== null) {
      const idx = items.findIndex((i) => markerKey(i) === marker);
      if (idx < 0) throw new HttpError(400, `marker [${marker}] not found`);
      rest = items.slice(idx + 1);
    }
    const page = rest.slice(0, limit);
    let next: string | undefined;
    if (page.length && page.length === limit) {
      const q = new URLSearchParams(req.query);
      q.set('marker', markerKey(page[page.length - 1]));
      q.set('limit', String(limit));
      next = `${this.base()}${req.path}?${q.toString()}`;
    }
    return { page, links: next ? { [`${what}_links`]: [{ rel: 'next', href: next }] } : {} };
  }
}
