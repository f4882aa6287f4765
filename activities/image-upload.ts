/**
 * Uploading an image file into Glance, idempotently. The image is found (or
 * created) by a property derived from the workflow (`dibctl_build_id`), so a
 * retried or repeated attempt completes the image its predecessor made instead
 * of making a second one. Runs on the task queue of the host that holds the file.
 */
import { promises as fs } from 'node:fs';
import { cancellationSignal, heartbeat } from '@temporalio/activity';
import { Cloud, Image, ImageCreate } from '../openstack';
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
  /** Limit for sending the data and Glance finishing it (glance.upload_timeout). */
  timeoutSeconds: number;
}

export interface ImageUploadResult {
  imageId: string;
  name: string;
  bytes: number;
  /** Glance's md5 / sha512 of the data (ours when an earlier attempt finished it). */
  checksum: string | null;
  /** True when an earlier attempt had already finished the image. */
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

/**
 * The image an earlier attempt made: an active one is the result; a queued one
 * takes the data; anything else (saving when its uploader died, killed) is
 * deleted so that a clean one can be made.
 */
async function findOrCreate(cloud: Cloud, input: ImageUploadInput): Promise<{ image: Image; reused: boolean }> {
  const found = await cloud.image.findImagesByProperty(BUILD_ID_PROPERTY, input.buildId);
  const active = found.find((i) => i.status === 'active');
  const queued = found.find((i) => i.status === 'queued');
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
        // Glance may take a while to finish the image after the last byte: keep beating.
        const ticker = setInterval(beat, 2_000);
        try {
          const { image, reused } = await findOrCreate(cloud, input);
          progress = { ...progress, imageId: image.id };
          if (reused) {
            return {
              imageId: image.id,
              name: image.name ?? input.image.name,
              bytes: image.size ?? total,
              checksum: image.checksum,
              reused,
              durationMs: Date.now() - started,
            };
          }
          // a cancelled activity stops sending at once and ends as cancelled
          const result = await cloud.image.uploadImage(image.id, input.file, {
            timeoutMs: input.timeoutSeconds * 1000,
            verify: true,
            signal: cancellationSignal(),
            onProgress: (p) => {
              progress = { imageId: image.id, bytes: p.bytes, total: p.total, rate: Math.round(p.rate) };
              beat();
            },
          });
          if (input.image.protected) await cloud.image.updateImage(result.image.id, { protected: true }, result.image);
          return {
            imageId: image.id,
            name: image.name ?? input.image.name,
            bytes: result.bytes,
            checksum: result.image.checksum,
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
