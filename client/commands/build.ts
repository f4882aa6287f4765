/**
 * `dibctl build LABEL [-o FILE]`: runs the build workflow on this host's queue
 * (the file stays here), prints the command and environment first, shows the
 * build's output as it comes, and exits with disk-image-create's own code.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { BuildHeartbeat, BuildInput } from '../../activities';
import { ConfigError, loadImage } from '../../config';
import { DibctlError, ExitCode, exitCodeOf, failureOf, nextStepOf } from '../../errors';
import { commandWorkflowIds } from '../../common/ids';
import type { ImageBuildInput } from '../../workflows';
import { localHostQueue } from '../../worker/queues';
import { isSecretName } from '../../activities/process/scrub';
import { LogTail } from '../log-tail';
import { Output, printJson } from '../render';
import type { Session } from '../session';

export interface BuildOptions {
  output?: string;
  imagesConfig?: string;
  cwd?: string;
}

/** The latest heartbeat of the running build activity, if any. */
async function buildHeartbeat(handle: WorkflowHandle): Promise<BuildHeartbeat | undefined> {
  try {
    const desc = await handle.describe();
    for (const a of desc.raw.pendingActivities ?? []) {
      const p = a.heartbeatDetails?.payloads?.[0];
      if (p) return defaultPayloadConverter.fromPayload<BuildHeartbeat>(p);
    }
  } catch {
    // the workflow may just have closed
  }
  return undefined;
}

type BuildPreview = ReturnType<typeof buildPreview>;

/**
 * What `dibctl build` prints: the image as the config on this host says (the worker reads
 * the same config). A config or label error fails here, before any session (10, 11).
 */
export function buildPreview(label: string, opts: BuildOptions) {
  const cwd = opts.cwd ?? process.cwd();
  const config = { cwd, ...(opts.imagesConfig ? { imagesConfig: path.resolve(cwd, opts.imagesConfig) } : {}) };
  const output = opts.output ? path.resolve(cwd, opts.output) : undefined;
  const image = loadImage(label, { ...config, filename: output });
  if (!image.dib && image.externalBuild.length === 0) {
    throw new ConfigError(`${image.file}: ${label}: has neither a dib section nor external_build: nothing to build`);
  }
  // the workflow's input: the label and where the config is, no commands
  const input: BuildInput = { label, output: image.filename, config };
  return { image, input };
}

export async function build(
  session: Session,
  label: string,
  { image, input }: BuildPreview,
  o: Output,
  interrupted: Promise<void>,
): Promise<number> {
  const [{ WorkflowFailedError }, { dibArguments, dibEnvironment }, { imageBuildWorkflow }] = await Promise.all([
    import('@temporalio/client'),
    import('../../activities/build'),
    import('../../workflows'),
  ]);
  if (image.dib && !o.json) {
    o.out(`disk-image-create ${dibArguments(image.filename, image.dib).join(' ')}`);
    o.out(
      `Environment: ${Object.entries(dibEnvironment(image.dib))
        // a secret (DIB_DEV_USER_PASSWORD, ...) is named, never shown
        .map(([k, v]) => `${k}=${isSecretName(k) ? '***' : v}`)
        .join(' ')}`,
    );
  }
  const logFile = `${image.filename}.log`;
  const logStart = LogTail.sizeOf(logFile);
  const workflowId = commandWorkflowIds.build(label, randomUUID().slice(0, 8));
  const args: ImageBuildInput = { build: input, hostQueue: localHostQueue(session.taskQueue) };
  const handle = await session.client.workflow.start(imageBuildWorkflow, {
    taskQueue: session.taskQueue,
    workflowId,
    args: [args],
  });
  o.err(`Build workflow ${workflowId} (dibctl status ${workflowId})`);
  void interrupted.then(() => {
    o.err('Interrupted: cancelling the build (its process group is killed).');
    return handle.cancel().catch(() => undefined);
  });

  // The build writes FILE.log on this host: follow it from its current end. Should the
  // file not be visible here (a worker with another filesystem), the heartbeat's tail stands in.
  const tail = o.json ? undefined : new LogTail(logFile, o.out, logStart);
  let shown = 0;
  const show = (hb: BuildHeartbeat | undefined) => {
    if (!hb || o.json || existsSync(logFile) || hb.lines <= shown) return;
    const fresh = hb.lines - shown;
    if (fresh > hb.tail.length) o.out(`... ${fresh - hb.tail.length} lines (see ${logFile} on the worker's host)`);
    for (const line of hb.tail.slice(-Math.min(fresh, hb.tail.length))) o.out(line);
    shown = hb.lines;
  };

  const outcome = handle.result().then(
    (r) => ({ ok: true as const, r }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  let done: Awaited<typeof outcome> | undefined;
  while (!done) {
    done = await Promise.race([outcome, new Promise<undefined>((r) => setTimeout(() => r(undefined), 500))]);
    if (done) break;
    tail?.poll();
    if (!existsSync(logFile)) show(await buildHeartbeat(handle));
  }
  tail?.flush();
  if (done.ok) {
    if (o.json) printJson(o, { workflowId, ...done.r });
    else
      o.out(
        `Image ${done.r.file} built${done.r.bytes !== null ? ` (${done.r.bytes} bytes)` : ''} in ${Math.round(done.r.durationMs / 1000)} s`,
      );
    return 0;
  }
  const code = exitCodeOf(done.err);
  if (done.err instanceof WorkflowFailedError) {
    const { message, type } = failureOf(done.err);
    // the exit code is disk-image-create's own: it says nothing of dibctl's meaning of that number
    const step =
      type === 'DibVersionError'
        ? "install a diskimage-builder within the image's dib.min_version and dib.max_version, or change those in images.yaml"
        : type === 'BuildFailedError'
          ? (nextStepOf({ exitCode: ExitCode.GENERIC, message }) ??
            `the build's output is above and in ${logFile} on the worker's host; 'dibctl doctor' checks the tools the image needs`)
          : nextStepOf({ exitCode: code ?? ExitCode.GENERIC, message, name: type });
    throw new DibctlError(message, code ?? ExitCode.GENERIC, { nextStep: step });
  }
  throw done.err;
}
