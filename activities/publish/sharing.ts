/** Sharing a published image with other projects (glance.share_with). */
import { CloudDeps, ConfigLocation, CloudTarget, uploadCloud, withCloud } from '../cloud';

export function createSharingActivities(deps: CloudDeps = {}) {
  /** Makes each project (name or id) a member of the image; returns the member project ids. */
  async function shareImage(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    imageId: string;
    projects: string[];
  }): Promise<string[]> {
    return withCloud(uploadCloud(input), deps, async (cloud) => {
      const ids: string[] = [];
      for (const p of input.projects) {
        const id = await cloud.identity.resolveProjectId(p);
        await cloud.image.addMember(input.imageId, id);
        ids.push(id);
      }
      return ids;
    });
  }

  return { shareImage };
}
