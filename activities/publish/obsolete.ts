/**
 * Obsoleting: of the images of a name in the environment's project, every one
 * but the last published is renamed `Obsolete <name>` and gets the property
 * `obsolete=true`. Renames are idempotent, and an image obsoleted by an earlier
 * attempt is found again by the image whose publish obsoleted it.
 */
import { Cloud, Image, propertyIsTrue } from '../../openstack';
import { Context } from '@temporalio/activity';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { OBSOLETED_BY_PROPERTY, PUBLISH_PENDING, PUBLISHED_AT_PROPERTY } from '../../common/image-properties';
import { publishWorkflowOfBuildId } from '../../common/ids';
import { DibctlError, ExitCode } from '../../errors';
import { BUILD_ID_PROPERTY } from '../image-upload';
import { CloudDeps, ConfigLocation, CloudTarget, uploadCloud, withCloud } from '../cloud';
import { notOwnedBy } from './ownership';

const OBSOLETE_PREFIX = 'Obsolete ';

/** Image property naming the image that replaced an obsoleted one. */
export const OBSOLETED_FOR_PROPERTY = 'dibctl_obsoleted_for';

export interface ObsoletedImage {
  id: string;
  name: string;
  /** The image that is current instead (set when a publish obsoleted it). */
  replacedBy?: string;
}

/** An image of the name as the fence sees it. */
interface Contender {
  id: string;
  /** When its publish completed (ms, Temporal's clock); -Infinity for images no publish of this kind stamped. */
  rank: number;
}

/**
 * The current image among contenders: the one whose publish completed last.
 * Images published before completion times were recorded (or by hand) rank
 * below every stamped one; equal times go to the greater id, so every
 * publish that looks at the same images names the same one.
 */
export function currentOf(contenders: Contender[]): string | undefined {
  let best: Contender | undefined;
  for (const c of contenders) {
    if (!best || c.rank > best.rank || (c.rank === best.rank && c.id > best.id)) best = c;
  }
  return best?.id;
}

function stampOf(img: Image): string | undefined {
  const v = img[PUBLISHED_AT_PROPERTY];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Another publish's upload still in progress: marked pending by a publish whose
 * workflow still runs. A pending image whose publish is gone (failed before it
 * could clean up, or terminated) is an ordinary old image.
 */
async function uploadInProgress(img: Image): Promise<boolean> {
  if (stampOf(img) !== PUBLISH_PENDING) return false;
  const workflowId = publishWorkflowOfBuildId(String(img[BUILD_ID_PROPERTY] ?? ''));
  let client: Client | undefined;
  try {
    client = Context.current().client;
  } catch {
    client = undefined;
  }
  if (!workflowId || !client) return true;
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name === 'RUNNING';
  } catch (err) {
    // not knowing is not proof that it is over
    return !(err instanceof WorkflowNotFoundError);
  }
}

function rankOf(img: Image): number {
  const stamp = stampOf(img);
  return stamp && /^\d+$/.test(stamp) ? Number(stamp) : -Infinity;
}

export function createObsoleteActivities(deps: CloudDeps = {}) {
  /**
   * The fence of one image name in one project. Every publish of the name,
   * once its upload is complete, records when (`publishedAt`, the workflow's
   * time) on its image and then applies one rule: of the images of that name,
   * the one whose publish completed last is current, every other one is
   * obsolete (renamed `Obsolete <name>`, `obsolete=true`). Images still being
   * uploaded by another publish (`dibctl_published_at=pending`) are left
   * alone: that publish applies the rule itself when it completes. Whatever
   * the overlap, every publish names the same current image, so the name ends
   * with exactly one: the last completed. Returns the images this step made
   * obsolete, the publish's own image among them when a later one replaced it.
   *
   * Without `keepId` (an external upload) the newest image of the name is the
   * publish's own. Without `publishedAt` (a workflow started by an earlier
   * version) the publish's own image counts as the last completed.
   */
  async function obsoleteOlderImages(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    name: string;
    keepId?: string;
    publishedAt?: number;
  }): Promise<ObsoletedImage[]> {
    return withCloud(uploadCloud(input), deps, async (cloud) => {
      const owner = cloud.identity.projectId;
      const filters = owner ? { owner } : {};
      const inProject = (images: Image[]) => images.filter((i) => !owner || i.owner === owner);
      const named = async () => inProject(await cloud.image.findImagesByName(input.name, filters));
      const keepId =
        input.keepId ??
        [...(await named())]
          .filter((i) => stampOf(i) !== PUBLISH_PENDING)
          .sort((a, b) => b.created_at.localeCompare(a.created_at))[0]?.id;
      const out: ObsoletedImage[] = [];
      if (!keepId) return out;

      // The own completion is recorded before the images of the name are listed: of two publishes
      // completing together, at least the one that lists second sees the other's time.
      let own = await cloud.image.getImage(keepId);
      const stamp = input.publishedAt !== undefined ? String(input.publishedAt) : undefined;
      if (stamp && stampOf(own) !== stamp) {
        own = await cloud.image.updateImage(own.id, { properties: { [PUBLISHED_AT_PROPERTY]: stamp } }, own);
      }
      const listed = await named();

      // Renamed images no longer match the name: those an earlier attempt of this step obsoleted
      // are found by the image whose publish did it, so the retirement still gets every one.
      for (const property of [OBSOLETED_BY_PROPERTY, OBSOLETED_FOR_PROPERTY]) {
        for (const img of inProject(await cloud.image.findImagesByProperty(property, keepId, filters))) {
          if (img.id === keepId || out.some((o) => o.id === img.id)) continue;
          // replaced by ours but obsoleted by another publish: that one handed it to retirement
          const by = img[OBSOLETED_BY_PROPERTY];
          if (property === OBSOLETED_FOR_PROPERTY && by !== undefined && by !== keepId) continue;
          out.push({ id: img.id, name: img.name ?? `${OBSOLETE_PREFIX}${input.name}` });
        }
      }

      // the contenders: the publish's own image unless a later publish already obsoleted it, and every
      // other image of the name that is not obsolete and not another publish's upload in progress
      const ownIsContender = own.name === input.name && !propertyIsTrue(own.obsolete);
      const contenders: Contender[] = ownIsContender ? [{ id: own.id, rank: input.publishedAt ?? Infinity }] : [];
      const others: Image[] = [];
      for (const img of listed) {
        if (img.id === keepId || propertyIsTrue(img.obsolete) || (await uploadInProgress(img))) continue;
        contenders.push({ id: img.id, rank: rankOf(img) });
        others.push(img);
      }
      const current = currentOf(contenders);
      if (!current) return out;
      for (const img of ownIsContender ? [own, ...others] : others) {
        if (img.id === current || out.some((o) => o.id === img.id)) continue;
        await markObsolete(cloud, img, { [OBSOLETED_FOR_PROPERTY]: current, [OBSOLETED_BY_PROPERTY]: keepId });
        out.push({ id: img.id, name: `${OBSOLETE_PREFIX}${input.name}`, replacedBy: current });
      }
      return out;
    });
  }

  /**
   * Records when a publish that obsoletes nothing (`--no-obsolete`) completed,
   * so that later publishes of the name see its image as finished, not pending.
   */
  async function recordPublishCompletion(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    imageId: string;
    publishedAt: number;
  }): Promise<void> {
    await withCloud(uploadCloud(input), deps, async (cloud) => {
      const img = await cloud.image.getImage(input.imageId);
      const stamp = String(input.publishedAt);
      if (stampOf(img) !== stamp) {
        await cloud.image.updateImage(img.id, { properties: { [PUBLISHED_AT_PROPERTY]: stamp } }, img);
      }
    });
  }

  /**
   * `mark-obsolete ENV UUID`: the one image, whatever its name (exit 50 when
   * missing). Another project's image is refused (exit 1), untouched.
   */
  async function markImageObsolete(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    imageId: string;
  }): Promise<ObsoletedImage> {
    return withCloud(uploadCloud(input), deps, async (cloud) => {
      const img = await cloud.image.getImage(input.imageId);
      const foreign = notOwnedBy(cloud, input.environment, img);
      if (foreign) throw new DibctlError(`Not marked obsolete: ${foreign}`, ExitCode.GENERIC);
      const updated = await markObsolete(cloud, img);
      return { id: updated.id, name: updated.name ?? '' };
    });
  }

  return { obsoleteOlderImages, recordPublishCompletion, markImageObsolete };
}

async function markObsolete(cloud: Cloud, img: Image, extra: Record<string, string> = {}): Promise<Image> {
  const name = img.name ?? '';
  const newName = name.startsWith(OBSOLETE_PREFIX) ? name : `${OBSOLETE_PREFIX}${name}`;
  if (newName === name && propertyIsTrue(img.obsolete) && Object.entries(extra).every(([k, v]) => img[k] === v))
    return img;
  return cloud.image.updateImage(img.id, { name: newName, properties: { obsolete: 'true', ...extra } }, img);
}
