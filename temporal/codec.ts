/**
 * Optional payload encryption: every payload (workflow inputs, results,
 * signals, queries, heartbeat details) is sealed with AES-256-GCM before it
 * leaves the process, so Temporal's history holds only ciphertext.
 *
 * Keys come from the environment, the same on every worker and CLI:
 * - DIBCTL_PAYLOAD_KEYS_FILE: one `name key` per line; the last line seals,
 *   every line opens (rotation: append the new key, drop an old one only once
 *   no history still holds payloads it sealed);
 * - or one key: DIBCTL_PAYLOAD_KEY_FILE (raw in a file, or hex/base64) or
 *   DIBCTL_PAYLOAD_KEY (base64 or hex).
 * A key is 32 bytes. Each sealed payload names its key in its metadata
 * (`encryption-key-id`: the first 16 hex digits of the key's SHA-256, so the
 * id never depends on how the operator named the key).
 *
 * With a key configured, encryption is required: an unencrypted payload, or
 * one sealed with a key this process does not have, is refused. Without one,
 * an encrypted payload is refused with the same advice instead of an unknown
 * encoding.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { METADATA_ENCODING_KEY, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { DibctlError } from '../errors';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What every refusal tells the operator to do. */
const SAME_KEY_EVERYWHERE =
  'configure the same payload keys (DIBCTL_PAYLOAD_KEYS_FILE, DIBCTL_PAYLOAD_KEY_FILE or DIBCTL_PAYLOAD_KEY) on every worker and CLI';

function encode(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
function decode(b: Uint8Array | null | undefined): string {
  return b ? new TextDecoder().decode(b) : '';
}

/** A payload this process must not read; the message says what to change. */
class PayloadKeyError extends DibctlError {}

/** One payload key; `name` is the operator's label for it (messages only). */
export interface PayloadKey {
  name: string;
  key: Buffer;
}

/** The id a sealed payload carries: a short fingerprint of the key (never the key). */
function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function isEncrypted(p: Payload): boolean {
  return decode(p.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  /** The id of the key that seals (the newest). */
  readonly keyId: string;
  private readonly keys = new Map<string, PayloadKey>();

  /** One key, or several in age order: the last one seals, all of them open. */
  constructor(keys: Buffer | PayloadKey[]) {
    const list = Buffer.isBuffer(keys) ? [{ name: keyIdOf(keys), key: keys }] : keys;
    if (list.length === 0) throw new DibctlError('No payload key given');
    for (const k of list) {
      if (k.key.length !== 32)
        throw new DibctlError(`The payload key ${k.name} must be 32 bytes (got ${k.key.length})`);
      const id = keyIdOf(k.key);
      if (this.keys.has(id))
        throw new DibctlError(`The payload key ${k.name} is given twice (also as ${this.keys.get(id)!.name})`);
      this.keys.set(id, k);
    }
    this.keyId = keyIdOf(list[list.length - 1].key);
  }

  private describeKeys(): string {
    return [...this.keys].map(([id, k]) => (k.name === id ? id : `${id} (${k.name})`)).join(', ');
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { key } = this.keys.get(this.keyId)!;
    return payloads.map((p) => {
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: encode(this.keyId) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (!isEncrypted(p))
        throw new PayloadKeyError(
          `Refused an unencrypted payload: this process has a payload key and accepts only payloads sealed with it ` +
            `(a worker, CLI or client without the key wrote it); ${SAME_KEY_EVERYWHERE}`,
        );
      const keyId = decode(p.metadata?.[KEY_ID_METADATA]);
      const known = this.keys.get(keyId);
      if (!known)
        throw new PayloadKeyError(
          `Refused a payload sealed with payload key ${keyId || '(none named)'}, which this process does not have ` +
            `(it has ${this.describeKeys()}); ${SAME_KEY_EVERYWHERE}`,
        );
      const data = Buffer.from(p.data ?? []);
      try {
        const iv = data.subarray(0, IV_BYTES);
        const tag = data.subarray(data.length - TAG_BYTES);
        const decipher = createDecipheriv('aes-256-gcm', known.key, iv);
        decipher.setAuthTag(tag);
        const plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
        return temporal.api.common.v1.Payload.decode(plain);
      } catch {
        throw new PayloadKeyError(
          `Refused a payload sealed with payload key ${keyId}: it does not authenticate (corrupted or altered)`,
        );
      }
    });
  }
}

/**
 * The codec of a process without a payload key: plain payloads pass, an
 * encrypted one is refused with the advice to configure the key.
 */
class NoKeyPayloadCodec implements PayloadCodec {
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    for (const p of payloads) {
      if (isEncrypted(p))
        throw new PayloadKeyError(
          `Refused a payload sealed with payload key ${decode(p.metadata?.[KEY_ID_METADATA]) || '(none named)'}: ` +
            `this process has no payload key; ${SAME_KEY_EVERYWHERE}`,
        );
    }
    return payloads;
  }
}

/** A key as 64 hex digits or base64; raw 32 bytes too where `raw` allows (a key file of its own). */
function parseKey(text: Buffer, where: string, raw = true): Buffer {
  if (raw && text.length === 32) return text;
  const s = text.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  const b64 = Buffer.from(s, 'base64');
  if (b64.length === 32) return b64;
  throw new DibctlError(
    `${where}: the payload key must be 32 bytes, ${raw ? 'raw, 64 hex digits, or base64' : 'as 64 hex digits or base64'}`,
  );
}

function readKeyFile(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new DibctlError(`Cannot read ${variable}=${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** `name key` per line, oldest first; blank lines and `#` comments are skipped. */
function parseKeysFile(text: string, file: string): PayloadKey[] {
  const keys: PayloadKey[] = [];
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const where = `DIBCTL_PAYLOAD_KEYS_FILE=${file} line ${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 2) throw new DibctlError(`${where}: expected 'name key' (hex or base64)`);
    const [name, value] = fields;
    if (names.has(name)) throw new DibctlError(`${where}: the key name ${name} is used twice`);
    names.add(name);
    keys.push({ name, key: parseKey(Buffer.from(value), where, false) });
  });
  if (keys.length === 0) throw new DibctlError(`DIBCTL_PAYLOAD_KEYS_FILE=${file} holds no key`);
  return keys;
}

/** The codec configured by the environment, or undefined when encryption is off. */
export function payloadCodecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmPayloadCodec | undefined {
  const given = ['DIBCTL_PAYLOAD_KEYS_FILE', 'DIBCTL_PAYLOAD_KEY_FILE', 'DIBCTL_PAYLOAD_KEY'].filter((v) => env[v]);
  if (given.length > 1) throw new DibctlError(`Set only one of ${given.join(', ')}`);
  if (env.DIBCTL_PAYLOAD_KEYS_FILE) {
    const file = env.DIBCTL_PAYLOAD_KEYS_FILE;
    return new AesGcmPayloadCodec(parseKeysFile(readKeyFile('DIBCTL_PAYLOAD_KEYS_FILE', file).toString('utf8'), file));
  }
  if (env.DIBCTL_PAYLOAD_KEY_FILE) {
    const file = env.DIBCTL_PAYLOAD_KEY_FILE;
    return new AesGcmPayloadCodec(
      parseKey(readKeyFile('DIBCTL_PAYLOAD_KEY_FILE', file), `DIBCTL_PAYLOAD_KEY_FILE=${file}`),
    );
  }
  if (env.DIBCTL_PAYLOAD_KEY)
    return new AesGcmPayloadCodec(parseKey(Buffer.from(env.DIBCTL_PAYLOAD_KEY), 'DIBCTL_PAYLOAD_KEY'));
  return undefined;
}

/**
 * The data converter for every Client and Worker: with a key, payloads are
 * sealed and only sealed ones accepted; without, sealed ones are refused clearly.
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): { payloadCodecs: PayloadCodec[] } {
  return { payloadCodecs: [payloadCodecFromEnv(env) ?? new NoKeyPayloadCodec()] };
}
