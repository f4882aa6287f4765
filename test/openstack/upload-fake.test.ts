/**
 * Streamed uploads against a minimal Glance that hashes what it receives and
 * keeps nothing: checksum verification, a Glance that disagrees, the time
 * limit, progress, re-authentication, and memory that stays flat for a large file.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectCloud, hashFile, Image } from '../../openstack';
import { ChecksumMismatchError, ImageNotFoundError, ImageStateError, UploadTimeoutError } from '../../openstack/errors';
import { FakeAnswer, FakeServer, startFakeServer, TOKEN, v3Token } from './fake-server';

const PASSWORD = 'pa55-w0rd-secret';

interface GlanceKnobs {
  /** Report this md5 instead of the real one. */
  checksum?: string;
  /** Report this sha512 instead of the real one. */
  hash?: string;
  /** Answer the data upload this late. */
  uploadDelayMs?: number;
  /** Refuse the next N data uploads with 401. */
  refuseUploads?: number;
  /** End the image in this state after the upload. */
  finalStatus?: Image['status'];
  /** How many GETs show `saving` before `active`. */
  savingPolls?: number;
  /** A Glance from before multihash: md5 (`checksum`) only. */
  md5Only?: boolean;
}

let fake: FakeServer | undefined;
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-upload-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function glance(knobs: GlanceKnobs = {}) {
  const images = new Map<string, Image>();
  let tokens = 0;
  let savingLeft = 0;
  fake = await startFakeServer(async (r, s): Promise<FakeAnswer> => {
    if (r.path === '/v3/auth/tokens') {
      tokens += 1;
      return {
        status: 201,
        headers: { 'X-Subject-Token': `${TOKEN}-${tokens}` },
        body: v3Token([{ type: 'image', url: `${s.url}/v2/` }]),
      };
    }
    const m = /^\/v2\/images(?:\/([^/]+))?(\/file)?$/.exec(r.path);
    if (!m) return { status: 404, body: '404 Not Found' };
    if (r.method === 'POST') {
      const body = r.json as Record<string, unknown>;
      const img = {
        id: `img-${images.size + 1}`,
        status: 'queued',
        checksum: null,
        os_hash_algo: null,
        os_hash_value: null,
        size: null,
        protected: false,
        visibility: 'shared',
        tags: [],
        ...body,
      } as unknown as Image;
      images.set(img.id, img);
      return { status: 201, body: img };
    }
    const img = images.get(m[1] ?? '');
    if (!img)
      return {
        status: 404,
        headers: { 'Content-Type': 'text/html' },
        body: `<html><body><h1>404 Not Found</h1>No image found with ID ${m[1]}</body></html>`,
      };
    if (m[2] && r.method === 'PUT') {
      if ((knobs.refuseUploads ?? 0) > 0) {
        knobs.refuseUploads! -= 1;
        return { status: 401, body: 'Authentication required' };
      }
      if (knobs.uploadDelayMs) await new Promise((res) => setTimeout(res, knobs.uploadDelayMs));
      Object.assign(img, {
        status: knobs.savingPolls ? 'saving' : (knobs.finalStatus ?? 'active'),
        checksum: knobs.checksum ?? r.md5,
        os_hash_algo: knobs.md5Only ? null : 'sha512',
        os_hash_value: knobs.md5Only ? null : (knobs.hash ?? r.sha512),
        size: r.bytes,
      });
      savingLeft = knobs.savingPolls ?? 0;
      return { status: 204 };
    }
    if (r.method === 'GET') {
      if (img.status === 'saving' && savingLeft-- <= 0) img.status = knobs.finalStatus ?? 'active';
      return { body: img };
    }
    return { status: 405, body: 'Method Not Allowed' };
  });
  const cloud = await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD });
  return { cloud, images };
}

function writeRandom(name: string, size: number): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, randomBytes(size));
  return p;
}

describe('streamed image upload', () => {
  it('sends the file, reports progress and verifies it by sha512 against Glance', async () => {
    const { cloud } = await glance({ savingPolls: 2 });
    const file = writeRandom('small.qcow2', 3 * 1024 * 1024 + 17);
    const img = await cloud.image.createImage({ name: 'test', disk_format: 'qcow2', container_format: 'bare' });
    const progress: { bytes: number; total: number; rate: number }[] = [];
    const result = await cloud.image.uploadImage(img.id, file, {
      onProgress: (p) => progress.push(p),
      progressIntervalMs: 0,
      pollMs: 10,
    });
    const put = fake!.requests.find((r) => r.method === 'PUT')!;
    expect(put.headers['content-type']).toBe('application/octet-stream');
    expect(put.headers['content-length']).toBe(String(3 * 1024 * 1024 + 17));
    expect(put.headers['x-auth-token']).toBe(`${TOKEN}-1`);
    // Glance's own algorithm is enough: a file is not hashed with md5 as well
    expect(result.sha512).toBe(put.sha512);
    expect(result.md5).toBeUndefined();
    expect(result.bytes).toBe(3 * 1024 * 1024 + 17);
    expect(result.verified).toEqual({ md5: false, sha512: true });
    expect(result.image.status).toBe('active');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatchObject({ bytes: result.bytes, total: result.bytes });
    expect(progress.every((p, i) => i === 0 || p.bytes >= progress[i - 1].bytes)).toBe(true);
    expect(progress.every((p) => p.rate > 0 && p.total === result.bytes)).toBe(true);
    cloud.close();
  });

  it('reads the file again for the md5 when Glance reports nothing else', async () => {
    const { cloud } = await glance({ md5Only: true });
    const file = writeRandom('md5-only.raw', 100_000);
    const img = await cloud.image.createImage({ name: 'x' });
    const result = await cloud.image.uploadImage(img.id, file);
    const put = fake!.requests.find((r) => r.method === 'PUT')!;
    expect(result).toMatchObject({ md5: put.md5, verified: { md5: true, sha512: false } });
    cloud.close();
  });

  it('fails with ChecksumMismatchError when Glance reports another md5', async () => {
    const { cloud } = await glance({ checksum: '0'.repeat(32), md5Only: true });
    const file = writeRandom('md5.raw', 100_000);
    const img = await cloud.image.createImage({ name: 'x' });
    const err = await cloud.image.uploadImage(img.id, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err).toMatchObject({ algorithm: 'md5', actual: '0'.repeat(32), exitCode: 1 });
    cloud.close();
  });

  it('fails with ChecksumMismatchError when Glance reports another sha512', async () => {
    const { cloud } = await glance({ hash: 'f'.repeat(128) });
    const file = writeRandom('sha.raw', 100_000);
    const img = await cloud.image.createImage({ name: 'x' });
    await expect(cloud.image.uploadImage(img.id, file)).rejects.toMatchObject({
      name: 'ChecksumMismatchError',
      algorithm: 'sha512',
    });
    cloud.close();
  });

  it('with the digests given beforehand, checks Glance against them (hashing nothing itself)', async () => {
    const { cloud } = await glance();
    const file = writeRandom('known.raw', 20 * 1024 * 1024 + 3);
    // read once, off the event loop for a file this size: the same digests the wire gives Glance
    const read = await hashFile(file);
    const known = { md5: read.digests.md5, sha512: read.digests.sha512 };
    const img = await cloud.image.createImage({ name: 'known' });
    const result = await cloud.image.uploadImage(img.id, file, { expected: known, pollMs: 10 });
    const put = fake!.requests.find((r) => r.method === 'PUT')!;
    expect({ bytes: read.bytes, ...known }).toEqual({ bytes: 20 * 1024 * 1024 + 3, md5: put.md5, sha512: put.sha512 });
    expect(result).toMatchObject({ md5: put.md5, sha512: put.sha512, verified: { md5: true, sha512: true } });
    // digests of other data: Glance's differ from them, whatever was read
    const other = await cloud.image.createImage({ name: 'other' });
    const err = await cloud.image
      .uploadImage(other.id, file, { expected: { md5: 'a'.repeat(32), sha512: 'b'.repeat(128) }, pollMs: 10 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err).toMatchObject({ algorithm: 'md5', expected: 'a'.repeat(32), actual: put.md5 });
    cloud.close();
  });

  it('skips the comparison when asked not to verify', async () => {
    const { cloud } = await glance({ checksum: '0'.repeat(32) });
    const file = writeRandom('noverify.raw', 1000);
    const img = await cloud.image.createImage({ name: 'x' });
    const result = await cloud.image.uploadImage(img.id, file, { verify: false });
    expect(result.verified).toEqual({ md5: false, sha512: false });
    cloud.close();
  });

  it('stops at the time limit with UploadTimeoutError', async () => {
    const { cloud } = await glance({ uploadDelayMs: 3000 });
    const file = writeRandom('slow.raw', 200_000);
    const img = await cloud.image.createImage({ name: 'x' });
    const err = await cloud.image.uploadImage(img.id, file, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadTimeoutError);
    expect(err).toMatchObject({ imageId: img.id, limitMs: 300 });
    cloud.close();
  });

  it('stops sending when the caller aborts, rejecting with the abort reason', async () => {
    const { cloud, images } = await glance({ uploadDelayMs: 3000 });
    const file = writeRandom('aborted.raw', 200_000);
    const img = await cloud.image.createImage({ name: 'x' });
    const controller = new AbortController();
    const reason = new Error('operator cancelled');
    setTimeout(() => controller.abort(reason), 200);
    const err = await cloud.image
      .uploadImage(img.id, file, { signal: controller.signal, timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    expect(err).toBe(reason);
    // Glance had not answered yet: the upload did not wait for it
    expect(images.get(img.id)?.status).toBe('queued');
    // an already aborted signal sends nothing
    const again = await cloud.image.uploadImage(img.id, file, { signal: controller.signal }).catch((e: unknown) => e);
    expect(again).toBe(reason);
    cloud.close();
  });

  it('reports an image that Glance killed after the upload', async () => {
    const { cloud } = await glance({ finalStatus: 'killed' });
    const file = writeRandom('killed.raw', 1000);
    const img = await cloud.image.createImage({ name: 'x' });
    await expect(cloud.image.uploadImage(img.id, file)).rejects.toBeInstanceOf(ImageStateError);
    cloud.close();
  });

  it('fails with exit 50 before sending data when the image does not exist', async () => {
    const { cloud } = await glance();
    const file = writeRandom('missing.raw', 1000);
    await expect(cloud.image.uploadImage('nope', file)).rejects.toBeInstanceOf(ImageNotFoundError);
    expect(fake!.requests.some((r) => r.method === 'PUT')).toBe(false);
    cloud.close();
  });

  it('reopens the file and sends it again after authenticating anew when Glance refuses the token', async () => {
    const { cloud } = await glance({ refuseUploads: 1 });
    const file = writeRandom('reauth.raw', 500_000);
    const img = await cloud.image.createImage({ name: 'x' });
    const result = await cloud.image.uploadImage(img.id, file);
    const puts = fake!.requests.filter((r) => r.method === 'PUT');
    expect(puts.map((p) => p.headers['x-auth-token'])).toEqual([`${TOKEN}-1`, `${TOKEN}-2`]);
    expect(puts[1].bytes).toBe(500_000);
    expect(result.verified).toEqual({ md5: false, sha512: true });
    cloud.close();
  });

  it('keeps memory flat while streaming a file much larger than the allowed growth', async () => {
    const { cloud } = await glance();
    const size = 384 * 1024 * 1024;
    const file = path.join(dir, 'large.raw');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, size); // sparse: reads as zeros without using disk
    const img = await cloud.image.createImage({ name: 'large' });
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const result = await cloud.image.uploadImage(img.id, file, {
        onProgress: () => (peak = Math.max(peak, process.memoryUsage().rss)),
      });
      expect(result.bytes).toBe(size);
      expect(result.verified.sha512).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - before;
    // The whole file would be 384 MiB; streaming keeps the growth to buffers.
    expect(growth).toBeLessThan(96 * 1024 * 1024);
    cloud.close();
  });
});
