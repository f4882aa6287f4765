/**
 * Catalog URLs in the wild come with or without a version, with or without a
 * trailing slash, and for compute with or without the project id. These
 * functions turn any of them into the versioned root each client uses.
 */

function trimSlashes(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/** Glance: `https://g:9292`, `https://g:9292/`, `https://g:9292/v2`, `/v2.0`, `/v1` → `https://g:9292/v2`. */
export function imageRoot(url: string): string {
  const base = trimSlashes(url).replace(/\/v\d+(?:\.\d+)?$/i, '');
  return `${base}/v2`;
}

/**
 * Nova: a URL that already names an API version (`/v2.1`, `/v2.1/<project>`,
 * the legacy `/v2/<project>`) is used as it is, since that is what the cloud
 * serves; a bare root gets `/v2.1`.
 */
export function computeRoot(url: string): string {
  const base = trimSlashes(url);
  if (/\/v2(?:\.\d+)?(?:\/[^/]+)?$/i.test(base)) return base;
  return `${base}/v2.1`;
}

/** True when a compute root is the legacy v2 API, which knows no microversions. */
export function isLegacyCompute(root: string): boolean {
  return /\/v2(?:\/[^/]+)?$/i.test(trimSlashes(root)) && !/\/v2\.\d+/i.test(root);
}

/** Neutron: `https://n:9696`, `https://n:9696/`, `https://n:9696/v2.0/` → `https://n:9696/v2.0`. */
export function networkRoot(url: string): string {
  const base = trimSlashes(url).replace(/\/v2(?:\.0)?$/i, '');
  return `${base}/v2.0`;
}
