/**
 * Optional payload encryption: every payload (workflow inputs, results,
 * signals, queries, heartbeat details) is sealed with AES-256-GCM before it
 * leaves the process, so Temporal's history holds only ciphertext. The key
 * comes from DIBCTL_PAYLOAD_KEY_FILE or DIBCTL_PAYLOAD_KEY (32 bytes, raw in
 * a file, or base64/hex); client and worker must share it.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { METADATA_ENCODING_KEY, Payload, PayloadCodec, ValueError } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { DibctlError } from '../errors';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function encode(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
function decode(b: Uint8Array | null | undefined): string {
  return b ? new TextDecoder().decode(b) : '';
}

export class AesGcmPayloadCodec implements PayloadCodec {
  /** A short fingerprint of the key (never the key): tells which key sealed a payload. */
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new DibctlError(`The payload key must be 32 bytes (got ${key.length})`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: encode(this.keyId) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (decode(p.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return p;
      const keyId = decode(p.metadata?.[KEY_ID_METADATA]);
      if (keyId !== this.keyId)
        throw new ValueError(`Payload was encrypted with key ${keyId}, this process has key ${this.keyId}`);
      const data = Buffer.from(p.data ?? []);
      const iv = data.subarray(0, IV_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

function parseKey(text: Buffer, where: string): Buffer {
  if (text.length === 32) return text;
  const s = text.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  const b64 = Buffer.from(s, 'base64');
  if (b64.length === 32) return b64;
  throw new DibctlError(`${where}: the payload key must be 32 bytes, raw, 64 hex digits, or base64`);
}

/** The codec configured by the environment, or undefined when encryption is off. */
export function payloadCodecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmPayloadCodec | undefined {
  if (env.DIBCTL_PAYLOAD_KEY_FILE) {
    let raw: Buffer;
    try {
      raw = readFileSync(env.DIBCTL_PAYLOAD_KEY_FILE);
    } catch (err) {
      throw new DibctlError(
        `Cannot read DIBCTL_PAYLOAD_KEY_FILE=${env.DIBCTL_PAYLOAD_KEY_FILE}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    return new AesGcmPayloadCodec(parseKey(raw, `DIBCTL_PAYLOAD_KEY_FILE=${env.DIBCTL_PAYLOAD_KEY_FILE}`));
  }
  if (env.DIBCTL_PAYLOAD_KEY)
    return new AesGcmPayloadCodec(parseKey(Buffer.from(env.DIBCTL_PAYLOAD_KEY), 'DIBCTL_PAYLOAD_KEY'));
  return undefined;
}

/** A data converter for Client and Worker options. */
export function dataConverterFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): { payloadCodecs: PayloadCodec[] } | undefined {
  const codec = payloadCodecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
