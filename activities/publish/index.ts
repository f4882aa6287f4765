/**
 * Publishing to an upload environment and retiring older copies, one module
 * per job: preparing the file (prepare-upload: preprocessing or external
 * upload), sharing, obsoleting same-named images, surveying and deleting
 * obsolete images no server uses, handing them to retirement, and the plan of
 * a lifecycle run. The upload itself is `uploadImageFile` (image-upload.ts).
 * Every step can run twice: renames and memberships are idempotent, deletes
 * ignore an image already gone, and each delete checks again that no server
 * uses the image.
 */
import type { CloudDeps } from '../cloud';
import { stageActivities } from '../stage-failure';
import { createLifecyclePlanActivities } from './lifecycle-plan';
import { createTestedFileActivities } from './tested-file';
import { createObsoleteActivities } from './obsolete';
import { createPrepareUploadActivities } from './prepare-upload';
import { createRetirementHandoffActivities } from './retirement-handoff';
import { createSharingActivities } from './sharing';
import { createUnusedImageActivities } from './unused-images';

export function createPublishActivities(deps: CloudDeps = {}) {
  const { lifecyclePlan } = createLifecyclePlanActivities(deps);
  const { verifyTestedFile } = createTestedFileActivities();
  const { prepareUpload, removeProcessedFile } = createPrepareUploadActivities(deps);
  const { shareImage } = createSharingActivities(deps);
  const { obsoleteOlderImages, recordPublishCompletion, markImageObsolete } = createObsoleteActivities(deps);
  const { surveyObsoleteImages, deleteUnusedImage, deleteUnusedImages, retirePolicy } =
    createUnusedImageActivities(deps);
  const { handToRetirement } = createRetirementHandoffActivities(deps);
  return stageActivities({
    lifecyclePlan,
    verifyTestedFile,
    prepareUpload,
    removeProcessedFile,
    shareImage,
    obsoleteOlderImages,
    recordPublishCompletion,
    markImageObsolete,
    surveyObsoleteImages,
    deleteUnusedImage,
    deleteUnusedImages,
    retirePolicy,
    handToRetirement,
  });
}

export { OBSOLETED_FOR_PROPERTY } from './obsolete';
export type { ObsoletedImage } from './obsolete';
export type { DeleteVerdict } from './unused-images';
export type { TestedFile } from './tested-file';
