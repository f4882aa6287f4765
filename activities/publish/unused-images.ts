/**
 * What retirement asks of an upload environment's cloud: which obsolete images
 * there are and whether a server uses each, deleting one that is unused (checked
 * again right before the delete), and the environment's retire policy.
 *
 * "Unused" must be proven, never assumed: a server Nova cannot describe (its
 * cell is down: status UNKNOWN) or lists without its image, a list that fails
 * or loops, all mean "cannot check now" and nothing is deleted. Glance
 * refusing a delete with 409 (the store still uses the image) means in use.
 * Only images of the environment's own project are ever deleted.
 */
import { Context } from '@temporalio/activity';
import { RetirePolicy, loadUploadEnvironment } from '../../config';
import { DibctlError, ExitCode, describeError } from '../../errors';
import { Cloud, Image, NovaForbiddenError, OpenStackHttpError, propertyIsTrue } from '../../openstack';
import { CloudDeps, ConfigLocation, CloudTarget, retryTransient, uploadCloud, withCloud } from '../cloud';
import { notOwnedBy } from './ownership';

/** How long one page of servers is asked for again while Nova answers 5xx or cannot be reached. */
const PAGE_RETRY_MS = 30_000;
/** Images per page of Glance's list (clouds cap it at their own maximum, 1000 by default). */
const IMAGE_PAGE = 1000;
/**
 * How long one check (the images and every server listed) stands for the
 * deletes that follow it: older than this, or than the check itself took,
 * the next delete waits for a new check.
 */
const RECHECK_AFTER_MS = 10_000;
/** Deletes under way at once: Glance answers each in its own time, a few in parallel keep it busy. */
const DELETE_CONCURRENCY = 4;

interface SurveyedImage {
  id: string;
  name: string;
  createdAt: string;
  obsolete: boolean;
  protected: boolean;
  /** Servers (of any project) booted from it. */
  usedBy: number;
  /** Why it must be kept whatever else is true of it (another project's image). */
  keptBecause?: string;
}

interface ObsoleteSurvey {
  images: SurveyedImage[];
  /** Ids asked for that no longer exist. */
  missing: string[];
}

/** No image can be proven unused at the moment; the next check tries again. Final for this attempt. */
class CannotCheckNowError extends DibctlError {
  constructor(reason: string) {
    super(`cannot check now: ${reason}`, ExitCode.GENERIC);
  }
}

export type DeleteVerdict =
  { imageId: string; outcome: 'deleted' | 'gone' } | { imageId: string; outcome: 'kept'; reason: string };

export function createUnusedImageActivities(deps: CloudDeps = {}) {
  const env = () => deps.env ?? process.env;

  /**
   * Obsolete images of the environment's project and whether a server uses
   * each. Lists every server of every project (Nova 403 → exit 61; a server or
   * a page it cannot read → "cannot check now: ..."), heartbeating once per
   * page. With `names`, only images with one of those names; with `ids`, those
   * images, another project's marked to be kept.
   */
  async function surveyObsoleteImages(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    names?: string[];
    ids?: string[];
  }): Promise<ObsoleteSurvey> {
    return withCloud(uploadCloud(input), deps, async (cloud) => {
      const used = await imagesInUse(cloud);
      const owner = cloud.identity.projectId;
      let images: Image[];
      if (input.ids) {
        images = await imagesById(cloud, input.ids, owner);
      } else {
        images = await obsoleteImagesOf(cloud, owner);
      }
      if (input.names) images = images.filter((i) => input.names!.includes(i.name ?? ''));
      return {
        images: images
          .sort((a, b) => a.created_at.localeCompare(b.created_at))
          .map((i) => {
            const foreign = notOwnedBy(cloud, input.environment, i);
            return {
              id: i.id,
              name: i.name ?? '',
              createdAt: i.created_at,
              obsolete: propertyIsTrue(i.obsolete),
              protected: i.protected,
              usedBy: used.get(i.id) ?? 0,
              ...(foreign ? { keptBecause: foreign } : {}),
            };
          }),
        missing: input.ids ? missingOf(input.ids, images) : [],
      };
    });
  }

  /**
   * Deletes an obsolete image of the environment's project after checking once
   * more, right before the delete, that it is obsolete, not protected and used
   * by no server (every server of every project listed again: a filtered list
   * would leave out the servers of a cell that is down). Kept, with the reason:
   * another project's image, a check that cannot decide now, Glance's 409.
   */
  async function deleteUnusedImage(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    imageId: string;
  }): Promise<DeleteVerdict> {
    return withCloud(uploadCloud(input), deps, async (cloud) => {
      const img = await cloud.image.findImage(input.imageId);
      if (!img) return { imageId: input.imageId, outcome: 'gone' };
      const kept = (reason: string): DeleteVerdict => ({ imageId: img.id, outcome: 'kept', reason });
      const foreign = notOwnedBy(cloud, input.environment, img);
      if (foreign) return kept(foreign);
      if (img.protected) return kept('protected');
      if (!propertyIsTrue(img.obsolete)) return kept('not obsolete');
      let usedBy: number;
      try {
        usedBy = (await imagesInUse(cloud)).get(img.id) ?? 0;
      } catch (err) {
        if (err instanceof CannotCheckNowError) return kept(err.message);
        throw err;
      }
      if (usedBy) return kept(`used by ${usedBy} server${usedBy > 1 ? 's' : ''}`);
      try {
        const existed = await cloud.image.deleteImage(img.id, { ignoreMissing: true });
        return { imageId: img.id, outcome: existed ? 'deleted' : 'gone' };
      } catch (err) {
        // the store still uses it (e.g. Ceph clones of the image): in use, asked again at the next check
        if (err instanceof OpenStackHttpError && err.status === 409)
          return kept(`in use by Glance (409): ${err.serverMessage || err.message}`);
        throw err;
      }
    });
  }

  /**
   * Deletes those of the images that are obsolete images of the environment's
   * project, not protected and used by no server, in one pass: one check (the
   * project's obsolete images and every server of every project listed) stands
   * for the deletes that follow it for a few seconds, then a new check is
   * made before the next delete. Each image gets its verdict as with
   * deleteUnusedImage; a check that cannot decide keeps the images it was for.
   */
  async function deleteUnusedImages(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    imageIds: string[];
  }): Promise<DeleteVerdict[]> {
    return withCloud(uploadCloud(input), deps, async (cloud) => {
      const owner = cloud.identity.projectId;
      const ids = input.imageIds;
      const verdicts: DeleteVerdict[] = new Array<DeleteVerdict>(ids.length);
      const undecided = new Set(ids);
      let check: InUseCheck | undefined;
      let checking: Promise<InUseCheck> | undefined;
      /** The current check, made again (once, for every delete waiting) when it is too old. */
      const fresh = async (): Promise<InUseCheck> => {
        while (!check || Date.now() - check.at > Math.max(RECHECK_AFTER_MS, check.took)) {
          checking ??= checkInUse(cloud, [...undecided], owner).finally(() => (checking = undefined));
          check = await checking;
        }
        return check;
      };
      let next = 0;
      let done = 0;
      const deleter = async () => {
        while (next < ids.length) {
          const n = next++;
          verdicts[n] = await deleteChecked(cloud, input.environment, ids[n], await fresh());
          undecided.delete(ids[n]);
          heartbeat({ done: ++done, of: ids.length });
        }
      };
      await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, ids.length) }, deleter));
      return verdicts;
    });
  }

  /** The environment's retire policy (read at every check, so edits apply). */
  async function retirePolicy(input: { environment: string; config: ConfigLocation }): Promise<RetirePolicy> {
    return loadUploadEnvironment(input.environment, { ...input.config, env: env() }).retire;
  }

  return { surveyObsoleteImages, deleteUnusedImage, deleteUnusedImages, retirePolicy };
}

/** The project's obsolete images (another project's never count as its own). */
async function obsoleteImagesOf(cloud: Cloud, owner: string | undefined): Promise<Image[]> {
  const filters = owner ? { owner, limit: IMAGE_PAGE } : { limit: IMAGE_PAGE };
  return (await cloud.image.obsoleteImages(filters)).filter((i) => !owner || i.owner === owner);
}

/**
 * These images as Glance describes them now, absent ones left out: the
 * project's obsolete images come from its listing (a page per thousand), the
 * few it does not hold (no longer obsolete, another project's, deleted) are
 * asked for one by one.
 */
async function imagesById(cloud: Cloud, ids: string[], owner: string | undefined): Promise<Image[]> {
  const listed = new Map((await obsoleteImagesOf(cloud, owner)).map((i) => [i.id, i]));
  const out: Image[] = [];
  for (const id of ids) {
    const known = listed.get(id);
    if (known) {
      out.push(known);
      continue;
    }
    const img = await cloud.image.findImage(id);
    if (img) out.push(img);
    heartbeat();
  }
  return out;
}

/** The ids that are not among the images. */
function missingOf(ids: string[], images: Image[]): string[] {
  const found = new Set(images.map((i) => i.id));
  return ids.filter((id) => !found.has(id));
}

/** What one check found: the images as they are, and which servers use them (or why that is unknown). */
interface InUseCheck {
  at: number;
  took: number;
  images: Map<string, Image>;
  used?: Map<string, number>;
  problem?: string;
}

/** The images listed, then every server of every project (the order of deleteUnusedImage). */
async function checkInUse(cloud: Cloud, ids: string[], owner: string | undefined): Promise<InUseCheck> {
  const started = Date.now();
  const images = new Map((await imagesById(cloud, ids, owner)).map((i) => [i.id, i]));
  try {
    const used = await imagesInUse(cloud);
    return { at: Date.now(), took: Date.now() - started, images, used };
  } catch (err) {
    if (!(err instanceof CannotCheckNowError)) throw err;
    return { at: Date.now(), took: Date.now() - started, images, problem: err.message };
  }
}

/** The verdict on one image of a check, deleting it when the check proves it unused. */
async function deleteChecked(
  cloud: Cloud,
  environment: string,
  imageId: string,
  check: InUseCheck,
): Promise<DeleteVerdict> {
  const img = check.images.get(imageId);
  if (!img) return { imageId, outcome: 'gone' };
  const kept = (reason: string): DeleteVerdict => ({ imageId, outcome: 'kept', reason });
  const foreign = notOwnedBy(cloud, environment, img);
  if (foreign) return kept(foreign);
  if (img.protected) return kept('protected');
  if (!propertyIsTrue(img.obsolete)) return kept('not obsolete');
  if (!check.used) return kept(check.problem ?? 'cannot check now');
  const usedBy = check.used.get(imageId) ?? 0;
  if (usedBy) return kept(`used by ${usedBy} server${usedBy > 1 ? 's' : ''}`);
  try {
    const existed = await cloud.image.deleteImage(imageId, { ignoreMissing: true });
    return { imageId, outcome: existed ? 'deleted' : 'gone' };
  } catch (err) {
    // the store still uses it (e.g. Ceph clones of the image): in use, asked again at the next check
    if (err instanceof OpenStackHttpError && err.status === 409)
      return kept(`in use by Glance (409): ${err.serverMessage || err.message}`);
    throw err;
  }
}

/** Heartbeats with the given details when running as an activity (a plain call in a test does nothing). */
function heartbeat(details?: unknown): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return;
  }
  ctx.heartbeat(details);
}

/**
 * Image id → number of servers (every project) booted from it, heartbeating
 * once per page. Throws CannotCheckNowError when that cannot be known: a
 * server of a cell that is down (UNKNOWN), a server listed without its image,
 * a page that keeps failing, a `next` link that loops.
 */
async function imagesInUse(cloud: Cloud): Promise<Map<string, number>> {
  const used = new Map<string, number>();
  let pages = 0;
  let servers = 0;
  try {
    const load = (fetch: () => Promise<Record<string, unknown>>) =>
      retryTransient(fetch, { withinMs: PAGE_RETRY_MS, beat: () => heartbeat({ pages, servers }) });
    for await (const page of cloud.compute.serverPagesOfEveryProject(load)) {
      pages++;
      servers += page.servers.length;
      for (const s of page.servers) {
        const who = `server ${s.id}${s.tenant_id ? ` (project ${s.tenant_id})` : ''}`;
        if (s.status === 'UNKNOWN')
          throw new CannotCheckNowError(
            `Nova lists ${who} with status UNKNOWN (its cell is down), so which image it runs is unknown`,
          );
        // an empty string: booted from a volume, no image of Glance runs it
        if (s.image === '') continue;
        const id = s.image && typeof s.image === 'object' ? s.image.id : undefined;
        if (typeof id !== 'string' || !id) throw new CannotCheckNowError(`Nova lists ${who} without its image`);
        used.set(id, (used.get(id) ?? 0) + 1);
      }
      heartbeat({ pages, servers });
    }
  } catch (err) {
    if (err instanceof NovaForbiddenError) {
      throw new NovaForbiddenError({
        service: err.service,
        method: err.method,
        url: err.url,
        status: err.status,
        requestId: err.requestId,
        serverMessage: `not allowed to list the servers of every project, so no image can be proven unused (${err.serverMessage || 'forbidden'})`,
      });
    }
    if (err instanceof CannotCheckNowError || !(err instanceof DibctlError)) throw err;
    const after = pages ? ` after ${pages} page${pages > 1 ? 's' : ''} (${servers} servers)` : '';
    throw new CannotCheckNowError(`listing every project's servers failed${after}: ${describeError(err)}`);
  }
  return used;
}
