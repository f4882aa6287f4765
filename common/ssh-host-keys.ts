/**
 * SSH host keys as cloud-init prints them on the console and as OpenSSH keeps
 * them in known_hosts: reading the `-----BEGIN SSH HOST KEY KEYS-----` block
 * of a console log, SHA256 fingerprints as `ssh-keygen -l` shows them, and
 * known_hosts lines for one host. Used by the worker (pinning the test
 * instance's keys) and by the emulator (printing its guests' keys).
 */
import { createHash } from 'node:crypto';

export interface HostKey {
  /** The key type as the key itself names it: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ... */
  type: string;
  /** The public key blob, base64 (the second word of a `.pub` line). */
  key: string;
}

export const CONSOLE_KEYS_BEGIN = '-----BEGIN SSH HOST KEY KEYS-----';
export const CONSOLE_KEYS_END = '-----END SSH HOST KEY KEYS-----';

const KEY_TYPES = [
  'ssh-ed25519',
  'ssh-ed448',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'ssh-dss',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

const KEY_WORDS = new RegExp(
  `(?:^|\\s)(${KEY_TYPES.map((t) => t.replace(/[.@]/g, '\\$&')).join('|')})\\s+([A-Za-z0-9+/]+={0,2})(?=\\s|$)`,
);

/** Reads an SSH string (uint32 length + bytes) at `offset`; undefined when the blob is too short. */
function sshString(blob: Buffer, offset: number): { value: Buffer; next: number } | undefined {
  if (offset + 4 > blob.length) return undefined;
  const len = blob.readUInt32BE(offset);
  if (offset + 4 + len > blob.length) return undefined;
  return { value: blob.subarray(offset + 4, offset + 4 + len), next: offset + 4 + len };
}

/** The key's blob, when `key` is base64 of a blob that names `type` itself. */
function blobOf(k: HostKey): Buffer | undefined {
  const blob = Buffer.from(k.key, 'base64');
  if (blob.toString('base64').replace(/=+$/, '') !== k.key.replace(/=+$/, '')) return undefined;
  const name = sshString(blob, 0);
  return name && name.value.toString('latin1') === k.type ? blob : undefined;
}

/** A host key read from a public key blob (as an SSH server presents it); undefined when the blob is malformed. */
export function hostKeyFromBlob(blob: Buffer): HostKey | undefined {
  const name = sshString(blob, 0);
  if (!name) return undefined;
  const k = { type: name.value.toString('latin1'), key: blob.toString('base64') };
  return blobOf(k) ? k : undefined;
}

/** A host key from one `TYPE BASE64 [comment]` line (with anything before it); undefined when there is none. */
export function hostKeyFromLine(line: string): HostKey | undefined {
  const m = KEY_WORDS.exec(line);
  if (!m) return undefined;
  const k = { type: m[1], key: m[2] };
  return blobOf(k) ? k : undefined;
}

/**
 * The host keys of the last complete `SSH HOST KEY KEYS` block of a console
 * log (a reboot prints a new block), in the order printed, without repeats.
 * Lines may end in CRLF and carry a prefix (`ec2: `, a kernel time stamp);
 * lines of the block that hold no valid key are skipped. Empty when the log
 * has no complete block.
 */
export function parseConsoleHostKeys(consoleLog: string): HostKey[] {
  let current: HostKey[] | undefined;
  let last: HostKey[] = [];
  for (const line of consoleLog.split(/\r\n|\r|\n/)) {
    if (line.includes(CONSOLE_KEYS_BEGIN)) {
      current = [];
    } else if (line.includes(CONSOLE_KEYS_END)) {
      if (current) last = current;
      current = undefined;
    } else if (current) {
      const k = hostKeyFromLine(line);
      if (k && !current.some((c) => c.type === k.type && c.key === k.key)) current.push(k);
    }
  }
  return last;
}

/** Whether the console log shows cloud-init's final stage done: no key block can follow any more. */
export function cloudInitFinished(consoleLog: string): boolean {
  return /Cloud-init v\. \S+ finished at/.test(consoleLog);
}

/** `SHA256:...` of the key, as `ssh-keygen -l` prints it. */
function fingerprint(k: HostKey): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(k.key, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** The name `ssh-keygen -l` gives the key's algorithm: ED25519, ECDSA, RSA, DSA, ... */
function algorithmName(type: string): string {
  if (type === 'ssh-ed25519') return 'ED25519';
  if (type === 'ssh-ed448') return 'ED448';
  if (type.startsWith('ecdsa-')) return 'ECDSA';
  if (type === 'ssh-rsa') return 'RSA';
  if (type === 'ssh-dss') return 'DSA';
  if (type.startsWith('sk-ssh-ed25519')) return 'ED25519-SK';
  if (type.startsWith('sk-ecdsa')) return 'ECDSA-SK';
  return type;
}

/** Bit length of an SSH mpint (big-endian, maybe with a leading zero byte). */
function mpintBits(n: Buffer): number {
  let i = 0;
  while (i < n.length && n[i] === 0) i++;
  if (i === n.length) return 0;
  return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]));
}

/** The key's size in bits, as `ssh-keygen -l` prints it. */
function keyBits(k: HostKey): number | undefined {
  const blob = blobOf(k);
  if (!blob) return undefined;
  if (k.type === 'ssh-ed25519' || k.type.startsWith('sk-ssh-ed25519')) return 256;
  if (k.type === 'ssh-ed448') return 456;
  const curve = /nistp(\d+)/.exec(k.type);
  if (curve) return Number(curve[1]);
  const first = sshString(blob, 0);
  if (!first) return undefined;
  if (k.type === 'ssh-rsa') {
    const e = sshString(blob, first.next);
    const n = e && sshString(blob, e.next);
    return n ? mpintBits(n.value) : undefined;
  }
  if (k.type === 'ssh-dss') {
    const p = sshString(blob, first.next);
    return p ? mpintBits(p.value) : undefined;
  }
  return undefined;
}

/** `256 SHA256:... (ED25519)`, as `ssh-keygen -l` shows a key without a comment. */
export function describeHostKey(k: HostKey): string {
  const bits = keyBits(k);
  return `${bits !== undefined ? `${bits} ` : ''}${fingerprint(k)} (${algorithmName(k.type)})`;
}

/** The name OpenSSH looks a host up by in known_hosts: `IP`, or `[IP]:PORT` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** known_hosts lines pinning `keys` for the host (as OpenSSH, paramiko and dibctl's ssh2 sessions read them). */
export function knownHostsText(host: string, port: number, keys: HostKey[]): string {
  const name = knownHostsName(host, port);
  return keys.map((k) => `${name} ${k.type} ${k.key}\n`).join('');
}

/** The keys known_hosts text pins for the host (plain names only; hashed names and markers are not ours). */
export function knownHostKeys(text: string, host: string, port: number): HostKey[] {
  const name = knownHostsName(host, port);
  const keys: HostKey[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [names, ...rest] = line.split(/\s+/);
    if (!names.split(',').includes(name)) continue;
    const k = hostKeyFromLine(rest.join(' '));
    if (k) keys.push(k);
  }
  return keys;
}

/** Whether `k` is one of `keys`. */
export function sameHostKey(keys: HostKey[], k: HostKey): boolean {
  return keys.some((p) => p.type === k.type && Buffer.from(p.key, 'base64').equals(Buffer.from(k.key, 'base64')));
}
