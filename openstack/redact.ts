/**
 * Redaction of secrets in anything the client prints or puts into an error:
 * headers, JSON bodies, URLs.
 */

const REDACTED = '***';

const SECRET_HEADERS = new Set([
  'x-auth-token',
  'x-subject-token',
  'authorization',
  'x-service-token',
  'cookie',
  'set-cookie',
]);

/** Keys whose values are secrets wherever they appear in a JSON body. */
const SECRET_KEY = /(password|secret|passwd|adminpass|private_key|token|credential_secret)/i;

function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.has(name.toLowerCase());
}

export function redactHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || v === null) continue;
    out[k] = isSecretHeader(k) ? REDACTED : Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/**
 * A deep copy of a JSON value with secrets replaced. A key named like a secret
 * has its string value hidden; a `token` object keeps its structure but loses
 * its `id` (Keystone v2.0 puts the token itself there).
 */
export function redactJson(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactJson(v, parentKey));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (parentKey.toLowerCase() === 'token' && k === 'id') out[k] = REDACTED;
      else if (SECRET_KEY.test(k) && (typeof v === 'string' || typeof v === 'number')) out[k] = REDACTED;
      else if (k === 'user_data' && typeof v === 'string') out[k] = REDACTED;
      else out[k] = redactJson(v, k);
    }
    return out;
  }
  return value;
}

/** The URL with user:password removed and secret-looking query values hidden. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_KEY.test(key)) u.searchParams.set(key, REDACTED);
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** The URL without its query string (for error messages). */
export function urlPath(url: string): string {
  const clean = redactUrl(url);
  const q = clean.indexOf('?');
  return q >= 0 ? clean.slice(0, q) : clean;
}

/** Removes every occurrence of the given secret strings from a text. */
export function scrub(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join(REDACTED);
  }
  return out;
}
