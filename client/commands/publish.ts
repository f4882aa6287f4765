/**
 * `upload`, `mark-obsolete`, `rotate` and `rotate-single`: each runs a workflow
 * and renders its result. Config is read here first, so a bad file or label
 * fails at once with its exit code (the worker reads it again by location).
 */
import { RetryNotices } from '../retries';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Workflow, WorkflowExecutionDescription, WorkflowHandle, WorkflowResultType } from '@temporalio/client';
import { targetOf } from '../../activities/cloud-target';
import type { CloudTarget, ConfigLocation, UploadHeartbeat } from '../../activities';
import {
  CredentialsError,
  credentialsUsedLine,
  loadKind,
  loadUploadEnvironment,
  loadUploadPlan,
  resolveCredentials,
} from '../../config';
import type { UploadEnvironmentConfig } from '../../config';
import { DibctlError, ExitCode } from '../../errors';
import { commandWorkflowIds } from '../../common/ids';
import { localHostQueue } from '../../worker/queues';
import type { PublishResult } from '../../workflows';
import { LiveView, PhaseSpec, liveView } from '../live-view';
import { Output, formatBytes, printJson, progressLine } from '../render';
import type { Session } from '../session';
import { asDibctlError } from '../workflow-failure';

export interface ConfigFileOptions {
  imagesConfig?: string;
  uploadConfig?: string;
}

/** Where the worker reads the configs: this directory and the explicit files, made absolute. */
export function configLocation(opts: ConfigFileOptions, cwd = process.cwd()): ConfigLocation {
  return {
    cwd,
    ...(opts.imagesConfig ? { imagesConfig: path.resolve(cwd, opts.imagesConfig) } : {}),
    ...(opts.uploadConfig ? { uploadConfig: path.resolve(cwd, opts.uploadConfig) } : {}),
  };
}

/** Where an upload environment's credentials lead as this host resolves them, and how to check them again. */
interface UploadAccess {
  /** Pins the workflow there; absent when they cannot be resolved here and a worker elsewhere may. */
  target?: CloudTarget;
  /** Throws (exit 12) when they cannot be resolved here: run before a worker starts in this process. */
  checkCredentials: () => void;
}

/**
 * Where this command's credentials for an upload environment lead, to pin the
 * workflow there, saying where they came from (`Using OS_AUTH_URL, ... from
 * the environment`). Credentials that cannot be resolved here are refused
 * (exit 12) when the worker certainly runs in this process (workerHere);
 * otherwise a worker with its own OS_* variables resolves them, as before.
 */
function uploadAccess(
  environment: string,
  config: ConfigLocation,
  note: (line: string) => void,
  workerHere: boolean,
): UploadAccess {
  const checkCredentials = () => {
    resolveCredentials('upload', environment, config);
  };
  try {
    const resolved = resolveCredentials('upload', environment, config);
    note(credentialsUsedLine(resolved));
    return { target: targetOf(resolved.auth), checkCredentials };
  } catch (err) {
    // a worker elsewhere may have the OS_* variables this host lacks; an environment without a
    // keystone section has no cloud anywhere
    if (err instanceof CredentialsError && !workerHere && loadUploadEnvironment(environment, config).hasKeystone)
      return { checkCredentials };
    throw err;
  }
}

export function shortId(): string {
  return randomUUID().slice(0, 8);
}

/** The progress that a workflow's running activities of a type report in their heartbeats. */
export async function heartbeatProgress(
  session: Session,
  desc: WorkflowExecutionDescription,
  activityType = 'uploadImageFile',
): Promise<Array<{ activityId: string; progress: UploadHeartbeat }>> {
  const { decodeArrayFromPayloads } = await import('@temporalio/common/lib/internal-non-workflow');
  const found: Array<{ activityId: string; progress: UploadHeartbeat }> = [];
  for (const a of desc.raw.pendingActivities ?? []) {
    if (a.activityType?.name !== activityType || !a.heartbeatDetails?.payloads?.length) continue;
    const [p] = (await decodeArrayFromPayloads(
      session.client.options.loadedDataConverter,
      a.heartbeatDetails.payloads,
    )) as UploadHeartbeat[];
    if (p) found.push({ activityId: a.activityId ?? '', progress: p });
  }
  return found;
}

/** The stages of an upload to one environment, as its live view shows them. */
const UPLOAD_PHASES: PhaseSpec[] = [
  { title: 'prepare the file', matches: /^preparing the image file/ },
  { title: 'upload', matches: /^uploading / },
  { title: 'remove the unfinished image', matches: /^removing the unfinished image/, optional: true },
  { title: 'share', matches: /^sharing /, optional: true },
  { title: 'obsolete older copies', matches: /^obsoleting older copies/, optional: true },
  { title: 'hand to retirement', matches: /^handing obsolete images to retirement/, optional: true },
];

/** A live view of one workflow: its stages, and a bar per upload labelled barLabel. */
interface LiveFollow {
  view: LiveView;
  barLabel: string;
}

/**
 * Waits for a workflow's result, printing the upload progress its running
 * upload activities report in their heartbeats (one line per change), or
 * showing it, with the workflow's stage, in a live view.
 */
export async function resultWithProgress<W extends Workflow>(
  session: Session,
  handle: WorkflowHandle<W>,
  o: Output,
  label: (activityId: string) => string,
  activityType = 'uploadImageFile',
  live?: LiveFollow,
): Promise<WorkflowResultType<W>> {
  const { stageQuery } = await import('../../workflows');
  let done = false;
  let finish!: () => void;
  // the result ends the wait between two looks at once
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const seen = new Map<string, string>();
  const retries = new RetryNotices(o, live?.view);
  const watch = (async () => {
    while (!done) {
      await Promise.race([finished, new Promise((r) => setTimeout(r, 1000).unref())]);
      if (done) break;
      try {
        if (live?.view.active) live.view.stage(await handle.query(stageQuery));
        const desc = await handle.describe();
        retries.report(desc);
        for (const { activityId, progress: p } of await heartbeatProgress(session, desc, activityType)) {
          if (live?.view.active) {
            live.view.upload(activityId, live.barLabel, p);
            continue;
          }
          if (!p.bytes) continue;
          const line = progressLine(label(activityId), p);
          if (seen.get(activityId) !== line) o.err(line);
          seen.set(activityId, line);
        }
      } catch {
        // progress is best effort; the result below tells what happened
      }
    }
  })();
  let ok = false;
  try {
    const result = await handle.result();
    ok = true;
    return result;
  } catch (err) {
    throw asDibctlError(err);
  } finally {
    done = true;
    finish();
    await watch;
    live?.view.finish(ok ? 'done' : 'failed');
  }
}

/** Seconds as the config writes them: `6h`, `90m`, `2d`, `45s`. */
function durationText(seconds: number): string {
  for (const [unit, size] of [
    ['w', 604800],
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** The environment's retire section as this host's config has it (undefined when it cannot be read here). */
export function retireSettings(
  environment: string,
  config: ConfigLocation,
): UploadEnvironmentConfig['retire'] | undefined {
  try {
    return loadUploadEnvironment(environment, config).retire;
  } catch {
    return undefined;
  }
}

/** One line: what happens to the copies a publish marked obsolete, and when. */
function obsoletedFate(r: PublishResult, retire?: UploadEnvironmentConfig['retire']): string | undefined {
  const n = r.obsoleted.length;
  if (!n) return undefined;
  const [copies, them, stay] =
    n === 1 ? ['the obsolete copy', 'it', 'stays'] : [`the ${n} obsolete copies`, 'them', 'stay'];
  if (r.retirementWorkflowId) {
    if (!retire)
      return `${r.environment}: ${copies} handed to ${r.retirementWorkflowId}, deleted once no server uses ${them}`;
    const rules = [
      `checked every ${durationText(retire.checkEverySeconds)}`,
      ...(retire.deleteAfterSeconds ? [`kept at least ${durationText(retire.deleteAfterSeconds)}`] : []),
      ...(retire.keep ? [`the newest ${retire.keep} of each name kept`] : []),
    ];
    return `${r.environment}: ${copies} will be deleted once no server uses ${them} (${rules.join(', ')}; ${r.retirementWorkflowId})`;
  }
  const why = retire && !retire.enabled ? 'retire.enabled is false' : 'not handed to retirement';
  return `${r.environment}: ${copies} ${stay} until 'dibctl rotate ${r.environment}' deletes the unused ones (${why})`;
}

/** The lines printed for one environment's publish result; `retire`: its retire settings, for what happens next. */
export function publishLines(r: PublishResult, retire?: UploadEnvironmentConfig['retire']): string[] {
  const lines: string[] = [];
  if (r.external) lines.push(`${r.environment}: external upload of '${r.name}' done`);
  else {
    const rate = r.bytes && r.durationMs ? `, ${formatBytes((r.bytes * 1000) / Math.max(r.durationMs, 1))}/s` : '';
    const how = r.reused
      ? 'already uploaded by an earlier attempt, checksum verified'
      : `${formatBytes(r.bytes ?? 0)}${rate}, checksum verified`;
    lines.push(`${r.environment}: image ${r.imageId} '${r.name}' uploaded (${how})`);
  }
  if (r.members.length) lines.push(`${r.environment}: shared with ${r.members.join(', ')}`);
  if (r.supersededBy) {
    lines.push(
      `${r.environment}: image ${r.imageId} is no longer current: ${r.supersededBy}, from a publish of '${r.name}' that completed later, is`,
    );
  }
  for (const ob of r.obsoleted) lines.push(`${r.environment}: image ${ob.id} marked obsolete ('${ob.name}')`);
  if (r.notObsoleted) lines.push(`${r.environment}: older copies of '${r.name}' were not obsoleted: ${r.notObsoleted}`);
  const fate = obsoletedFate(r, retire);
  if (fate) lines.push(fate);
  return lines;
}

export interface UploadOptions extends ConfigFileOptions {
  input?: string;
  obsolete: boolean;
}

/** What `upload` checked before its session: config, label, image file name and credentials. */
interface PreparedUpload extends UploadAccess {
  label: string;
  environment: string;
  config: ConfigLocation;
  filename?: string;
  /** The Glance name the image gets. */
  name: string;
  /** The environment's retire settings: what the output says happens to obsoleted copies. */
  retire: UploadEnvironmentConfig['retire'];
}

/** Reads and checks `upload LABEL ENV`'s config (10, 11) and credentials (12, see uploadAccess). */
export function prepareUpload(
  label: string,
  environment: string,
  opts: UploadOptions,
  note: (line: string) => void,
  workerHere: boolean,
): PreparedUpload {
  const config = configLocation(opts);
  const filename = opts.input ? path.resolve(opts.input) : undefined;
  const plan = loadUploadPlan(label, environment, { ...config, filename, onWarning: note });
  const name = plan.glance.name ?? label;
  note(`Uploading ${plan.image.filename} to ${environment} as '${name}'`);
  // external_upload alone: its commands bring their own credentials, there is no cloud to pin
  const access: UploadAccess = plan.environment.hasKeystone
    ? uploadAccess(environment, config, note, workerHere)
    : { checkCredentials: () => undefined };
  return {
    label,
    environment,
    config,
    ...(filename ? { filename } : {}),
    name,
    retire: plan.environment.retire,
    ...access,
  };
}

/** `upload LABEL ENV [-i FILE] [--no-obsolete]`. */
export async function upload(session: Session, p: PreparedUpload, opts: UploadOptions, o: Output): Promise<number> {
  const { publishWorkflow } = await import('../../workflows');
  const { label, environment, config, filename, name } = p;
  const handle = await session.client.workflow.start(publishWorkflow, {
    taskQueue: session.taskQueue,
    workflowId: commandWorkflowIds.upload(label, environment, shortId()),
    args: [
      {
        imageLabel: label,
        environment,
        config,
        ...(p.target ? { target: p.target } : {}),
        ...(filename ? { filename } : {}),
        fileQueue: localHostQueue(session.taskQueue),
        obsolete: opts.obsolete,
      },
    ],
    searchAttributes: { DibctlLabel: [label], DibctlEnvironments: [environment] },
  });
  const view = liveView(o, `dibctl upload ${label} ${environment}`, UPLOAD_PHASES, { interrupts: 'exit' });
  const result = await resultWithProgress(
    session,
    handle,
    o,
    () => `Uploading '${name}' to ${environment}`,
    'uploadImageFile',
    view && { view, barLabel: environment },
  );
  if (o.json) printJson(o, { workflowId: handle.workflowId, ...result });
  else for (const line of publishLines(result, p.retire)) o.out(line);
  return 0;
}

/** What `mark-obsolete`, `rotate` and `rotate-single` checked before their session. */
interface PreparedEnvironment extends UploadAccess {
  environment: string;
  config: ConfigLocation;
}

/** Reads and checks an upload environment's config (10, 11) and credentials (12, see uploadAccess). */
export function prepareEnvironment(
  environment: string,
  opts: ConfigFileOptions,
  note: (line: string) => void,
  workerHere: boolean,
): PreparedEnvironment {
  const config = configLocation(opts);
  loadUploadEnvironment(environment, { ...config, onWarning: note });
  return { environment, config, ...uploadAccess(environment, config, note, workerHere) };
}

/** `mark-obsolete ENV UUID`. */
export async function markObsolete(
  session: Session,
  p: PreparedEnvironment,
  imageId: string,
  o: Output,
): Promise<number> {
  const { markObsoleteWorkflow } = await import('../../workflows');
  const { environment, config } = p;
  const handle = await session.client.workflow.start(markObsoleteWorkflow, {
    taskQueue: session.taskQueue,
    workflowId: commandWorkflowIds.markObsolete(environment, imageId, shortId()),
    args: [{ environment, config, ...(p.target ? { target: p.target } : {}), imageId }],
    searchAttributes: { DibctlEnvironments: [environment] },
  });
  const result = await resultWithProgress(session, handle, o, () => '');
  if (o.json) printJson(o, result);
  else o.out(`Image ${result.image.id} is obsolete ('${result.image.name}')`);
  return 0;
}

export interface RotateOptions extends ConfigFileOptions {
  dryRun?: boolean;
}

/** Labels of a kind's config, or none when it cannot be read (its own error comes later, with its exit code). */
function labelsOf(kind: 'images' | 'upload', config: ConfigLocation): Set<string> {
  try {
    return new Set(loadKind(kind, config).entries.keys());
  } catch (err) {
    if (err instanceof DibctlError) return new Set();
    throw err;
  }
}

/**
 * `rotate-single` takes the image label first, as dibctl and `upload` do. The
 * two given the other way round (an upload environment where the label goes,
 * an image label where the environment goes) is a usage error naming the order.
 */
function checkRotateSingleOrder(imageLabel: string, environment: string, config: ConfigLocation): void {
  const images = labelsOf('images', config);
  if (images.has(imageLabel)) return;
  const environments = labelsOf('upload', config);
  if (environments.has(imageLabel) && images.has(environment) && !environments.has(environment)) {
    throw new DibctlError(
      `'${imageLabel}' is an upload environment and '${environment}' an image: the image label comes first, as for upload`,
      ExitCode.USAGE,
      { nextStep: `dibctl rotate-single ${environment} ${imageLabel}` },
    );
  }
}

/** What `rotate` and `rotate-single` checked before their session; names limit rotate-single to one image. */
interface PreparedRotate extends PreparedEnvironment {
  imageLabel?: string;
  names?: string[];
}

/**
 * Reads and checks `rotate ENV`, or with an image label `rotate-single LABEL ENV`
 * (the order of the two first: exit 2), before any session.
 */
export function prepareRotate(
  environment: string,
  imageLabel: string | undefined,
  opts: RotateOptions,
  note: (line: string) => void,
  workerHere: boolean,
): PreparedRotate {
  const config = configLocation(opts);
  if (!imageLabel) return prepareEnvironment(environment, opts, note, workerHere);
  checkRotateSingleOrder(imageLabel, environment, config);
  const plan = loadUploadPlan(imageLabel, environment, { ...config, onWarning: note });
  const name = plan.glance.name ?? imageLabel;
  return {
    environment,
    config,
    imageLabel,
    names: [`Obsolete ${name}`, name],
    ...uploadAccess(environment, config, note, workerHere),
  };
}

/** `rotate ENV [--dry-run]`, and with an image label `rotate-single LABEL ENV [--dry-run]`. */
export async function rotate(session: Session, p: PreparedRotate, opts: RotateOptions, o: Output): Promise<number> {
  const { rotateWorkflow } = await import('../../workflows');
  const { environment, config, imageLabel, names } = p;
  const handle = await session.client.workflow.start(rotateWorkflow, {
    taskQueue: session.taskQueue,
    workflowId: commandWorkflowIds.rotate(environment, imageLabel, shortId()),
    args: [
      {
        environment,
        config,
        ...(p.target ? { target: p.target } : {}),
        ...(names ? { names } : {}),
        dryRun: Boolean(opts.dryRun),
      },
    ],
    searchAttributes: { DibctlEnvironments: [environment], ...(imageLabel ? { DibctlLabel: [imageLabel] } : {}) },
  });
  const result = await resultWithProgress(session, handle, o, () => '');
  if (o.json) {
    printJson(o, { dryRun: Boolean(opts.dryRun), ...result });
    return 0;
  }
  if (!result.unused.length) {
    o.out('No unused obsolete images found.');
    return 0;
  }
  if (opts.dryRun) {
    o.out("Images are obsolete and unused, but wouldn't be removed per --dry-run:");
    for (const id of result.unused) o.out(id);
    return 0;
  }
  o.out('Images are obsolete and unused and will be removed:');
  for (const id of result.unused) o.out(id);
  for (const v of result.verdicts) if (v.outcome === 'kept') o.err(`Not removed: ${v.imageId} (${v.reason})`);
  return 0;
}
