import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, payloadCodecFromEnv } from '../../temporal/codec';
import { cleanTemporalEnv, runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';

/** Every payload anywhere in a history event (inputs, results, signals, heartbeats...). */
function payloadsIn(value: unknown, out: Array<{ metadata?: Record<string, Uint8Array>; data?: Uint8Array }> = []) {
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (v.data instanceof Uint8Array && v.metadata && typeof v.metadata === 'object') out.push(v as never);
    else for (const child of Object.values(v)) payloadsIn(child, out);
  }
  return out;
}

describe('payload encryption', () => {
  it('round-trips payloads and refuses a tampered one', async () => {
    const codec = new AesGcmPayloadCodec(randomBytes(32));
    const original = defaultPayloadConverter.toPayload({ label: 'ubuntu', ids: [1, 2] });
    const [sealed] = await codec.encode([original]);
    expect(Buffer.from(sealed.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(sealed.data!).toString('latin1')).not.toContain('ubuntu');
    const [opened] = await codec.decode([sealed]);
    expect(defaultPayloadConverter.fromPayload(opened)).toEqual({ label: 'ubuntu', ids: [1, 2] });
    sealed.data![20] ^= 0xff;
    await expect(codec.decode([sealed])).rejects.toThrow();
  });

  it('reads the key from a file (raw, hex or base64) and refuses a key of the wrong size', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-key-'));
    try {
      const key = randomBytes(32);
      for (const [name, content] of [
        ['raw', key],
        ['hex', key.toString('hex') + '\n'],
        ['b64', key.toString('base64')],
      ] as const) {
        await fs.writeFile(path.join(dir, name), content);
        expect(payloadCodecFromEnv({ DIBCTL_PAYLOAD_KEY_FILE: path.join(dir, name) })?.keyId).toBe(
          new AesGcmPayloadCodec(key).keyId,
        );
      }
      expect(() => payloadCodecFromEnv({ DIBCTL_PAYLOAD_KEY: 'c2hvcnQ=' })).toThrow('the payload key must be 32 bytes');
      expect(() => payloadCodecFromEnv({ DIBCTL_PAYLOAD_KEY_FILE: path.join(dir, 'missing') })).toThrow(
        /Cannot read DIBCTL_PAYLOAD_KEY_FILE=.*ENOENT/,
      );
      expect(payloadCodecFromEnv({})).toBeUndefined();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  describe('on a real server', () => {
    const temporal = useTemporal();

    it('history payloads are unreadable without the key and readable with it', async () => {
      const key = randomBytes(32);
      const marker = path.join(os.tmpdir(), `dibctl-marker-${Date.now()}`);
      await fs.mkdir(marker, { recursive: true });
      try {
        const env = cleanTemporalEnv({
          TEMPORAL_ADDRESS: temporal().server.address,
          DIBCTL_PAYLOAD_KEY: key.toString('base64'),
        });
        const r = await runDibctl(['--json', 'doctor', '--image-dir', marker], { env });
        expect(r.code).toBe(0);
        const { workflowId } = JSON.parse(r.stdout);

        const history = await temporal().client.workflow.getHandle(workflowId).fetchHistory();
        const payloads = payloadsIn(history.events);
        expect(payloads.length).toBeGreaterThan(3);
        for (const p of payloads) {
          expect(Buffer.from(p.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
          expect(Buffer.from(p.data!).toString('latin1')).not.toContain(path.basename(marker));
        }

        const keyed = new Client({
          connection: temporal().connection,
          dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(key)] },
        });
        const result = await keyed.workflow.getHandle(workflowId).result();
        expect(result.checks.find((c: { name: string }) => c.name === 'disk space').neededFor).toContain(marker);

        const wrongKey = new Client({
          connection: temporal().connection,
          dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(randomBytes(32))] },
        });
        await expect(wrongKey.workflow.getHandle(workflowId).result()).rejects.toThrow(/encrypted with key/);
      } finally {
        await fs.rm(marker, { recursive: true, force: true });
      }
    });
  });
});
