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
        images = [];
        for (const id of input.ids) {
          const img = await cloud.image.findImage(id);
          if (img) images.push(img);
          heartbeat();
        }
      } else {
        images = (await cloud.image.obsoleteImages(owner ? { owner } : {})).filter((i) => !owner || i.owner === owner);
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
        missing: input.ids ? input.ids.filter((id) => !images.some((i) => i.id === id)) : [],
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

  /** The environment's retire policy (read at every check, so edits apply). */
  async function retirePolicy(input: { environment: string; config: ConfigLocation }): Promise<RetirePolicy> {
    return loadUploadEnvironment(input.environment, { ...input.config, env: env() }).retire;
  }

  return { surveyObsoleteImages, deleteUnusedImage, retirePolicy };
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
