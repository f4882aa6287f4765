import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  AesGcmPayloadCodec,
  dataConverterFromEnv,
  ENCRYPTED_ENCODING,
  payloadCodecFromEnv,
} from '../../temporal/codec';
import { doctorWorkflow } from '../../workflows';
import { createDibctlWorkers, runWorkers } from '../../worker/worker';
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

  it('with a key, refuses unencrypted payloads and payloads of an unknown key, saying what to do', async () => {
    const codec = new AesGcmPayloadCodec(randomBytes(32));
    const plain = defaultPayloadConverter.toPayload({ label: 'ubuntu' });
    await expect(codec.decode([plain])).rejects.toThrow(
      /Refused an unencrypted payload: .*configure the same payload keys \(DIBCTL_PAYLOAD_KEYS_FILE, DIBCTL_PAYLOAD_KEY_FILE or DIBCTL_PAYLOAD_KEY\) on every worker and CLI/,
    );
    const other = new AesGcmPayloadCodec(randomBytes(32));
    const [foreign] = await other.encode([plain]);
    await expect(codec.decode([foreign])).rejects.toThrow(
      new RegExp(`sealed with payload key ${other.keyId}, which this process does not have .*on every worker and CLI`),
    );
    const [tampered] = await codec.encode([plain]);
    tampered.data![20] ^= 0xff;
    await expect(codec.decode([tampered])).rejects.toThrow(/does not authenticate/);

    // without a key: plain payloads pass, sealed ones are refused with the same advice
    const [keyless] = dataConverterFromEnv({}).payloadCodecs;
    await expect(keyless.decode([plain])).resolves.toEqual([plain]);
    await expect(keyless.decode([foreign])).rejects.toThrow(/this process has no payload key; configure the same/);
  });

  it('rotates keys: the newest seals, older ones still open', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-keys-'));
    try {
      const oldKey = randomBytes(32);
      const newKey = randomBytes(32);
      const keysFile = path.join(dir, 'keys');
      const env = { DIBCTL_PAYLOAD_KEYS_FILE: keysFile };
      await fs.writeFile(keysFile, `# payload keys, oldest first\n2024 ${oldKey.toString('hex')}\n`);
      const before = payloadCodecFromEnv(env)!;
      const value = { label: 'ubuntu', ids: [1, 2] };
      const [sealedOld] = await before.encode([defaultPayloadConverter.toPayload(value)]);
      expect(before.keyId).toBe(new AesGcmPayloadCodec(oldKey).keyId);

      await fs.appendFile(keysFile, `\n2025 ${newKey.toString('base64')}\n`);
      const after = payloadCodecFromEnv(env)!;
      expect(after.keyId).toBe(new AesGcmPayloadCodec(newKey).keyId);
      const [openedOld] = await after.decode([sealedOld]);
      expect(defaultPayloadConverter.fromPayload(openedOld)).toEqual(value);
      const [sealedNew] = await after.encode([defaultPayloadConverter.toPayload(value)]);
      expect(Buffer.from(sealedNew.metadata!['encryption-key-id']!).toString()).toBe(after.keyId);
      // a process that only has the old key refuses what the new key sealed
      await expect(before.decode([sealedNew])).rejects.toThrow(`sealed with payload key ${after.keyId}`);
      // a history sealed with the single-key settings opens with the same key in a keys file
      const [single] = await new AesGcmPayloadCodec(oldKey).encode([defaultPayloadConverter.toPayload(value)]);
      expect(defaultPayloadConverter.fromPayload((await after.decode([single]))[0])).toEqual(value);

      await fs.writeFile(keysFile, `2024 ${oldKey.toString('hex')} extra\n`);
      expect(() => payloadCodecFromEnv(env)).toThrow(/line 1: expected 'name key'/);
      await fs.writeFile(keysFile, `a ${oldKey.toString('hex')}\na ${newKey.toString('hex')}\n`);
      expect(() => payloadCodecFromEnv(env)).toThrow(/line 2: the key name a is used twice/);
      await fs.writeFile(keysFile, `a ${oldKey.toString('hex')}\nb ${oldKey.toString('base64')}\n`);
      expect(() => payloadCodecFromEnv(env)).toThrow(/given twice/);
      await fs.writeFile(keysFile, `# nothing yet\n`);
      expect(() => payloadCodecFromEnv(env)).toThrow(/holds no key/);
      expect(() => payloadCodecFromEnv({ ...env, DIBCTL_PAYLOAD_KEY: newKey.toString('base64') })).toThrow(
        'Set only one of DIBCTL_PAYLOAD_KEYS_FILE, DIBCTL_PAYLOAD_KEY',
      );
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
        await expect(wrongKey.workflow.getHandle(workflowId).result()).rejects.toThrow(/sealed with payload key/);
      } finally {
        await fs.rm(marker, { recursive: true, force: true });
      }
    });

    it('a CLI without the key whose workflow the keyed workers refuse stops with the reason, and the workflow ends', async () => {
      const workers = await createDibctlWorkers({
        connection: temporal().nativeConnection,
        namespace: temporal().server.namespace,
        taskQueue: 'dibctl',
        dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(randomBytes(32))] },
      });
      let stop!: () => void;
      const running = runWorkers(workers, new Promise<void>((resolve) => (stop = resolve)));
      try {
        const r = await runDibctl(['doctor', '--no-local-worker'], {
          env: cleanTemporalEnv({
            TEMPORAL_ADDRESS: temporal().server.address,
            TEMPORAL_NAMESPACE: temporal().server.namespace,
          }),
          timeoutMs: 60_000,
        });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          /The workers cannot read this workflow's input: Refused an unencrypted payload: .*configure the same payload keys/,
        );
        const ended = await temporal()
          .client.workflow.list({ query: 'WorkflowType = "doctorWorkflow" AND ExecutionStatus = "Terminated"' })
          [Symbol.asyncIterator]()
          .next();
        expect(ended.done).toBe(false);
      } finally {
        stop();
        await running;
      }
    }, 90_000);

    it('a worker with a key refuses a workflow started without one: nothing runs', async () => {
      const taskQueue = `keyed-${Date.now()}`;
      const workers = await createDibctlWorkers({
        connection: temporal().nativeConnection,
        namespace: temporal().server.namespace,
        taskQueue,
        dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(randomBytes(32))] },
      });
      let stop!: () => void;
      const running = runWorkers(workers, new Promise<void>((resolve) => (stop = resolve)));
      const handle = await temporal().client.workflow.start(doctorWorkflow, {
        taskQueue,
        workflowId: `unkeyed-${Date.now()}`,
        args: [{ imageDir: os.tmpdir() }],
      });
      try {
        let failed: string | undefined;
        const deadline = Date.now() + 30_000;
        while (!failed && Date.now() < deadline) {
          const { events } = await handle.fetchHistory();
          failed = events?.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure
            ?.message as string | undefined;
          if (!failed) await new Promise((r) => setTimeout(r, 200));
        }
        expect(failed).toMatch(
          /Refused an unencrypted payload: .*configure the same payload keys .* on every worker and CLI/,
        );
        const { events } = await handle.fetchHistory();
        expect(events?.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
        expect((await handle.describe()).status.name).toBe('RUNNING');
      } finally {
        await handle.terminate('test over');
        stop();
        await running;
      }
    }, 60_000);
  });
});
