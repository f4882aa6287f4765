/**
 * Uploading an image file into Glance, idempotently. The image is found (or
 * created) by a property derived from the workflow (`dibctl_build_id`), so a
 * retried or repeated attempt completes the image its predecessor made instead
 * of making a second one: an image it finds already active is checked against
 * the file (size and Glance's checksums) and given whatever the predecessor did
 * not set yet (protected last), so it ends as a first-time upload would.
 * Runs on the task queue of the host that holds the file.
 */
import { getHashes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { cancellationSignal, heartbeat } from '@temporalio/activity';
import { DEFAULTS } from '../config/defaults';
import { DibctlError } from '../errors';
import { ChecksumMismatchError, Cloud, Image, ImageCreate, hashFile } from '../openstack';
import type { TestedFile } from './publish';
import { CloudDeps, CloudRef, withCloud } from './cloud';
import { stageActivities } from './stage-failure';

/** The property that ties an image to the workflow step that made it. */
export const BUILD_ID_PROPERTY = 'dibctl_build_id';

export interface ImageAttributes {
  name: string;
  diskFormat: string;
  containerFormat: string;
  visibility: 'public' | 'private' | 'shared' | 'community';
  minDisk?: number;
  minRam?: number;
  /** Set only once the data is in and verified, so a broken attempt stays deletable. */
  protected?: boolean;
  tags?: string[];
  /** Sent as strings. */
  properties?: Record<string, string>;
}

export interface ImageUploadInput {
  cloud: CloudRef;
  /** Absolute path of the image file on this host. */
  file: string;
  /** Deterministic per workflow and purpose, e.g. `<workflow id>/test`. */
  buildId: string;
  image: ImageAttributes;
  /** Limit for sending the data and Glance finishing it (glance.upload_timeout); absent or 0: none. */
  timeoutSeconds?: number;
  /** An attempt whose data does not move for this long fails, retryably (glance.upload_stall_timeout; default 120). */
  stallSeconds?: number;
  /**
   * The file as the tested-file check read it: when it names this file, the
   * upload hashes nothing and the image must end with these checksums in
   * Glance (a file changed since is not published).
   */
  testedFile?: TestedFile;
}

export interface ImageUploadResult {
  imageId: string;
  name: string;
  bytes: number;
  /** Glance's md5 of the data, compared with the file's (also when an earlier attempt finished it). */
  checksum: string | null;
  /** True when an earlier attempt had already put the data in (it was then checked against the file). */
  reused: boolean;
  durationMs: number;
}

/** Heartbeat details: progress only, never file contents. */
export interface UploadHeartbeat {
  imageId?: string;
  bytes: number;
  total: number;
  rate: number;
}

function createRequest(input: ImageUploadInput): ImageCreate {
  const a = input.image;
  return {
    name: a.name,
    disk_format: a.diskFormat,
    container_format: a.containerFormat,
    visibility: a.visibility,
    min_disk: a.minDisk ?? 0,
    min_ram: a.minRam ?? 0,
    tags: a.tags ?? [],
    properties: { ...(a.properties ?? {}), [BUILD_ID_PROPERTY]: input.buildId },
  };
}

type ImageUpdate = Parameters<Cloud['image']['updateImage']>[1];

/** An image found by this upload's build id does not hold the file being uploaded. */
class EarlierImageMismatchError extends DibctlError {}

/** The file to publish is no longer the one the tested-file check read. */
class TestedFileChangedError extends DibctlError {
  constructor(file: string, what: string) {
    super(
      `The image file ${file} changed after it was tested (${what}): nothing was published; run again to test what is to be published`,
    );
  }
}

/** The formats can only be chosen before the data is in. */
function sameFormats(image: Image, a: ImageAttributes): boolean {
  return image.disk_format === a.diskFormat && image.container_format === a.containerFormat;
}

/**
 * What the image still lacks to be what a first-time upload makes of it:
 * name, visibility, min_disk, min_ram, the tag list, the properties (as
 * strings) and, once the data is in and verified, protected. Properties
 * Glance or an operator added are left alone, and protection is never removed.
 */
function pendingChanges(image: Image, input: ImageUploadInput): ImageUpdate {
  const want = createRequest(input);
  const changes: ImageUpdate = {};
  if (image.name !== want.name) changes.name = want.name;
  if (want.visibility && image.visibility !== want.visibility) changes.visibility = want.visibility;
  if ((image.min_disk ?? 0) !== want.min_disk) changes.min_disk = want.min_disk;
  if ((image.min_ram ?? 0) !== want.min_ram) changes.min_ram = want.min_ram;
  const tags = [...new Set(want.tags ?? [])];
  const has = new Set(image.tags ?? []);
  if (has.size !== tags.length || tags.some((t) => !has.has(t))) changes.tags = tags;
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(want.properties ?? {})) {
    if (image[k] === undefined || image[k] === null || String(image[k]) !== String(v)) properties[k] = String(v);
  }
  if (Object.keys(properties).length) changes.properties = properties;
  if (input.image.protected && !image.protected) changes.protected = true;
  return changes;
}

/**
 * Checks that an active image an earlier attempt finished holds exactly the
 * file: its size, then Glance's `os_hash_algo` / `os_hash_value` or, without
 * them, its md5 (`checksum`) — at least one must be there; with the tested
 * file's checksums, every one Glance reports.
 */
async function verifyFinishedImage(
  image: Image,
  input: ImageUploadInput,
  total: number,
  onProgress: (bytes: number) => void,
): Promise<void> {
  const mismatch = (what: string) =>
    new EarlierImageMismatchError(
      `Image ${image.id}, made earlier for this upload (${BUILD_ID_PROPERTY}=${input.buildId}), ` +
        `does not hold ${input.file}: ${what}; it is not reused`,
    );
  if (!sameFormats(image, input.image)) {
    throw mismatch(
      `it is ${image.disk_format}/${image.container_format}, this upload is ${input.image.diskFormat}/${input.image.containerFormat}`,
    );
  }
  if (image.size !== null && image.size !== undefined && image.size !== total) {
    throw mismatch(`Glance reports ${image.size} bytes, the file has ${total}`);
  }
  const algo = (image.os_hash_algo ?? '').toLowerCase();
  const useHash = Boolean(image.os_hash_value && algo && algo !== 'md5' && getHashes().includes(algo));
  // Glance's own algorithm when it has one, else its md5: one hash to read the file with
  const algorithms = useHash ? [algo] : image.checksum ? ['md5'] : [];
  if (!algorithms.length) {
    throw mismatch(
      `Glance reports no checksum it can be compared by (checksum ${image.checksum ?? 'none'}, ` +
        `os_hash_algo ${image.os_hash_algo ?? 'none'})`,
    );
  }
  // the tested file's checksums when they are known: nothing to read
  const tested = input.testedFile;
  const known = tested && algorithms.every((a) => a === 'md5' || a === 'sha512');
  const { bytes, digests } = known
    ? { bytes: tested.bytes, digests: { md5: tested.md5, sha512: tested.sha512 } as Record<string, string> }
    : await hashFile(input.file, { algorithms, onProgress, signal: cancellationSignal() });
  if (bytes !== total) throw mismatch(`the file changed while it was read (${total} bytes, then ${bytes})`);
  const compare = (name: string, glance: string, ours: string) => {
    if (glance.toLowerCase() !== ours) throw mismatch(`Glance reports ${name} ${glance}, the file has ${ours}`);
  };
  if (image.checksum && digests.md5) compare('md5', image.checksum, digests.md5);
  if (useHash) compare(algo, image.os_hash_value as string, digests[algo]);
}

/**
 * The image an earlier attempt made: an active one is the result (once
 * verified); a queued one with the same formats takes the data; anything else
 * (saving when its uploader died, killed, queued with other formats) is deleted
 * so that a clean one can be made.
 */
async function findOrCreate(cloud: Cloud, input: ImageUploadInput): Promise<{ image: Image; reused: boolean }> {
  const found = await cloud.image.findImagesByProperty(BUILD_ID_PROPERTY, input.buildId);
  const active = found.find((i) => i.status === 'active');
  const queued = found.find((i) => i.status === 'queued' && sameFormats(i, input.image));
  const keep = active ?? queued;
  for (const stale of found) {
    if (stale !== keep) await cloud.image.deleteImage(stale.id, { ignoreMissing: true });
  }
  if (keep) return { image: keep, reused: keep.status === 'active' };
  return { image: await cloud.image.createImage(createRequest(input)), reused: false };
}

export function createImageUploadActivities(deps: CloudDeps = {}) {
  /** Creates (or finds) the image by its build id and streams the file into it, verifying checksums. */
  async function uploadImageFile(input: ImageUploadInput): Promise<ImageUploadResult> {
    {
      const started = Date.now();
      const total = (await fs.stat(input.file)).size;
      return withCloud(input.cloud, deps, async (cloud) => {
        let progress: UploadHeartbeat = { bytes: 0, total, rate: 0 };
        const beat = () => heartbeat(progress);
        beat();
        // Glance may take a while to finish the image after the last byte: keep beating
        // (often enough for the shortest heartbeat timeout, 3 s; the SDK throttles what it sends).
        const ticker = setInterval(beat, 500);
        try {
          const tested = input.testedFile?.file === input.file ? input.testedFile : undefined;
          if (tested && tested.bytes !== total) {
            throw new TestedFileChangedError(input.file, `${tested.bytes} bytes tested, ${total} now`);
          }
          const { image, reused } = await findOrCreate(cloud, input);
          progress = { ...progress, imageId: image.id };
          let finished: Image;
          let bytes: number;
          if (reused) {
            const hashing = Date.now();
            await verifyFinishedImage(image, { ...input, testedFile: tested }, total, (done) => {
              const secs = Math.max((Date.now() - hashing) / 1000, 0.001);
              progress = { imageId: image.id, bytes: done, total, rate: Math.round(done / secs) };
            });
            finished = image;
            bytes = image.size ?? total;
          } else {
            // a cancelled activity stops sending at once and ends as cancelled
            const result = await cloud.image
              .uploadImage(image.id, input.file, {
                ...(input.timeoutSeconds ? { timeoutMs: input.timeoutSeconds * 1000 } : {}),
                stallMs: (input.stallSeconds ?? DEFAULTS['glance.upload_stall_timeout']) * 1000,
                verify: true,
                // the tested file was hashed once already: Glance's checksums are checked against that
                ...(tested ? { expected: { md5: tested.md5, sha512: tested.sha512 } } : {}),
                signal: cancellationSignal(),
                onProgress: (p) => {
                  progress = { imageId: image.id, bytes: p.bytes, total: p.total, rate: Math.round(p.rate) };
                  beat();
                },
              })
              .catch((err: unknown) => {
                if (tested && err instanceof ChecksumMismatchError) {
                  throw new TestedFileChangedError(
                    input.file,
                    `Glance reports ${err.algorithm} ${err.actual} for what was sent, the tested file has ${err.expected}`,
                  );
                }
                throw err;
              });
            finished = result.image;
            bytes = result.bytes;
          }
          // what the image still lacks (protected, or what changed since an earlier attempt created it)
          const changes = pendingChanges(finished, input);
          if (Object.keys(changes).length) finished = await cloud.image.updateImage(image.id, changes, finished);
          return {
            imageId: image.id,
            name: finished.name ?? input.image.name,
            bytes,
            checksum: finished.checksum,
            reused,
            durationMs: Date.now() - started,
          };
        } finally {
          clearInterval(ticker);
        }
      });
    }
  }

  /** Deletes every image made under this build id (unprotected ones); returns their ids. */
  async function deleteImagesByBuildId(input: { cloud: CloudRef; buildId: string }): Promise<string[]> {
    return withCloud(input.cloud, deps, async (cloud) => {
      const deleted: string[] = [];
      for (const img of await cloud.image.findImagesByProperty(BUILD_ID_PROPERTY, input.buildId)) {
        if (img.protected) continue;
        if (await cloud.image.deleteImage(img.id, { ignoreMissing: true })) deleted.push(img.id);
      }
      return deleted;
    });
  }

  return stageActivities({ uploadImageFile, deleteImagesByBuildId }, { reportsProgress: ['uploadImageFile'] });
}
