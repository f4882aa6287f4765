/**
 * Glance v2: images, their data, properties, tags, members.
 */
import * as fs from 'node:fs';
import type { ClientRequest } from 'node:http';
import { pipeline, Readable, Transform } from 'node:stream';
import {
  ChecksumMismatchError,
  ImageStateError,
  LookupError,
  OpenStackHttpError,
  UploadStalledError,
  UploadTimeoutError,
} from './errors';
import { DataHash, Digests, dataHash, hashFile, knownHash } from './hashing';
import { asObject, listOf, nextQuery, Query, ServiceHttp } from './http';

type ImageStatus =
  'queued' | 'saving' | 'uploading' | 'importing' | 'active' | 'deactivated' | 'killed' | 'deleted' | 'pending_delete';
type Visibility = 'public' | 'private' | 'shared' | 'community';

/** An image as Glance v2 returns it; custom properties are top-level string fields. */
export interface Image {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  protected: boolean;
  checksum: string | null;
  os_hash_algo?: string | null;
  os_hash_value?: string | null;
  owner: string;
  size: number | null;
  virtual_size?: number | null;
  min_disk: number;
  min_ram: number;
  container_format: string | null;
  disk_format: string | null;
  created_at: string;
  updated_at: string;
  tags: string[];
  os_hidden?: boolean;
  file?: string;
  self?: string;
  schema?: string;
  [property: string]: unknown;
}

type PropertyValue = string | number | boolean;

export interface ImageCreate {
  name: string;
  /** Let the caller choose the id (an idempotent create). */
  id?: string;
  container_format?: string;
  disk_format?: string;
  visibility?: Visibility;
  min_disk?: number;
  min_ram?: number;
  protected?: boolean;
  tags?: string[];
  /** Custom properties; values are sent as strings. */
  properties?: Record<string, PropertyValue>;
}

interface ImageUpdate {
  name?: string;
  visibility?: Visibility;
  protected?: boolean;
  min_disk?: number;
  min_ram?: number;
  /** Replaces the whole tag list. */
  tags?: string[];
  /** Set (sent as strings) or, with null, remove custom properties. */
  properties?: Record<string, PropertyValue | null>;
}

/** Query filters: Glance's own (name, owner, visibility, status, tag, ...) and custom properties. */
type ImageFilters = Record<string, string | number | boolean | undefined> & {
  name?: string;
  owner?: string;
  visibility?: Visibility | 'all';
  status?: string;
  limit?: number;
};

interface UploadProgress {
  bytes: number;
  total: number;
  /** Average bytes per second since the upload started. */
  rate: number;
}

interface UploadOptions {
  onProgress?: (p: UploadProgress) => void;
  /** Minimum time between two progress calls, ms (default 500; the last call always happens). */
  progressIntervalMs?: number;
  /** Limit for sending the data and Glance finishing it, ms (default: none). */
  timeoutMs?: number;
  /**
   * Limit for no progress, ms (default: none): no byte sent for this long, or
   * once all are sent, no answer or no finished image within it, fails with
   * UploadStalledError.
   */
  stallMs?: number;
  /** Compare Glance's checksums with ours afterwards (default true). */
  verify?: boolean;
  /**
   * The data's md5 and sha512, known beforehand (the file was hashed once for
   * every region it goes to): nothing is hashed while sending, and Glance's
   * checksums are compared with these.
   */
  expected?: Digests;
  /** How often to look at the image while Glance finishes it, ms (default 500). */
  pollMs?: number;
  contentType?: string;
  /** Stops sending at once when aborted; the upload then rejects with the signal's reason. */
  signal?: AbortSignal;
}

interface UploadResult {
  image: Image;
  bytes: number;
  /** Of the data sent (a file's md5 only when it was needed: Glance checks it by sha512). */
  md5?: string;
  sha512?: string;
  durationMs: number;
  /** Which of Glance's checksums were present and compared equal. */
  verified: { md5: boolean; sha512: boolean };
}

/** Image data from somewhere other than a file (another cloud's download): opened again for a retry. */
interface UploadSource {
  open: () => Readable;
  /** Bytes the stream will deliver (sent as Content-Length). */
  size: number;
}

interface ImageMember {
  image_id: string;
  member_id: string;
  status: 'pending' | 'accepted' | 'rejected';
  created_at?: string;
  updated_at?: string;
  schema?: string;
}

const BASE_FIELDS = new Set(['name', 'visibility', 'protected', 'min_disk', 'min_ram', 'tags']);
const PATCH_TYPE = 'application/openstack-images-v2.1-json-patch';
const UNFINISHED = new Set(['queued', 'saving', 'uploading', 'importing']);
/** Reads of an image file: large enough to keep the socket busy, small against the worker's memory. */
const READ_CHUNK_BYTES = 1 << 20;
/** Buffers an upload of a file reads into and reuses once the socket has their data. */
const READ_BUFFERS = 4;

/** How dibctl's `obsolete` and similar flags are read: case-insensitive "true", "1", "yes", "on". */
export function propertyIsTrue(value: unknown): boolean {
  return ['true', '1', 'yes', 'on'].includes(
    String(value ?? '')
      .trim()
      .toLowerCase(),
  );
}

/** JSON pointer escaping for a property name in a patch path. */
function pointer(key: string): string {
  return `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class ImageClient {
  constructor(readonly http: ServiceHttp) {}

  async createImage(attrs: ImageCreate): Promise<Image> {
    const body: Record<string, unknown> = { name: attrs.name };
    for (const k of [
      'id',
      'container_format',
      'disk_format',
      'visibility',
      'min_disk',
      'min_ram',
      'protected',
      'tags',
    ] as const) {
      if (attrs[k] !== undefined) body[k] = attrs[k];
    }
    for (const [k, v] of Object.entries(attrs.properties ?? {})) body[k] = String(v);
    return asObject<Image>('image', 'POST images', await this.http.post('images', body));
  }

  /** The image; a missing one is an ImageNotFoundError (exit 50). */
  async getImage(id: string): Promise<Image> {
    return this.http.get<Image>(`images/${encodeURIComponent(id)}`, undefined, { imageId: id });
  }

  /** The image, or undefined when Glance does not know it. */
  async findImage(id: string): Promise<Image | undefined> {
    try {
      return await this.getImage(id);
    } catch (err) {
      if (err instanceof OpenStackHttpError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** Every image matching the filters, following Glance's `next` links. */
  async *images(filters: ImageFilters = {}): AsyncGenerator<Image> {
    let query: Query | undefined = { ...filters };
    let previous = '';
    while (query) {
      const page: { images?: unknown; next?: unknown } = await this.http.get('images', query);
      const items = listOf<Image>('image', 'GET images', page, 'images');
      for (const img of items) yield img;
      query = nextQuery(page.next);
      // stop on an empty page or a link that points back at the same page
      const signature = JSON.stringify(query);
      if (!items.length || signature === previous) break;
      previous = signature;
    }
  }

  async listImages(filters: ImageFilters = {}): Promise<Image[]> {
    const out: Image[] = [];
    for await (const img of this.images(filters)) out.push(img);
    return out;
  }

  /** Images with this exact name (Glance filters by name server-side). */
  async findImagesByName(name: string, filters: ImageFilters = {}): Promise<Image[]> {
    return (await this.listImages({ ...filters, name })).filter((i) => i.name === name);
  }

  /** Images whose custom property has exactly this value (e.g. a build id for an idempotent create). */
  async findImagesByProperty(property: string, value: PropertyValue, filters: ImageFilters = {}): Promise<Image[]> {
    const wanted = String(value);
    return (await this.listImages({ ...filters, [property]: wanted })).filter(
      (i) => String(i[property] ?? '') === wanted,
    );
  }

  /** The one image with this id or, failing that, this name. */
  async findImageByIdOrName(nameOrId: string): Promise<Image> {
    const byId = await this.findImage(nameOrId);
    if (byId) return byId;
    const byName = await this.findImagesByName(nameOrId);
    if (byName.length === 1) return byName[0];
    if (!byName.length) throw new LookupError(`No image with id or name '${nameOrId}'`, 50);
    throw new LookupError(`Several images are named '${nameOrId}': ${byName.map((i) => i.id).join(', ')}`);
  }

  /**
   * Images whose custom property has a true value. Clouds store such flags as
   * `true` or `True` and filter either case-sensitively or not, so both
   * spellings are asked for and the answer is checked here.
   */
  async imagesWithTrueProperty(property: string, filters: ImageFilters = {}): Promise<Image[]> {
    const seen = new Map<string, Image>();
    for (const spelling of ['true', 'True']) {
      for await (const img of this.images({ ...filters, [property]: spelling })) {
        if (propertyIsTrue(img[property])) seen.set(img.id, img);
      }
    }
    return [...seen.values()];
  }

  /** Obsolete images (property `obsolete` true in any spelling). */
  async obsoleteImages(filters: ImageFilters = {}): Promise<Image[]> {
    return this.imagesWithTrueProperty('obsolete', filters);
  }

  /** Applies changes with a JSON patch; `current` saves a request when the caller has the image at hand. */
  async updateImage(id: string, changes: ImageUpdate, current?: Image): Promise<Image> {
    const before = current ?? (await this.getImage(id));
    const ops: { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown }[] = [];
    for (const k of BASE_FIELDS) {
      const v = (changes as Record<string, unknown>)[k];
      if (v !== undefined) ops.push({ op: 'replace', path: `/${k}`, value: v });
    }
    for (const [k, v] of Object.entries(changes.properties ?? {})) {
      const exists = Object.prototype.hasOwnProperty.call(before, k);
      if (v === null) {
        if (exists) ops.push({ op: 'remove', path: pointer(k) });
      } else {
        ops.push({ op: exists ? 'replace' : 'add', path: pointer(k), value: String(v) });
      }
    }
    if (!ops.length) return before;
    return asObject<Image>(
      'image',
      'PATCH images/{id}',
      (
        await this.http.request({
          method: 'PATCH',
          path: `images/${encodeURIComponent(id)}`,
          json: ops,
          contentType: PATCH_TYPE,
          imageId: id,
        })
      ).data,
    );
  }

  async addTag(id: string, tag: string): Promise<void> {
    await this.http.put(`images/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag)}`, undefined, { imageId: id });
  }

  async removeTag(id: string, tag: string): Promise<void> {
    await this.http.delete(`images/${encodeURIComponent(id)}/tags/${encodeURIComponent(tag)}`, { imageId: id });
  }

  /** Deletes the image. With ignoreMissing an already deleted image is not an error; returns whether it existed. */
  async deleteImage(id: string, opts: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    try {
      await this.http.delete(`images/${encodeURIComponent(id)}`, { imageId: id });
      return true;
    } catch (err) {
      if (opts.ignoreMissing && err instanceof OpenStackHttpError && err.status === 404) return false;
      throw err;
    }
  }

  async deactivateImage(id: string): Promise<void> {
    await this.http.post(`images/${encodeURIComponent(id)}/actions/deactivate`, undefined, { imageId: id });
  }

  async reactivateImage(id: string): Promise<void> {
    await this.http.post(`images/${encodeURIComponent(id)}/actions/reactivate`, undefined, { imageId: id });
  }

  async members(id: string): Promise<ImageMember[]> {
    const body = await this.http.get(`images/${encodeURIComponent(id)}/members`, undefined, { imageId: id });
    return listOf<ImageMember>('image', 'GET images/{id}/members', body, 'members');
  }

  /** Shares the image with a project; sharing twice returns the existing membership. */
  async addMember(id: string, projectId: string): Promise<ImageMember> {
    try {
      return await this.http.post<ImageMember>(
        `images/${encodeURIComponent(id)}/members`,
        { member: projectId },
        { imageId: id },
      );
    } catch (err) {
      if (!(err instanceof OpenStackHttpError) || err.status !== 409) throw err;
      return this.http.get<ImageMember>(
        `images/${encodeURIComponent(id)}/members/${encodeURIComponent(projectId)}`,
        undefined,
        { imageId: id },
      );
    }
  }

  /** Sets a membership's status; accepting is done with the member project's credentials. */
  async updateMember(id: string, projectId: string, status: ImageMember['status']): Promise<ImageMember> {
    return this.http.put<ImageMember>(
      `images/${encodeURIComponent(id)}/members/${encodeURIComponent(projectId)}`,
      { status },
      { imageId: id },
    );
  }

  async acceptMember(id: string, projectId: string): Promise<ImageMember> {
    return this.updateMember(id, projectId, 'accepted');
  }

  async removeMember(id: string, projectId: string): Promise<void> {
    await this.http.delete(`images/${encodeURIComponent(id)}/members/${encodeURIComponent(projectId)}`, {
      imageId: id,
    });
  }

  /**
   * Streams a file into the image: read in chunks, hashed (sha512, or md5 and
   * sha512 for data that cannot be read again; nothing when the digests are
   * known beforehand) and counted on the way, never held whole in memory.
   * Then waits for Glance to finish the image and compares its checksums
   * with ours.
   */
  async uploadImage(id: string, source: string | UploadSource, opts: UploadOptions = {}): Promise<UploadResult> {
    const started = Date.now();
    const total = typeof source === 'string' ? (await fs.promises.stat(source)).size : source.size;
    const interval = opts.progressIntervalMs ?? 500;
    const controller = new AbortController();
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, opts.timeoutMs)
      : undefined;
    const stop = () => controller.abort();
    if (opts.signal?.aborted) controller.abort();
    else opts.signal?.addEventListener('abort', stop, { once: true });
    // the stall watchdog: the time of the last progress and what is being waited for
    let lastMove = Date.now();
    let phase: UploadStalledError['phase'] = 'sending';
    let stalled: UploadStalledError | undefined;
    const moved = (next?: UploadStalledError['phase']) => {
      lastMove = Date.now();
      if (next) phase = next;
    };
    let bytes = 0;
    const watchdog = opts.stallMs
      ? setInterval(
          () => {
            if (stalled || Date.now() - lastMove < (opts.stallMs ?? 0)) return;
            stalled = new UploadStalledError(id, opts.stallMs ?? 0, bytes, total, phase);
            controller.abort();
          },
          Math.min(1_000, Math.max(opts.stallMs / 4, 50)),
        )
      : undefined;
    let hash: DataHash | undefined;
    let lastReport = 0;
    const report = (force: boolean) => {
      if (!opts.onProgress) return;
      const now = Date.now();
      if (!force && now - lastReport < interval) return;
      lastReport = now;
      const secs = Math.max((now - started) / 1000, 0.001);
      opts.onProgress({ bytes, total, rate: bytes / secs });
    };
    /** A new attempt: counting and hashing start again. */
    const restart = (): DataHash => {
      bytes = 0;
      moved('sending');
      hash?.abandon();
      // a file is hashed with sha512 alone, Glance's own algorithm (the file is there to read
      // again for an md5 should Glance report nothing else); other data with both
      hash = opts.expected
        ? knownHash(opts.expected)
        : dataHash(total, typeof source === 'string' ? ['sha512'] : ['md5', 'sha512']);
      return hash;
    };
    const counted = (length: number) => {
      bytes += length;
      moved(bytes >= total ? 'answer' : 'sending');
      report(false);
    };
    /**
     * A file is read into a few buffers that are used again once the socket
     * has taken their data: memory stays the same however large the file.
     */
    const writeFile = async (file: string, request: ClientRequest): Promise<void> => {
      const attempt = restart();
      const free: Buffer[] = Array.from({ length: READ_BUFFERS }, () => Buffer.allocUnsafeSlow(READ_CHUNK_BYTES));
      let wake: (() => void) | undefined;
      const ended = () => wake?.();
      request.once('close', ended);
      const handle = await fs.promises.open(file, 'r');
      try {
        for (let position = 0; ;) {
          while (!free.length && !request.destroyed) await new Promise<void>((r) => (wake = r));
          if (request.destroyed) return;
          const buf = free.pop() as Buffer;
          // never more than announced (Content-Length): a file that grew ends at its size when the upload began
          const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, total - position), position);
          if (!bytesRead) return;
          position += bytesRead;
          const chunk = buf.subarray(0, bytesRead);
          counted(bytesRead);
          // hashed off the event loop; a sender ahead of the hashing by a few slots waits for it
          await attempt.update(chunk);
          if (request.destroyed) return;
          // the callback comes once the socket has the data: the buffer is free again (and bounds what is in flight)
          request.write(chunk, () => {
            free.push(buf);
            wake?.();
          });
        }
      } finally {
        request.off('close', ended);
        await handle.close();
      }
    };
    const openStream = (): Readable => {
      const attempt = restart();
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          counted(chunk.length);
          // hashed off the event loop; a sender ahead of the hashing by a window waits for it
          const wait = attempt.update(chunk);
          if (!wait) return cb(null, chunk);
          wait.then(
            () => cb(null, chunk),
            (err: unknown) => cb(err as Error),
          );
        },
      });
      return pipeline((source as UploadSource).open(), meter, () => undefined);
    };
    try {
      // A cheap request first: a missing image fails with exit 50 and an
      // expired token is renewed before any data is sent.
      const before = await this.getImage(id);
      if (!UNFINISHED.has(before.status) && before.status !== 'queued') {
        throw new ImageStateError(id, before.status, 'Glance accepts data only for a queued image');
      }
      await this.http.request({
        method: 'PUT',
        path: `images/${encodeURIComponent(id)}/file`,
        ...(typeof source === 'string'
          ? { writeBody: (request: ClientRequest) => writeFile(source, request) }
          : { stream: openStream }),
        streamLength: total,
        contentType: opts.contentType ?? 'application/octet-stream',
        imageId: id,
        timeoutMs: 0,
        signal: controller.signal,
      });
      report(true);
      moved('finishing');
      const digests = await (hash as DataHash).digest();
      hash = undefined;
      const image = await this.waitUntilFinished(id, opts.pollMs ?? 500, controller.signal);
      const verified = { md5: false, sha512: false };
      if (opts.verify !== false) {
        const glanceSha512 =
          image.os_hash_value && (image.os_hash_algo ?? '').toLowerCase() === 'sha512'
            ? image.os_hash_value
            : undefined;
        // Glance's md5 alone (a Glance without multihash): the file is read again for it
        if (image.checksum && !digests.md5 && !glanceSha512 && typeof source === 'string') {
          digests.md5 = (await hashFile(source, { algorithms: ['md5'], signal: controller.signal })).digests.md5;
        }
        if (image.checksum && digests.md5) {
          if (image.checksum.toLowerCase() !== digests.md5)
            throw new ChecksumMismatchError(id, 'md5', digests.md5, image.checksum);
          verified.md5 = true;
        }
        if (glanceSha512 && digests.sha512) {
          if (glanceSha512.toLowerCase() !== digests.sha512)
            throw new ChecksumMismatchError(id, 'sha512', digests.sha512, glanceSha512);
          verified.sha512 = true;
        }
        if (image.size !== null && image.size !== undefined && image.size !== bytes) {
          throw new ChecksumMismatchError(id, 'size', String(bytes), String(image.size));
        }
      }
      return { image, bytes, ...digests, durationMs: Date.now() - started, verified };
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if (timedOut) throw new UploadTimeoutError(id, opts.timeoutMs ?? 0, bytes);
      if (stalled) throw stalled;
      throw err;
    } finally {
      hash?.abandon();
      if (timer) clearTimeout(timer);
      if (watchdog) clearInterval(watchdog);
      opts.signal?.removeEventListener('abort', stop);
    }
  }

  /** The image's data as a stream (nothing buffered); 404 → exit 50, no data yet → 204 answered as an error. */
  async downloadImage(id: string, opts: { signal?: AbortSignal } = {}): Promise<Readable> {
    const res = await this.http.request<Readable>({
      method: 'GET',
      path: `images/${encodeURIComponent(id)}/file`,
      headers: { Accept: 'application/octet-stream' },
      imageId: id,
      responseStream: true,
      timeoutMs: 0,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (res.status === 204 || !res.data) throw new ImageStateError(id, 'queued', 'the image has no data to download');
    return res.data;
  }

  /** Polls until the image leaves queued/saving; an image that ends killed or deleted is an error. */
  private async waitUntilFinished(id: string, pollMs: number, signal: AbortSignal): Promise<Image> {
    for (;;) {
      const image = await this.http.get<Image>(`images/${encodeURIComponent(id)}`, undefined, { imageId: id, signal });
      if (image.status === 'active') return image;
      if (!UNFINISHED.has(image.status))
        throw new ImageStateError(id, image.status, 'Glance did not accept the uploaded data');
      await sleep(pollMs);
      if (signal.aborted) throw new Error('aborted');
    }
  }
}
