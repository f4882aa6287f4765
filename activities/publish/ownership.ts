/**
 * Whose image it is: dibctl renames, hands over and deletes only images of the
 * project its upload environment's credentials are scoped to. An admin can see
 * and change every project's images; being able to is not a reason to.
 */
import { Cloud, Image } from '../../openstack';

/** Why the image is not the environment's to act on; undefined when the environment's project owns it. */
export function notOwnedBy(cloud: Cloud, environment: string, img: Image): string | undefined {
  const ours = cloud.identity.projectId;
  if (!ours)
    return `image ${img.id} is left alone: which project upload environment '${environment}' acts for is unknown`;
  if (img.owner === ours) return undefined;
  const name = cloud.identity.authInfo.projectName;
  return (
    `image ${img.id} belongs to project ${img.owner || '(none)'}, not to project ` +
    `${name ? `${name} (${ours})` : ours} of upload environment '${environment}'`
  );
}
