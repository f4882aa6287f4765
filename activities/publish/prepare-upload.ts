/**
 * Getting the file ready on the host holding it: checks it exists, then runs
 * preprocessing (exit 18 when it fails) or the external upload commands; and
 * removes a preprocessing output once its upload succeeded.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { publishBuildId } from '../../common/ids';
import { loadUploadPlan, resolveCredentials } from '../../config';
import type { RetrySettings } from '../../config/view';
import { DibctlError } from '../../errors';
import { checkTarget } from '../cloud';
import type { CloudDeps, ConfigLocation, CloudTarget } from '../cloud';
import type { ImageAttributes } from '../image-upload';
import { cancellation } from './commands';
import { runExternalUpload } from './external-upload';
import { isPublishOutputDir, runPreprocessing } from './preprocess';

interface PrepareInput {
  imageLabel: string;
  environment: string;
  config: ConfigLocation;
  target?: CloudTarget;
  /** Replaces the image's configured file (`-i FILE`). */
  filename?: string;
  /** The publish's build id: the preprocessing output is this publish's own, named after it. */
  buildId?: string;
}

type PreparedFile =
  | {
      mode: 'native';
      /** The file to upload: the image file or the preprocessing output. */
      file: string;
      /** A preprocessing output (this publish's own) to delete after a successful upload. */
      deleteAfterUpload?: string;
      image: ImageAttributes;
      /** glance.upload_timeout, per attempt; absent: no total limit. */
      timeoutSeconds?: number;
      /** glance.upload_stall_timeout. */
      stallSeconds: number;
      shareWith: string[];
      preprocessed: boolean;
      /** The environment's `retry:` settings. */
      retry?: RetrySettings;
    }
  | {
      mode: 'external';
      name: string;
      commands: number;
      retry?: RetrySettings;
      /** The environment has no keystone section: no older copy can be obsoleted there. */
      withoutCloud?: boolean;
    };

/**
 * The build id of the publish this step belongs to. A publish started by an
 * earlier version names none: its workflow's default build id, or (outside a
 * workflow) a fresh one.
 */
function publishIdOf(input: PrepareInput): string {
  if (input.buildId) return input.buildId;
  let workflowId: string | undefined;
  try {
    workflowId = Context.current().info.workflowExecution?.workflowId;
  } catch {
    workflowId = undefined;
  }
  return publishBuildId(workflowId ?? randomUUID(), input.environment);
}

/** What Glance gets for this image in this environment (merged glance settings). */
function imageAttributes(plan: ReturnType<typeof loadUploadPlan>): ImageAttributes {
  const g = plan.glance;
  const name = g.name ?? plan.image.label;
  return {
    name,
    diskFormat: g.diskFormat,
    containerFormat: g.containerFormat,
    visibility: g.visibility,
    minDisk: g.minDisk,
    minRam: g.minRam,
    protected: g.protected,
    tags: g.tags,
    properties: g.properties,
  };
}

export function createPrepareUploadActivities(deps: CloudDeps = {}) {
  const env = () => deps.env ?? process.env;

  /**
   * Runs on the host holding the file: checks it exists, runs preprocessing
   * (exit 18 when it fails) or the external upload commands.
   */
  async function prepareUpload(input: PrepareInput): Promise<PreparedFile> {
    const opts = { ...input.config, env: env(), filename: input.filename };
    const plan = loadUploadPlan(input.imageLabel, input.environment, opts);
    const attrs = imageAttributes(plan);
    const inputFile = plan.image.filename;
    const values = {
      input_filename: inputFile,
      disk_format: attrs.diskFormat,
      container_format: attrs.containerFormat,
    };
    const signal = cancellation();
    const workDir = existsSync(input.config.cwd) ? input.config.cwd : process.cwd();

    if (plan.environment.externalUpload.length) {
      if (!existsSync(inputFile)) throw new DibctlError(`Image file ${inputFile} does not exist`);
      // without a keystone section the commands bring their own credentials
      const auth = plan.environment.hasKeystone
        ? resolveCredentials('upload', input.environment, opts).auth
        : undefined;
      if (auth) checkTarget({ kind: 'upload', environment: input.environment, target: input.target }, auth);
      await runExternalUpload({
        environment: input.environment,
        templates: plan.environment.externalUpload,
        values: { ...values, output_filename: inputFile, name: attrs.name },
        auth,
        env: env(),
        cwd: workDir,
        signal,
      });
      return {
        mode: 'external',
        name: attrs.name,
        commands: plan.environment.externalUpload.length,
        retry: plan.environment.retry,
        ...(auth ? {} : { withoutCloud: true }),
      };
    }

    let file = inputFile;
    let deleteAfterUpload: string | undefined;
    const pre = plan.environment.preprocessing;
    if (pre) {
      const output = await runPreprocessing({
        environment: input.environment,
        settings: pre,
        inputFile,
        values,
        publishId: publishIdOf(input),
        env: env(),
        cwd: workDir,
        signal,
      });
      file = output.file;
      // a file this publish did not make alone (use_existing) is never deleted
      if (pre.deleteProcessedAfterUpload && output.own) deleteAfterUpload = output.file;
    } else if (!existsSync(inputFile)) {
      throw new DibctlError(`Image file ${inputFile} does not exist (build it first, or pass -i FILE)`);
    }
    return {
      mode: 'native',
      file,
      ...(deleteAfterUpload ? { deleteAfterUpload } : {}),
      image: attrs,
      ...(plan.glance.uploadTimeout ? { timeoutSeconds: plan.glance.uploadTimeout } : {}),
      stallSeconds: plan.glance.uploadStallTimeout,
      shareWith: plan.glance.shareWith,
      preprocessed: Boolean(pre),
      retry: plan.environment.retry,
    };
  }

  /**
   * Removes a preprocessing output once its upload succeeded (on the host
   * holding it), and the publish's directory it was put in once empty.
   */
  async function removeProcessedFile(input: { file: string }): Promise<boolean> {
    let removed = true;
    try {
      await fs.unlink(input.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      removed = false;
    }
    const dir = path.dirname(input.file);
    if (isPublishOutputDir(dir, input.file)) {
      await fs.rmdir(dir).catch((err: NodeJS.ErrnoException) => {
        // something else the command wrote beside its output stays, and so does the directory
        if (err.code !== 'ENOENT' && err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    }
    return removed;
  }

  return { prepareUpload, removeProcessedFile };
}
