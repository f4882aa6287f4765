/**
 * Publishing one image to one upload environment, and the manual obsolete /
 * rotate operations. Reading the image file happens on the task queue of the
 * host that holds it (`fileQueue`); everything else on the shared queue.
 */
import { CancellationScope, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CloudTarget, ConfigLocation } from '../activities';
import type { DeleteVerdict, ObsoletedImage, TestedFile } from '../activities/publish';
import type { TransferInput, TransferResult } from '../activities/transfer';
import { publishBuildId } from '../common/ids';
import { PUBLISH_PENDING, PUBLISHED_AT_PROPERTY } from '../common/image-properties';
import {
  cloudSteps,
  fileHostSteps,
  publishUploadSteps,
  retryPolicies,
  rotateSteps,
  transferSteps,
} from './activity-options';
import { stageQuery } from './queries';

const short = cloudSteps();
const inUse = rotateSteps();

interface PublishInput {
  imageLabel: string;
  /** Upload environment label. */
  environment: string;
  config: ConfigLocation;
  /** Where the command resolved the environment: activities refuse credentials that lead elsewhere. */
  target?: CloudTarget;
  /** Replaces the configured image file. */
  filename?: string;
  /** Task queue of the host holding the image file. */
  fileQueue: string;
  /** Obsolete other same-named images afterwards (default true). */
  obsolete?: boolean;
  /** Hand obsoleted images to the environment's retirement workflow (default true). */
  retire?: boolean;
  /** Ties the Glance image to this publish step; default `<workflow id>/publish/<environment>`. */
  buildId?: string;
  /** The file as the lifecycle's tested-file check read it (size, md5, sha512). */
  testedFile?: TestedFile;
}

export interface PublishResult {
  environment: string;
  name: string;
  /** Undefined after an external upload (its commands made the image). */
  imageId?: string;
  external: boolean;
  bytes?: number;
  durationMs?: number;
  /** An earlier attempt had already uploaded it. */
  reused?: boolean;
  checksum?: string | null;
  members: string[];
  obsoleted: ObsoletedImage[];
  retirementWorkflowId?: string;
  /** A publish of the same name that completed later made this one's image obsolete: its image. */
  supersededBy?: string;
  /** Why older copies were not obsoleted although asked to. */
  notObsoleted?: string;
}

/** Preprocess → upload (idempotent by build id) → share → obsolete older copies → hand them to retirement. */
export async function publishWorkflow(input: PublishInput): Promise<PublishResult> {
  let stage = 'preparing the image file';
  setHandler(stageQuery, () => stage);
  const host = fileHostSteps(input.fileQueue);
  const where = {
    environment: input.environment,
    config: input.config,
    ...(input.target ? { target: input.target } : {}),
  };

  const prepared = await host.prepareUpload({
    imageLabel: input.imageLabel,
    environment: input.environment,
    config: input.config,
    ...(input.target ? { target: input.target } : {}),
    filename: input.filename,
    // the preprocessing output is this publish's own
    buildId: input.buildId ?? publishBuildId(workflowInfo().workflowId, input.environment),
  });
  // the environment's own retry settings from here on
  const policies = retryPolicies(prepared.retry);
  const short = cloudSteps(policies.cloud);
  let result: PublishResult;
  let keepId: string | undefined;
  if (prepared.mode === 'external') {
    result = { environment: input.environment, name: prepared.name, external: true, members: [], obsoleted: [] };
    if (prepared.withoutCloud) {
      // external_upload alone, no keystone section: no cloud to obsolete older copies in
      stage = 'done';
      return {
        ...result,
        ...(input.obsolete !== false ? { notObsoleted: 'the environment has no keystone section' } : {}),
      };
    }
  } else {
    stage = `uploading ${prepared.image.name} to ${input.environment}`;
    const buildId = input.buildId ?? publishBuildId(workflowInfo().workflowId, input.environment);
    let upload;
    try {
      const limits = { timeoutSeconds: prepared.timeoutSeconds, stallSeconds: prepared.stallSeconds };
      upload = await publishUploadSteps(input.fileQueue, limits, policies.upload).uploadImageFile({
        cloud: { kind: 'upload', ...where, image: input.imageLabel },
        file: prepared.file,
        buildId,
        // marked as an upload in progress: no other publish of the name obsoletes it meanwhile
        image: {
          ...prepared.image,
          properties: { ...prepared.image.properties, [PUBLISHED_AT_PROPERTY]: PUBLISH_PENDING },
        },
        ...(prepared.timeoutSeconds ? { timeoutSeconds: prepared.timeoutSeconds } : {}),
        ...(prepared.stallSeconds ? { stallSeconds: prepared.stallSeconds } : {}),
        // the upload checks Glance's checksums against the tested file's (unless preprocessing made another file)
        ...(input.testedFile?.file === prepared.file ? { testedFile: input.testedFile } : {}),
      });
    } catch (err) {
      // an unfinished image must not stay behind: it is found by its build id
      stage = 'removing the unfinished image';
      await CancellationScope.nonCancellable(() =>
        short.deleteImagesByBuildId({ cloud: { kind: 'upload', ...where, image: input.imageLabel }, buildId }),
      ).catch(() => undefined);
      throw err;
    }
    keepId = upload.imageId;
    if (prepared.deleteAfterUpload) await host.removeProcessedFile({ file: prepared.deleteAfterUpload });
    let members: string[] = [];
    if (prepared.shareWith.length) {
      stage = `sharing ${upload.imageId} with ${prepared.shareWith.join(', ')}`;
      members = await short.shareImage({ ...where, imageId: upload.imageId, projects: prepared.shareWith });
    }
    result = {
      environment: input.environment,
      name: prepared.image.name,
      imageId: upload.imageId,
      external: false,
      bytes: upload.bytes,
      durationMs: upload.durationMs,
      reused: upload.reused,
      checksum: upload.checksum,
      members,
      obsoleted: [],
    };
  }

  // Completed: the time by the server's clock orders this publish among all publishes of the name.
  const publishedAt = Date.now();
  if (input.obsolete !== false) {
    stage = `obsoleting older copies of ${result.name}`;
    result.obsoleted = await short.obsoleteOlderImages({ ...where, name: result.name, keepId, publishedAt });
    const own = result.obsoleted.find((o) => o.id === keepId);
    if (own?.replacedBy) result.supersededBy = own.replacedBy;
    if (result.obsoleted.length && input.retire !== false) {
      stage = 'handing obsolete images to retirement';
      result.retirementWorkflowId = await short.handToRetirement({ ...where, images: result.obsoleted });
    }
  } else if (keepId && patched('publish-records-completion')) {
    await short.recordPublishCompletion({ ...where, imageId: keepId, publishedAt });
  }
  stage = 'done';
  return result;
}

interface MarkObsoleteInput {
  environment: string;
  config: ConfigLocation;
  /** Where the command resolved the environment: activities refuse credentials that lead elsewhere. */
  target?: CloudTarget;
  imageId: string;
  retire?: boolean;
}

/** `mark-obsolete ENV UUID`: rename and flag one image, then hand it to retirement. */
export async function markObsoleteWorkflow(
  input: MarkObsoleteInput,
): Promise<{ image: ObsoletedImage; retirementWorkflowId?: string }> {
  const where = {
    environment: input.environment,
    config: input.config,
    ...(input.target ? { target: input.target } : {}),
  };
  const image = await short.markImageObsolete({ ...where, imageId: input.imageId });
  const retirementWorkflowId =
    input.retire === false ? undefined : await short.handToRetirement({ ...where, images: [image] });
  return { image, ...(retirementWorkflowId ? { retirementWorkflowId } : {}) };
}

interface RotateInput {
  environment: string;
  config: ConfigLocation;
  /** Where the command resolved the environment: activities refuse credentials that lead elsewhere. */
  target?: CloudTarget;
  /** Only obsolete images with these names (rotate-single). */
  names?: string[];
  dryRun: boolean;
}

interface RotateResult {
  /** Obsolete, unprotected and unused when listed. */
  unused: string[];
  verdicts: DeleteVerdict[];
}

/** Images one of rotate's delete steps checks and deletes. */
const ROTATE_DELETE_BATCH = 2_500;

/** `rotate`: deletes obsolete images no server of any project uses (each checked again right before). */
export async function rotateWorkflow(input: RotateInput): Promise<RotateResult> {
  let stage = 'listing servers and obsolete images';
  setHandler(stageQuery, () => stage);
  const where = {
    environment: input.environment,
    config: input.config,
    ...(input.target ? { target: input.target } : {}),
  };
  const survey = await inUse.surveyObsoleteImages({ ...where, ...(input.names ? { names: input.names } : {}) });
  const unused = survey.images.filter((i) => i.obsolete && !i.protected && i.usedBy === 0).map((i) => i.id);
  const verdicts: DeleteVerdict[] = [];
  if (!input.dryRun && unused.length && patched('rotate-batched-deletes')) {
    // one step checks every server again and deletes what is still unused: a listing per check, not per image
    stage = `deleting ${unused.length} image${unused.length > 1 ? 's' : ''}`;
    for (let i = 0; i < unused.length; i += ROTATE_DELETE_BATCH)
      verdicts.push(
        ...(await inUse.deleteUnusedImages({ ...where, imageIds: unused.slice(i, i + ROTATE_DELETE_BATCH) })),
      );
  } else if (!input.dryRun) {
    for (const imageId of unused) {
      stage = `deleting ${imageId}`;
      verdicts.push(await inUse.deleteUnusedImage({ ...where, imageId }));
    }
  }
  stage = 'done';
  return { unused, verdicts };
}

/** `transfer`: one activity streams the image from one cloud into the other (retried into the same image). */
export async function transferWorkflow(input: Omit<TransferInput, 'transferId'>): Promise<TransferResult> {
  let stage = `copying ${input.imageId}`;
  setHandler(stageQuery, () => stage);
  const result = await transferSteps().transferImage({ ...input, transferId: workflowInfo().workflowId });
  stage = 'done';
  return result;
}
