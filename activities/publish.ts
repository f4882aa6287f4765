/**
 * Publishing to an upload environment and retiring older copies: preparing the
 * file (preprocessing or external upload), sharing, obsoleting same-named
 * images, and deleting obsolete images no server uses. The upload itself is
 * `uploadImageFile` (image-upload.ts). Every step can run twice: renames and
 * memberships are idempotent, deletes ignore an image already gone, and each
 * delete checks again that no server uses the image.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { activityInfo, Context } from '@temporalio/activity';
import { ConfigLocation, CloudDeps, CloudRef, withCloud } from './cloud';
import { stageActivities } from './stage-failure';
import type { ImageAttributes } from './image-upload';
import { DibctlError, ExitCode } from '../errors';
import { ConfigError, ImageTestPlan, RetirePolicy, loadImage, loadTestPlan, loadUploadEnvironment, loadUploadPlan, resolveCredentials } from '../config';
import type { BuildInput } from './build';
import type { RetrySettings } from '../config/view';
import type { CloudAuth } from '../openstack';
import { Cloud, Image, NovaForbiddenError, propertyIsTrue } from '../openstack';

export const OBSOLETE_PREFIX = 'Obsolete ';

export class PreprocessingError extends DibctlError {
  constructor(message: string) {
    super(message, ExitCode.PREPROCESSING);
  }
}

export class ExternalCommandError extends DibctlError {}

/** `%(name)s` placeholders, as Python's %-formatting with a mapping; `%%` is a percent sign. */
export function interpolate(template: string, values: Record<string, string>, what: string): string {
  return template.replace(/%(%|\(([^)]*)\)s)/g, (whole, pct: string, name?: string) => {
    if (pct === '%') return '%';
    if (name === undefined || !(name in values)) {
      throw new PreprocessingError(`${what}: unknown placeholder ${whole} (known: ${Object.keys(values).map((k) => `%(${k})s`).join(', ')})`);
    }
    return values[name];
  });
}

interface CommandResult {
  code: number | null;
  output: string;
}

/** Runs a command line through /bin/sh in the directory the CLI ran in; output is kept (last 4 KiB) for the error message. */
function runShell(cmdline: string, env: NodeJS.ProcessEnv, cwd: string, signal?: AbortSignal): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', cmdline], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4096);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => (signal?.aborted ? resolve({ code: null, output: 'cancelled' }) : reject(err)));
    child.on('close', (code) => resolve({ code, output }));
  });
}

function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** OS_* variables for external upload commands (the standard openstack client reads them). */
function openstackEnvironment(auth: CloudAuth): Record<string, string> {
  const pairs: Array<[string, string | undefined]> = [
    ['OS_AUTH_URL', auth.authUrl],
    ['OS_USERNAME', auth.username],
    ['OS_USER_ID', auth.userId],
    ['OS_PASSWORD', auth.password],
    ['OS_PROJECT_NAME', auth.projectName],
    ['OS_PROJECT_ID', auth.projectId],
    ['OS_USER_DOMAIN_NAME', auth.userDomainName],
    ['OS_PROJECT_DOMAIN_NAME', auth.projectDomainName],
    ['OS_REGION_NAME', auth.regionName],
    ['OS_INTERFACE', auth.interface],
    ['OS_CACERT', auth.cacert],
  ];
  return Object.fromEntries(pairs.filter((p): p is [string, string] => typeof p[1] === 'string' && p[1] !== ''));
}

export interface PrepareInput {
  imageLabel: string;
  environment: string;
  config: ConfigLocation;
  /** Replaces the image's configured file (`-i FILE`). */
  filename?: string;
}

export type PreparedFile =
  | {
      mode: 'native';
      /** The file to upload: the image file or the preprocessing output. */
      file: string;
      /** A preprocessing output to delete after a successful upload. */
      deleteAfterUpload?: string;
      image: ImageAttributes;
      timeoutSeconds: number;
      shareWith: string[];
      preprocessed: boolean;
      /** The environment's `retry:` settings. */
      retry?: RetrySettings;
    }
  | { mode: 'external'; name: string; commands: number; retry?: RetrySettings };

/** What Glance gets for this image in this environment (merged glance settings). */
export function imageAttributes(plan: ReturnType<typeof loadUploadPlan>): ImageAttributes {
  const g = plan.glance;
  const name = g.name ?? plan.image.label;
  return {
    name,
    diskFormat: g.diskFormat,
    containerFormat: g.containerFormat,
    visibility: g.public ? 'public' : g.shareWith.length ? 'shared' : 'private',
    minDisk: g.minDisk,
    minRam: g.minRam,
    protected: g.protected,
    tags: g.tags,
    properties: g.properties,
  };
}

export function createPublishActivities(deps: CloudDeps = {}) {
  const env = () => deps.env ?? process.env;
  const uploadRef = (environment: string, config: ConfigLocation): CloudRef => ({ kind: 'upload', environment, config });

  /**
   * Runs on the host holding the file: checks it exists, runs preprocessing
   * (exit 18 when it fails) or the external upload commands.
   */
  async function prepareUpload(input: PrepareInput): Promise<PreparedFile> {
    const opts = { ...input.config, env: env(), filename: input.filename };
    const plan = loadUploadPlan(input.imageLabel, input.environment, opts);
    const attrs = imageAttributes(plan);
    const inputFile = plan.image.filename;
    const values = { input_filename: inputFile, disk_format: attrs.diskFormat, container_format: attrs.containerFormat };
    const signal = cancellation();
    const workDir = existsSync(input.config.cwd) ? input.config.cwd : process.cwd();

    if (plan.environment.externalUpload.length) {
      if (!existsSync(inputFile)) throw new DibctlError(`Image file ${inputFile} does not exist`);
      const { auth } = resolveCredentials('upload', input.environment, opts);
      const cmdEnv = { ...env(), ...openstackEnvironment(auth) };
      for (const template of plan.environment.externalUpload) {
        const cmdline = interpolate(template, { ...values, output_filename: inputFile, name: attrs.name }, `${input.environment}.external_upload`);
        const r = await runShell(cmdline, cmdEnv, workDir, signal);
        if (r.code !== 0) throw new ExternalCommandError(`External upload command failed (exit ${r.code}): ${cmdline}\n${r.output.trim()}`);
      }
      return { mode: 'external', name: attrs.name, commands: plan.environment.externalUpload.length, retry: plan.environment.retry };
    }

    let file = inputFile;
    let deleteAfterUpload: string | undefined;
    const pre = plan.environment.preprocessing;
    if (pre) {
      if (!existsSync(inputFile)) throw new PreprocessingError(`Preprocessing input ${inputFile} does not exist`);
      const output = path.resolve(workDir, interpolate(pre.outputFilename, values, `${input.environment}.preprocessing.output_filename`));
      const cmdline = interpolate(pre.cmdline, { ...values, output_filename: output }, `${input.environment}.preprocessing.cmdline`);
      if (!(pre.useExisting && existsSync(output))) {
        const r = await runShell(cmdline, env(), workDir, signal);
        if (r.code !== 0) throw new PreprocessingError(`Preprocessing failed (exit ${r.code}): ${cmdline}\n${r.output.trim()}`);
        if (!existsSync(output)) throw new PreprocessingError(`Preprocessing did not create ${output}: ${cmdline}`);
      }
      file = output;
      if (pre.deleteProcessedAfterUpload) deleteAfterUpload = output;
    } else if (!existsSync(inputFile)) {
      throw new DibctlError(`Image file ${inputFile} does not exist (build it first, or pass -i FILE)`);
    }
    return {
      mode: 'native',
      file,
      ...(deleteAfterUpload ? { deleteAfterUpload } : {}),
      image: attrs,
      timeoutSeconds: plan.glance.uploadTimeout,
      shareWith: plan.glance.shareWith,
      preprocessed: Boolean(pre),
      retry: plan.environment.retry,
    };
  }

  /** Removes a preprocessing output once its upload succeeded (on the host holding it). */
  async function removeProcessedFile(input: { file: string }): Promise<boolean> {
    try {
      await fs.unlink(input.file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Makes each project (name or id) a member of the image; returns the member project ids. */
  async function shareImage(input: { environment: string; config: ConfigLocation; imageId: string; projects: string[] }): Promise<string[]> {
    return withCloud(uploadRef(input.environment, input.config), deps, async (cloud) => {
      const ids: string[] = [];
      for (const p of input.projects) {
        const id = await cloud.identity.resolveProjectId(p);
        await cloud.image.addMember(input.imageId, id);
        ids.push(id);
      }
      return ids;
    });
  }

  /**
   * Marks every other image with this name in this project obsolete: renamed
   * `Obsolete <name>`, property `obsolete=true`. Without `keepId` (an external
   * upload), the newest image of that name is the one kept.
   */
  async function obsoleteOlderImages(input: { environment: string; config: ConfigLocation; name: string; keepId?: string }): Promise<ObsoletedImage[]> {
    return withCloud(uploadRef(input.environment, input.config), deps, async (cloud) => {
      const owner = cloud.identity.projectId;
      const same = (await cloud.image.findImagesByName(input.name, owner ? { owner } : {})).filter((i) => !owner || i.owner === owner);
      const keepId = input.keepId ?? [...same].sort((a, b) => b.created_at.localeCompare(a.created_at))[0]?.id;
      const out: ObsoletedImage[] = [];
      if (!keepId) return out;
      // Renamed images no longer match the name: those an earlier attempt of this step obsoleted
      // are found by the image that replaced them, so the retirement still gets every one.
      const earlier = (await cloud.image.findImagesByProperty(OBSOLETED_FOR_PROPERTY, keepId, owner ? { owner } : {})).filter((i) => !owner || i.owner === owner);
      for (const img of earlier) if (img.id !== keepId) out.push({ id: img.id, name: img.name ?? `${OBSOLETE_PREFIX}${input.name}` });
      for (const img of same) {
        if (img.id === keepId || out.some((o) => o.id === img.id)) continue;
        await markObsolete(cloud, img, { [OBSOLETED_FOR_PROPERTY]: keepId });
        out.push({ id: img.id, name: `${OBSOLETE_PREFIX}${input.name}` });
      }
      return out;
    });
  }

  /** `mark-obsolete ENV UUID`: the one image, whatever its name (exit 50 when missing). */
  async function markImageObsolete(input: { environment: string; config: ConfigLocation; imageId: string }): Promise<ObsoletedImage> {
    return withCloud(uploadRef(input.environment, input.config), deps, async (cloud) => {
      const img = await cloud.image.getImage(input.imageId);
      const updated = await markObsolete(cloud, img);
      return { id: updated.id, name: updated.name ?? '' };
    });
  }

  /**
   * Obsolete images of the environment's project and whether a server uses
   * each. Lists every server of every project (Nova 403 → exit 61). With
   * `names`, only images with one of those names.
   */
  async function surveyObsoleteImages(input: { environment: string; config: ConfigLocation; names?: string[]; ids?: string[] }): Promise<ObsoleteSurvey> {
    return withCloud(uploadRef(input.environment, input.config), deps, async (cloud) => {
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
  async function deleteUnusedImage(input: { environment: string; config: ConfigLocation; imageId: string }): Promise<DeleteVerdict> {
    return withCloud(uploadRef(input.environment, input.config), deps, async (cloud) => {
      const img = await cloud.image.findImage(input.imageId);
      if (!img) return { imageId: input.imageId, outcome: 'gone' };
      if (img.protected) return { imageId: img.id, outcome: 'kept', reason: 'protected' };
      if (!propertyIsTrue(img.obsolete)) return { imageId: img.id, outcome: 'kept', reason: 'not obsolete' };
      const users = await cloud.compute.listServers({ all_tenants: true, image: img.id });
      const using = users.filter((s) => s.image && s.image.id === img.id);
      if (using.length) return { imageId: img.id, outcome: 'kept', reason: `used by ${using.length} server${using.length > 1 ? 's' : ''}` };
      const existed = await cloud.image.deleteImage(img.id, { ignoreMissing: true });
      return { imageId: img.id, outcome: existed ? 'deleted' : 'gone' };
    });
  }

  /** The environment's retire policy (read at every check, so edits apply). */
  async function retirePolicy(input: { environment: string; config: ConfigLocation }): Promise<RetirePolicy> {
    return loadUploadEnvironment(input.environment, { ...input.config, env: env() }).retire;
  }

  /** Hands obsolete images to the environment's retirement workflow, starting it when it does not run. */
  async function handToRetirement(input: { environment: string; config: ConfigLocation; images: ObsoletedImage[] }): Promise<string> {
    const client = Context.current().client;
    const workflowId = retirementWorkflowId(input.environment);
    await client.workflow.signalWithStart('retirementWorkflow', {
      workflowId,
      taskQueue: activityInfo().taskQueue,
      args: [{ environment: input.environment, config: input.config }],
      signal: 'addImages',
      signalArgs: [input.images],
      searchAttributes: { DibctlEnvironments: [input.environment] },
    });
    return workflowId;
  }

  /**
   * What one lifecycle run needs, read from the config files at the start of
   * the run (so a schedule always runs with the current config): the build
   * input, the merged test plan, and a check that each upload environment exists.
   */
  async function lifecyclePlan(input: LifecyclePlanInput): Promise<LifecyclePlan> {
    const opts = { ...input.config, env: env(), filename: input.filename };
    const image = loadImage(input.label, opts);
    for (const e of input.uploadEnvironments) loadUploadPlan(input.label, e, opts);
    let build: BuildInput | undefined;
    if (input.build) {
      if (!image.dib && !image.externalBuild.length) {
        throw new ConfigError(`${image.file}: ${input.label}: has neither a dib section nor external_build: nothing to build (run without building)`);
      }
      build = { label: input.label, output: image.filename, ...(image.dib ? { dib: image.dib } : {}), externalBuild: image.externalBuild, cwd: input.config.cwd };
    } else if (!existsSync(image.filename)) {
      throw new DibctlError(`Image file ${image.filename} does not exist (build it, or run with building)`);
    }
    const test = input.test ? loadTestPlan(input.label, { ...opts, ...(input.testEnvironment ? { environment: input.testEnvironment } : {}) }) : undefined;
    return { file: image.filename, ...(build ? { build } : {}), ...(test ? { test } : {}) };
  }

  return stageActivities({
    lifecyclePlan,
    prepareUpload,
    removeProcessedFile,
    shareImage,
    obsoleteOlderImages,
    markImageObsolete,
    surveyObsoleteImages,
    deleteUnusedImage,
    retirePolicy,
    handToRetirement,
  });
}

/** The retirement workflow of an upload environment: one per environment. */
export function retirementWorkflowId(environment: string): string {
  return `dibctl-retirement-${environment}`;
}

export interface LifecyclePlanInput {
  label: string;
  config: ConfigLocation;
  filename?: string;
  uploadEnvironments: string[];
  build: boolean;
  test: boolean;
  testEnvironment?: string;
}

export interface LifecyclePlan {
  /** Absolute path of the image file (built, tested and published). */
  file: string;
  build?: BuildInput;
  test?: ImageTestPlan;
}

export interface ObsoletedImage {
  id: string;
  name: string;
}

export interface SurveyedImage {
  id: string;
  name: string;
  createdAt: string;
  obsolete: boolean;
  protected: boolean;
  /** Servers (of any project) booted from it. */
  usedBy: number;
}

export interface ObsoleteSurvey {
  images: SurveyedImage[];
  /** Ids asked for that no longer exist. */
  missing: string[];
}

export type DeleteVerdict = { imageId: string; outcome: 'deleted' | 'gone' } | { imageId: string; outcome: 'kept'; reason: string };

/** Image property naming the image that replaced an obsoleted one. */
export const OBSOLETED_FOR_PROPERTY = 'dibctl_obsoleted_for';

async function markObsolete(cloud: Cloud, img: Image, extra: Record<string, string> = {}): Promise<Image> {
  const name = img.name ?? '';
  const newName = name.startsWith(OBSOLETE_PREFIX) ? name : `${OBSOLETE_PREFIX}${name}`;
  if (newName === name && propertyIsTrue(img.obsolete) && Object.entries(extra).every(([k, v]) => img[k] === v)) return img;
  return cloud.image.updateImage(img.id, { name: newName, properties: { obsolete: 'true', ...extra } }, img);
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
