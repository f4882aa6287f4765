/**
 * Obsoleting: every older image of a name in the environment's project is
 * renamed `Obsolete <name>` and gets the property `obsolete=true`. Renames are
 * idempotent, and an image obsoleted by an earlier attempt is found again by
 * the image that replaced it.
 */
import { Cloud, Image, propertyIsTrue } from '../../openstack';
import { DibctlError, ExitCode } from '../../errors';
import { CloudDeps, ConfigLocation, uploadCloud, withCloud } from '../cloud';
import { notOwnedBy } from './ownership';

const OBSOLETE_PREFIX = 'Obsolete ';

/** Image property naming the image that replaced an obsoleted one. */
export const OBSOLETED_FOR_PROPERTY = 'dibctl_obsoleted_for';

export interface ObsoletedImage {
  id: string;
  name: string;
}

export function createObsoleteActivities(deps: CloudDeps = {}) {
  /**
   * Marks every other image with this name in this project obsolete: renamed
   * `Obsolete <name>`, property `obsolete=true`. Without `keepId` (an external
   * upload), the newest image of that name is the one kept.
   */
  async function obsoleteOlderImages(input: {
    environment: string;
    config: ConfigLocation;
    name: string;
    keepId?: string;
  }): Promise<ObsoletedImage[]> {
    return withCloud(uploadCloud(input.environment, input.config), deps, async (cloud) => {
      const owner = cloud.identity.projectId;
      const same = (await cloud.image.findImagesByName(input.name, owner ? { owner } : {})).filter(
        (i) => !owner || i.owner === owner,
      );
      const keepId = input.keepId ?? [...same].sort((a, b) => b.created_at.localeCompare(a.created_at))[0]?.id;
      const out: ObsoletedImage[] = [];
      if (!keepId) return out;
      // Renamed images no longer match the name: those an earlier attempt of this step obsoleted
      // are found by the image that replaced them, so the retirement still gets every one.
      const earlier = (
        await cloud.image.findImagesByProperty(OBSOLETED_FOR_PROPERTY, keepId, owner ? { owner } : {})
      ).filter((i) => !owner || i.owner === owner);
      for (const img of earlier)
        if (img.id !== keepId) out.push({ id: img.id, name: img.name ?? `${OBSOLETE_PREFIX}${input.name}` });
      for (const img of same) {
        if (img.id === keepId || out.some((o) => o.id === img.id)) continue;
        await markObsolete(cloud, img, { [OBSOLETED_FOR_PROPERTY]: keepId });
        out.push({ id: img.id, name: `${OBSOLETE_PREFIX}${input.name}` });
      }
      return out;
    });
  }

  /**
   * `mark-obsolete ENV UUID`: the one image, whatever its name (exit 50 when
   * missing). Another project's image is refused (exit 1), untouched.
   */
  async function markImageObsolete(input: {
    environment: string;
    config: ConfigLocation;
    imageId: string;
  }): Promise<ObsoletedImage> {
    return withCloud(uploadCloud(input.environment, input.config), deps, async (cloud) => {
      const img = await cloud.image.getImage(input.imageId);
      const foreign = notOwnedBy(cloud, input.environment, img);
      if (foreign) throw new DibctlError(`Not marked obsolete: ${foreign}`, ExitCode.GENERIC);
      const updated = await markObsolete(cloud, img);
      return { id: updated.id, name: updated.name ?? '' };
    });
  }

  return { obsoleteOlderImages, markImageObsolete };
}

async function markObsolete(cloud: Cloud, img: Image, extra: Record<string, string> = {}): Promise<Image> {
  const name = img.name ?? '';
  const newName = name.startsWith(OBSOLETE_PREFIX) ? name : `${OBSOLETE_PREFIX}${name}`;
  if (newName === name && propertyIsTrue(img.obsolete) && Object.entries(extra).every(([k, v]) => img[k] === v))
    return img;
  return cloud.image.updateImage(img.id, { name: newName, properties: { obsolete: 'true', ...extra } }, img);
}
