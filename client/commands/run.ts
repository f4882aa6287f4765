/**
 * `run LABEL --upload-env A [--upload-env B ...]`: the whole lifecycle — build,
 * test, publish to every environment in parallel, obsolete, hand to retirement —
 * with its stage and upload progress shown as it goes.
 */
import { RetryNotices } from '../retries';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { CloudTarget, ConfigLocation } from '../../activities';
import { targetOf } from '../../activities/cloud-target';
import { credentialsUsedLine, loadImage, loadTestPlan, loadUploadPlan, resolveCredentials } from '../../config';
import { DEFAULT_TASK_QUEUE, commandWorkflowIds, lifecycleChildren } from '../../common/ids';
import { DibctlError, ExitCode, detailsOf, failureOf, nextStepOf } from '../../errors';
import { localHostQueue } from '../../worker/queues';
import type {
  ImageTestFailureDetails,
  imageLifecycleWorkflow,
  imageTestWorkflow,
  LifecycleFailureDetails,
  LifecycleInput,
  LifecycleResult,
} from '../../workflows';
import { LiveView, PhaseSpec, liveView } from '../live-view';
import { Output, printJson, progressLine } from '../render';
import type { Session } from '../session';
import { asDibctlError } from '../workflow-failure';
import { ConfigFileOptions, heartbeatProgress, publishLines, retireSettings, shortId } from './publish';
import type { TestReport, hostSecrets as HostSecretsFn } from '../junit-report';

type HostSecrets = typeof HostSecretsFn;
import { checkReportPath } from '../report-options';

export interface RunOptions extends ConfigFileOptions {
  uploadEnv: string[];
  input?: string;
  build: boolean;
  test: boolean;
  environment?: string;
  testConfig?: string;
  /** Where to write the JUnit XML report of the tests. */
  junitXml?: string;
}

/** The lifecycle input from the command line; config problems fail here (10, 11, 12). */
export function lifecycleInput(
  label: string,
  opts: RunOptions,
  taskQueue: string = DEFAULT_TASK_QUEUE,
  cwd = process.cwd(),
  note?: (line: string) => void,
): LifecycleInput {
  if (!opts.uploadEnv.length) throw new DibctlError('Name at least one --upload-env', ExitCode.USAGE);
  const config = {
    cwd,
    ...(opts.imagesConfig ? { imagesConfig: path.resolve(cwd, opts.imagesConfig) } : {}),
    ...(opts.testConfig ? { testConfig: path.resolve(cwd, opts.testConfig) } : {}),
    ...(opts.uploadConfig ? { uploadConfig: path.resolve(cwd, opts.uploadConfig) } : {}),
  };
  const filename = opts.input ? path.resolve(cwd, opts.input) : undefined;
  loadImage(label, { ...config, filename });
  const targets: Record<string, CloudTarget> = {};
  for (const env of opts.uploadEnv) {
    const plan = loadUploadPlan(label, env, { ...config, filename });
    // external_upload alone: its commands bring their own credentials, there is no cloud to pin
    if (!plan.environment.hasKeystone) continue;
    const resolved = resolveCredentials('upload', env, config);
    note?.(credentialsUsedLine(resolved));
    targets[env] = targetOf(resolved.auth);
  }
  return {
    label,
    uploadEnvironments: [...new Set(opts.uploadEnv)],
    config,
    hostQueue: localHostQueue(taskQueue),
    ...(filename ? { filename } : {}),
    build: opts.build,
    test: opts.test,
    ...(opts.environment ? { testEnvironment: opts.environment } : {}),
    targets,
  };
}

function lifecycleFailure(err: unknown): LifecycleFailureDetails | undefined {
  return detailsOf<LifecycleFailureDetails>(err, (f) => f.type === 'PublishFailed');
}

function regionLines(r: LifecycleResult, config?: ConfigLocation): string[] {
  const lines: string[] = [];
  for (const region of r.regions) {
    if (region.ok && region.result)
      lines.push(...publishLines(region.result, config && retireSettings(region.environment, config)));
    else lines.push(`${region.environment}: FAILED: ${region.error?.message ?? 'unknown error'}`);
  }
  return lines;
}

/** The lifecycle's stages as its live view shows them: build and test unless skipped, then the publishes. */
function lifecyclePhases(input: LifecycleInput): PhaseSpec[] {
  return [
    ...(input.build ? [{ title: 'build', matches: /^building / }] : []),
    ...(input.test ? [{ title: 'test', matches: /^testing |^checking that / }] : []),
    { title: 'publish', matches: /^publishing to / },
  ];
}

/** How a closed publish of one environment ended, in the live view's words. */
function closedNote(status: string): string {
  return status === 'COMPLETED' ? 'done' : status.toLowerCase().replace(/_/g, ' ');
}

/**
 * Prints the lifecycle's stage changes and its publish children's upload progress until it ends,
 * or shows them in a live view, with the test's stage and each environment's own.
 */
async function watch(
  session: Session,
  handle: WorkflowHandle<typeof imageLifecycleWorkflow>,
  envs: string[],
  o: Output,
  done: () => boolean,
  finished: Promise<void>,
  live?: LiveView,
): Promise<void> {
  const { stageQuery } = await import('../../workflows');
  let stage = '';
  const seen = new Map<string, string>();
  const retries = new RetryNotices(o, live);
  while (!done()) {
    // the result ends the wait between two looks at once
    await Promise.race([finished, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (done()) break;
    try {
      const now = await handle.query(stageQuery);
      if (live?.active) live.stage(now);
      else if (now !== stage) o.err(`Stage: ${now}`);
      stage = now;
    } catch {
      // not started yet or finished
    }
    if (stage.startsWith('testing')) {
      const test = session.client.workflow.getHandle(lifecycleChildren.test(handle.workflowId));
      const desc = await test.describe().catch(() => undefined);
      if (desc) retries.report(desc, 'the test');
      if (desc && live?.active) {
        const childStage = await test.query(stageQuery).catch(() => undefined);
        if (childStage) live.detail(childStage);
        const uploads = await heartbeatProgress(session, desc).catch(() => []);
        for (const { progress } of uploads) live.upload('test', 'test image', progress);
      }
    }
    for (const env of envs) {
      try {
        const publish = session.client.workflow.getHandle(lifecycleChildren.publish(handle.workflowId, env));
        const desc = await publish.describe();
        retries.report(desc, env);
        if (live?.active) {
          const uploads = await heartbeatProgress(session, desc);
          const running = desc.status.name === 'RUNNING';
          const now = running ? await publish.query(stageQuery).catch(() => '') : '';
          const note = !running ? closedNote(desc.status.name) : now.startsWith('uploading ') ? '' : now;
          live.upload(env, env, uploads[0]?.progress, note);
          continue;
        }
        for (const { progress: p } of await heartbeatProgress(session, desc)) {
          if (!p.bytes) continue;
          const line = progressLine(`Uploading to ${env}`, p);
          if (seen.get(env) !== line) o.err(line);
          seen.set(env, line);
        }
      } catch {
        // that publish has not started yet
      }
    }
  }
}

/** Checks `run`'s options before anything starts: usage errors exit 2. */
export function checkRunOptions(opts: RunOptions): void {
  if (!opts.uploadEnv.length) throw new DibctlError('Name at least one --upload-env', ExitCode.USAGE);
  if (opts.junitXml && !opts.test)
    throw new DibctlError('--junit-xml reports the tests, which --no-test skips: give one of them', ExitCode.USAGE);
  if (opts.junitXml) checkReportPath(opts.junitXml);
}

/** Starts a lifecycle of the checked input and follows it to its end; returns the exit code. */
export async function run(
  session: Session,
  label: string,
  opts: RunOptions,
  input: LifecycleInput,
  o: Output,
): Promise<number> {
  const { imageLifecycleWorkflow } = await import('../../workflows');
  const workflowId = commandWorkflowIds.run(label, shortId());
  const handle = await session.client.workflow.start(imageLifecycleWorkflow, {
    taskQueue: session.taskQueue,
    workflowId,
    args: [input],
    searchAttributes: { DibctlLabel: [label], DibctlEnvironments: input.uploadEnvironments },
  });
  o.err(`Image lifecycle ${workflowId} (dibctl status ${workflowId})`);
  if (!opts.junitXml) return followRun(session, handle, input, o);

  // the report is written whatever the outcome; the exit code stays the run's
  let code = 0;
  let error: unknown;
  try {
    code = await followRun(session, handle, input, o);
  } catch (err) {
    error = err;
  }
  const report = await lifecycleTestReport(session, workflowId, error);
  const { hostSecrets, writeTestReport } = await import('../junit-report');
  const written = writeTestReport(opts.junitXml, label, report, runSecrets(label, opts, input, hostSecrets), o);
  if (error) throw error;
  return written || code ? code : ExitCode.GENERIC;
}

/**
 * The tests of a lifecycle, from its test child's result; a lifecycle that
 * ended before testing (its build failed) is reported as not tested.
 */
async function lifecycleTestReport(session: Session, lifecycleId: string, error: unknown): Promise<TestReport> {
  const { WorkflowNotFoundError } = await import('@temporalio/client');
  const child = session.client.workflow.getHandle<typeof imageTestWorkflow>(lifecycleChildren.test(lifecycleId));
  try {
    return { tests: (await child.result()).tests };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      return error
        ? { tests: [], failure: `not tested: ${error instanceof Error ? error.message : String(error)}` }
        : { tests: [] };
    }
    const details = detailsOf<ImageTestFailureDetails>(err);
    return { tests: details?.result?.tests ?? [], failure: failureOf(err).message };
  }
}

/** Secrets this host knows for the run: those of the test environment and of every upload environment. */
function runSecrets(label: string, opts: RunOptions, input: LifecycleInput, hostSecrets: HostSecrets): string[] {
  const environments: Array<['test' | 'upload', string]> = input.uploadEnvironments.map((e) => ['upload', e]);
  let variables: Record<string, string> = {};
  try {
    const plan = loadTestPlan(label, { ...input.config, environment: opts.environment });
    environments.push(['test', plan.environment.label]);
    variables = plan.environmentVariables;
  } catch {
    // an image without a test environment here: its upload environments still count
  }
  return hostSecrets(input.config, environments, variables);
}

/**
 * After a publish failed in some regions: what the first failure's exit code
 * calls for, else publishing the tested file to those regions again.
 */
function publishStep(result: LifecycleResult): string {
  const first = result.regions.find((r) => !r.ok);
  const own = first?.error ? nextStepOf(first.error) : undefined;
  const again = result.failed.map((env) => `'dibctl upload ${result.label} ${env} -i ${result.file}'`).join(', ');
  return own ? `${own}; then ${again}` : `once the cause above is fixed, ${again} publishes the tested image there`;
}

/** Follows a started lifecycle to its end, printing its stages and results; returns the exit code. */
async function followRun(
  session: Session,
  handle: WorkflowHandle<typeof imageLifecycleWorkflow>,
  input: LifecycleInput,
  o: Output,
): Promise<number> {
  const { WorkflowFailedError } = await import('@temporalio/client');
  let finished = false;
  let finish!: () => void;
  const ended = new Promise<void>((resolve) => (finish = resolve));
  const title = `dibctl run ${input.label} (${input.uploadEnvironments.join(', ')})`;
  const live = liveView(o, title, lifecyclePhases(input), { interrupts: 'exit' });
  const watcher = watch(session, handle, input.uploadEnvironments, o, () => finished, ended, live);
  const outcome = await handle.result().then(
    (result) => ({ ok: true as const, result }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  finished = true;
  finish();
  await watcher;
  // the final block, each environment's outcome in it, stays above the results
  if (live) {
    const regions = outcome.ok ? outcome.result.regions : lifecycleFailure(outcome.err)?.result.regions;
    for (const r of regions ?? []) live.upload(r.environment, r.environment, undefined, r.ok ? 'done' : 'failed');
    live.finish(outcome.ok ? 'done' : 'failed');
  }
  if (outcome.ok) {
    if (o.json) printJson(o, outcome.result);
    else for (const line of regionLines(outcome.result, input.config)) o.out(line);
    return 0;
  }
  const err = outcome.err;
  const failure = err instanceof WorkflowFailedError ? lifecycleFailure(err) : undefined;
  if (!failure) throw asDibctlError(err, input.label);
  if (o.json) printJson(o, failure.result);
  else for (const line of regionLines(failure.result, input.config)) o.out(line);
  o.err(`Error: publishing failed in ${failure.result.failed.join(', ')}`);
  o.err(`Next step: ${publishStep(failure.result)}`);
  return failure.exitCode || 1;
}
