/**
 * What retirement asks of an upload environment's cloud: which obsolete images
 * there are and whether a server uses each, deleting one that is unused (checked
 * again right before the delete), and the environment's retire policy.
 */
import { RetirePolicy, loadUploadEnvironment } from '../../config';
import { Cloud, Image, NovaForbiddenError, propertyIsTrue } from '../../openstack';
import { CloudDeps, ConfigLocation, uploadCloud, withCloud } from '../cloud';

interface SurveyedImage {
  id: string;
  name: string;
  createdAt: string;
  obsolete: boolean;
  protected: boolean;
  /** Servers (of any project) booted from it. */
  usedBy: number;
}

interface ObsoleteSurvey {
  images: SurveyedImage[];
  /** Ids asked for that no longer exist. */
  missing: string[];
}

export type DeleteVerdict =
  { imageId: string; outcome: 'deleted' | 'gone' } | { imageId: string; outcome: 'kept'; reason: string };

export function createUnusedImageActivities(deps: CloudDeps = {}) {
  const env = () => deps.env ?? process.env;

  /**
   * Obsolete images of the environment's project and whether a server uses
   * each. Lists every server of every project (Nova 403 → exit 61). With
   * `names`, only images with one of those names.
   */
  async function surveyObsoleteImages(input: {
    environment: string;
    config: ConfigLocation;
    names?: string[];
    ids?: string[];
  }): Promise<ObsoleteSurvey> {
    return withCloud(uploadCloud(input.environment, input.config), deps, async (cloud) => {
      const used = await imagesInUse(cloud);
      const owner = cloud.identity.projectId;
      let images: Image[];
      if (input.ids) {
        images = [];
        for (const id of input.ids) {
          const img = await cloud.image.findImage(id);
          if (img) images.push(img);
        }
      } else {
        images = (await cloud.image.obsoleteImages(owner ? { owner } : {})).filter((i) => !owner || i.owner === owner);
      }
      if (input.names) images = images.filter((i) => input.names!.includes(i.name ?? ''));
      return {
        images: images
          .sort((a, b) => a.created_at.localeCompare(b.created_at))
          .map((i) => ({
            id: i.id,
            name: i.name ?? '',
            createdAt: i.created_at,
            obsolete: propertyIsTrue(i.obsolete),
            protected: i.protected,
            usedBy: used.get(i.id) ?? 0,
          })),
        missing: input.ids ? input.ids.filter((id) => !images.some((i) => i.id === id)) : [],
      };
    });
  }

  /**
   * Deletes an obsolete image after checking once more, right before the
   * delete, that it is obsolete, not protected and used by no server.
   */
  async function deleteUnusedImage(input: {
    environment: string;
    config: ConfigLocation;
    imageId: string;
  }): Promise<DeleteVerdict> {
    return withCloud(uploadCloud(input.environment, input.config), deps, async (cloud) => {
      const img = await cloud.image.findImage(input.imageId);
      if (!img) return { imageId: input.imageId, outcome: 'gone' };
      if (img.protected) return { imageId: img.id, outcome: 'kept', reason: 'protected' };
      if (!propertyIsTrue(img.obsolete)) return { imageId: img.id, outcome: 'kept', reason: 'not obsolete' };
      const users = await cloud.compute.listServers({ all_tenants: true, image: img.id });
      const using = users.filter((s) => s.image && s.image.id === img.id);
      if (using.length)
        return {
          imageId: img.id,
          outcome: 'kept',
          reason: `used by ${using.length} server${using.length > 1 ? 's' : ''}`,
        };
      const existed = await cloud.image.deleteImage(img.id, { ignoreMissing: true });
      return { imageId: img.id, outcome: existed ? 'deleted' : 'gone' };
    });
  }

  /** The environment's retire policy (read at every check, so edits apply). */
  async function retirePolicy(input: { environment: string; config: ConfigLocation }): Promise<RetirePolicy> {
    return loadUploadEnvironment(input.environment, { ...input.config, env: env() }).retire;
  }

  return { surveyObsoleteImages, deleteUnusedImage, retirePolicy };
}

/** Image id → number of servers (every project) booted from it. */
async function imagesInUse(cloud: Cloud): Promise<Map<string, number>> {
  const used = new Map<string, number>();
  try {
    for await (const s of cloud.compute.servers({ all_tenants: true })) {
      if (s.image && s.image.id) used.set(s.image.id, (used.get(s.image.id) ?? 0) + 1);
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
    throw err;
  }
  return used;
}
