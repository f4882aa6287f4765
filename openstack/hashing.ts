/**
 * md5 and sha512 of image data as it is sent, computed off the event loop.
 * Hashing both costs about as much CPU as sending itself; done inline it
 * slows an upload and delays every other activity of the worker. One
 * hashing thread per process serves every upload under way (started when
 * the first needs it, ended when the last is done); each chunk is copied once
 * into memory shared with it, and a sender that gets ahead of it by a few
 * slots waits, so memory stays bounded whatever the speeds. Small data is
 * hashed inline: a thread is not worth starting for it.
 */
import { createHash, Hash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { Worker } from 'node:worker_threads';

export interface Digests {
  md5: string;
  sha512: string;
}

const BOTH = ['md5', 'sha512'];

export interface DataHash {
  /** Adds a chunk; returns a promise when the sender should wait before the next one. */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex digests of the algorithms it was made with, by name. */
  digest(): Promise<Record<string, string>>;
  /** Forgets the data (an attempt that was given up). */
  abandon(): void;
}

/** Data smaller than this is hashed inline. */
const THREAD_FROM_BYTES = 16 * 1024 * 1024;
/** Each upload hands its data over through this many slots of shared memory of SLOT_BYTES each. */
const SLOTS = 8;
const SLOT_BYTES = 1024 * 1024;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'open')
    sessions.set(m.id, { memory: m.memory, hashes: m.algorithms.map((a) => [a, createHash(a)]) });
  else if (m.op === 'data') {
    const s = sessions.get(m.id);
    if (s) {
      const b = Buffer.from(s.memory, m.slot * ${SLOT_BYTES}, m.length);
      for (const [, h] of s.hashes) h.update(b);
    }
    parentPort.postMessage({ op: 'hashed', id: m.id, slot: m.slot });
  } else if (m.op === 'digest') {
    const s = sessions.get(m.id);
    sessions.delete(m.id);
    const digests = Object.fromEntries(s.hashes.map(([a, h]) => [a, h.digest('hex')]));
    parentPort.postMessage({ op: 'digest', id: m.id, digests });
  } else if (m.op === 'drop') sessions.delete(m.id);
});
`;

type FromWorker =
  { op: 'hashed'; id: number; slot: number } | { op: 'digest'; id: number; digests: Record<string, string> };

class InlineHash implements DataHash {
  private readonly hashes: Array<[string, Hash]>;

  constructor(algorithms: string[]) {
    this.hashes = algorithms.map((a) => [a, createHash(a)]);
  }

  update(chunk: Buffer): undefined {
    for (const [, h] of this.hashes) h.update(chunk);
    return undefined;
  }

  digest(): Promise<Record<string, string>> {
    return Promise.resolve(Object.fromEntries(this.hashes.map(([a, h]) => [a, h.digest('hex')])));
  }

  abandon(): void {}
}

interface Session {
  /** Shared with the thread: the slots the data passes through. */
  memory: Buffer;
  free: number[];
  /** Called when a slot is free again. */
  waiter?: () => void;
  digest?: { resolve: (d: Record<string, string>) => void; reject: (err: Error) => void };
  failed?: Error;
}

/**
 * The shared hashing thread and the uploads it serves. Each upload copies its
 * chunks into slots of memory it shares with the thread; the thread hashes a
 * slot and gives it back. So memory is a few slots per upload whatever the
 * rates, and nothing is left for the garbage collector.
 */
class HashThread {
  private worker?: Worker;
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;

  open(algorithms: string[]): number {
    const id = this.nextId++;
    const shared = new SharedArrayBuffer(SLOTS * SLOT_BYTES);
    this.sessions.set(id, { memory: Buffer.from(shared), free: [...Array(SLOTS).keys()] });
    this.thread().postMessage({ op: 'open', id, memory: shared, algorithms });
    return id;
  }

  update(id: number, chunk: Buffer): Promise<void> | undefined {
    let offset = 0;
    const step = (): Promise<void> | undefined => {
      while (offset < chunk.length) {
        const s = this.sessions.get(id);
        if (!s) return undefined;
        if (s.failed) return Promise.reject(s.failed);
        const slot = s.free.pop();
        if (slot === undefined) return new Promise<void>((resolve) => (s.waiter = resolve)).then(step);
        const length = Math.min(SLOT_BYTES, chunk.length - offset);
        chunk.copy(s.memory, slot * SLOT_BYTES, offset, offset + length);
        offset += length;
        this.thread().postMessage({ op: 'data', id, slot, length });
      }
      return undefined;
    };
    return step();
  }

  digest(id: number): Promise<Record<string, string>> {
    const s = this.sessions.get(id);
    if (!s) return Promise.reject(new Error('hash session closed'));
    if (s.failed) return Promise.reject(s.failed);
    return new Promise((resolve, reject) => {
      s.digest = { resolve, reject };
      this.thread().postMessage({ op: 'digest', id });
    });
  }

  drop(id: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.waiter?.();
    this.worker?.postMessage({ op: 'drop', id });
    this.idle();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      const s = this.sessions.get(m.id);
      if (!s) return;
      if (m.op === 'hashed') {
        s.free.push(m.slot);
        const w = s.waiter;
        s.waiter = undefined;
        w?.();
      } else {
        this.sessions.delete(m.id);
        s.digest?.resolve(m.digests);
        this.idle();
      }
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const s of this.sessions.values()) {
        s.failed = err;
        const w = s.waiter;
        s.waiter = undefined;
        w?.();
        s.digest?.reject(err);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the hashing thread ended (exit code ${code})`)));
    this.worker = worker;
    return worker;
  }

  /** No upload under way: the thread ends and gives its memory back. */
  private idle(): void {
    if (this.sessions.size || !this.worker) return;
    const worker = this.worker;
    this.worker = undefined;
    void worker.terminate();
  }
}

let shared: HashThread | undefined;

class ThreadHash implements DataHash {
  private readonly thread = (shared ??= new HashThread());
  private readonly id: number;

  constructor(algorithms: string[]) {
    this.id = this.thread.open(algorithms);
  }

  update(chunk: Buffer): Promise<void> | undefined {
    return this.thread.update(this.id, chunk);
  }

  digest(): Promise<Record<string, string>> {
    return this.thread.digest(this.id);
  }

  abandon(): void {
    this.thread.drop(this.id);
  }
}

/** A hash (md5 and sha512 unless told) for data of this many bytes: off the event loop when that is worth it. */
export function dataHash(totalBytes: number, algorithms: string[] = BOTH): DataHash {
  return totalBytes >= THREAD_FROM_BYTES ? new ThreadHash(algorithms) : new InlineHash(algorithms);
}

/**
 * Digests given beforehand (the data was hashed once, before it is sent to
 * every region): nothing is hashed while sending.
 */
export function knownHash(digests: Digests): DataHash {
  const known = { md5: digests.md5.toLowerCase(), sha512: digests.sha512.toLowerCase() };
  return { update: () => undefined, digest: () => Promise.resolve(known), abandon: () => undefined };
}

/** What a file read once for its digests gave. */
interface FileDigests {
  bytes: number;
  /** Hex digests by algorithm name. */
  digests: Record<string, string>;
}

/**
 * Reads a file once and returns its size and its digests with each algorithm
 * (md5 and sha512 unless told; hashed off the event loop for a large file).
 * Stops when the signal aborts.
 */
export async function hashFile(
  file: string,
  opts: { algorithms?: string[]; signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<FileDigests> {
  const handle = await fs.open(file, 'r');
  const hash = dataHash((await handle.stat()).size, opts.algorithms ?? BOTH);
  let bytes = 0;
  try {
    const buf = Buffer.allocUnsafeSlow(1 << 20);
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('cancelled');
      const { bytesRead } = await handle.read(buf, 0, buf.length, bytes);
      if (!bytesRead) break;
      bytes += bytesRead;
      // the chunk is copied (or hashed, inline) once this resolves: the buffer is free again
      await hash.update(buf.subarray(0, bytesRead));
      opts.onProgress?.(bytes);
    }
    return { bytes, digests: await hash.digest() };
  } catch (err) {
    hash.abandon();
    throw err;
  } finally {
    await handle.close();
  }
}
