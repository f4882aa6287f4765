/**
 * Copying an image between clouds: the source's data is streamed straight
 * into the destination (no temporary file, nothing through Temporal), hashed
 * on the way and compared with both clouds' checksums. The destination image
 * carries `dibctl_transfer_id`, so a retried attempt completes or reuses it
 * instead of making a second one. Properties, tags, visibility, min_disk,
 * min_ram and protected are kept unless `ignoreMeta`; members are matched by
 * project name unless `ignoreMembership`.
 */
import { PassThrough, Readable } from 'node:stream';
import { heartbeat } from '@temporalio/activity';
import { ChecksumMismatchError, Cloud, Image, connectCloud } from '../openstack';
import { type CloudDeps, workerTokens } from './cloud';
import { CloudEndpoint, authOf } from './endpoint-auth';

import { stageActivities } from './stage-failure';

const TRANSFER_ID_PROPERTY = 'dibctl_transfer_id';

export interface TransferInput {
  source: CloudEndpoint;
  destination: CloudEndpoint;
  imageId: string;
  transferId: string;
  ignoreMeta?: boolean;
  ignoreMembership?: boolean;
}

export interface TransferResult {
  sourceId: string;
  imageId: string;
  name: string;
  bytes: number;
  checksum: string | null;
  reused: boolean;
  /** Destination project ids made members. */
  members: string[];
  /** Source members whose project has no match in the destination. */
  unmatchedMembers: string[];
  durationMs: number;
}

/** Glance's own fields: everything else on an image is a custom property. */
const GLANCE_FIELDS = new Set([
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'owner',
  'size',
  'virtual_size',
  'min_disk',
  'min_ram',
  'container_format',
  'disk_format',
  'created_at',
  'updated_at',
  'tags',
  'os_hidden',
  'file',
  'self',
  'schema',
  'direct_url',
  'locations',
  'stores',
  TRANSFER_ID_PROPERTY,
  'dibctl_build_id',
]);

function customProperties(img: Image): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(img)) {
    if (!GLANCE_FIELDS.has(k) && v !== null && v !== undefined && typeof v !== 'object') out[k] = String(v);
  }
  return out;
}

export function createTransferActivities(deps: CloudDeps = {}) {
  async function transferImage(input: TransferInput): Promise<TransferResult> {
    const env = deps.env ?? process.env;
    const started = Date.now();
    const src = await connectCloud(authOf(input.source, env), { debug: deps.debug, tokenCache: workerTokens });
    let dst: Cloud | undefined;
    const beat = setInterval(() => heartbeat(), 2_000);
    try {
      dst = await connectCloud(authOf(input.destination, env), { debug: deps.debug, tokenCache: workerTokens });
      const original = await src.image.getImage(input.imageId);
      const size = original.size ?? 0;
      const meta = !input.ignoreMeta;
      const found = await dst.image.findImagesByProperty(TRANSFER_ID_PROPERTY, input.transferId);
      let target = found.find((i) => i.status === 'active') ?? found.find((i) => i.status === 'queued');
      for (const stale of found) if (stale !== target) await dst.image.deleteImage(stale.id, { ignoreMissing: true });
      const reused = target?.status === 'active';
      const wantsMembers = !input.ignoreMembership && original.visibility === 'shared';
      target ??= await dst.image.createImage({
        name: original.name ?? input.imageId,
        disk_format: original.disk_format ?? 'qcow2',
        container_format: original.container_format ?? 'bare',
        visibility: meta ? original.visibility : wantsMembers ? 'shared' : 'private',
        ...(meta
          ? {
              min_disk: original.min_disk,
              min_ram: original.min_ram,
              tags: original.tags,
              properties: { ...customProperties(original), [TRANSFER_ID_PROPERTY]: input.transferId },
            }
          : { properties: { [TRANSFER_ID_PROPERTY]: input.transferId } }),
      });
      let bytes = size;
      let checksum = target.checksum;
      if (!reused) {
        const imageId = target.id;
        const result = await dst.image.uploadImage(
          imageId,
          { size, open: () => readableOf(src.image.downloadImage(input.imageId)) },
          {
            timeoutMs: 0,
            onProgress: (p) => heartbeat({ imageId, bytes: p.bytes, total: p.total, rate: Math.round(p.rate) }),
          },
        );
        if (original.checksum && result.md5 !== original.checksum.toLowerCase())
          throw new ChecksumMismatchError(imageId, 'md5', result.md5 ?? 'none', original.checksum);
        bytes = result.bytes;
        checksum = result.image.checksum;
      }
      if (meta && original.protected) await dst.image.updateImage(target.id, { protected: true });

      const members: string[] = [];
      const unmatchedMembers: string[] = [];
      if (wantsMembers) {
        const names = new Map((await src.identity.projects({})).map((p) => [p.id, p.name]));
        for (const m of await src.image.members(original.id)) {
          const name = names.get(m.member_id);
          try {
            const id = await dst.identity.resolveProjectId(name ?? m.member_id);
            await dst.image.addMember(target.id, id);
            members.push(id);
          } catch {
            unmatchedMembers.push(name ?? m.member_id);
          }
        }
      }
      return {
        sourceId: original.id,
        imageId: target.id,
        name: target.name ?? '',
        bytes,
        checksum,
        reused,
        members,
        unmatchedMembers,
        durationMs: Date.now() - started,
      };
    } finally {
      clearInterval(beat);
      src.close();
      dst?.close();
    }
  }

  return stageActivities({ transferImage }, { reportsProgress: ['transferImage'] });
}

/** A Readable that starts the download when read (uploadImage opens its source synchronously). */
function readableOf(download: Promise<Readable>): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  download.then(
    (s) => {
      s.on('error', (err) => out.destroy(err));
      s.pipe(out);
    },
    (err: Error) => out.destroy(err),
  );
  return out;
}
