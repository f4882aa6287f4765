/**
 * `dibctl test LABEL` and `dibctl shell LABEL`: start the image-test workflow,
 * print its lines as they come, open a shell when asked, and exit with the
 * code dibctl used (0, 50, 60, 70, 71, 80, ...). Ctrl-C cancels the workflow;
 * its cleanup still runs and is printed.
 */
import { RetryNotices } from '../retries';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { StepHeartbeat } from '../../activities';
import {
  credentialsUsedLine,
  durationProblem,
  loadImage,
  loadTestPlan,
  resolveCredentials,
  workflowTestPlan,
} from '../../config';
import { commandWorkflowIds } from '../../common/ids';
import { DibctlError, ExitCode, NO_SUCH_WORKFLOW_STEP, detailsOf, failureOf, hasCause } from '../../errors';
import type { ImageTestFailureDetails, ImageTestInput, ImageTestStatus, imageTestWorkflow } from '../../workflows';
import { DEFAULT_TASK_QUEUE } from '../../common/ids';
import { localHostQueue } from '../../worker/queues';
import { LogDirTail } from '../log-tail';
import { LiveView, PhaseSpec, liveView } from '../live-view';
import { Output, printJson } from '../render';
import { heartbeatProgress } from './publish';
import type { Session } from '../session';
import type { TestReport } from '../junit-report';
import { checkReportPath } from '../report-options';
import { asDibctlError } from '../workflow-failure';

export interface TestOptions {
  input?: string;
  environment?: string;
  uploadOnly?: boolean;
  useExistingImage?: string;
  useExistingInstance?: string;
  privateKeyFile?: string;
  keepFailedImage?: boolean;
  keepFailedInstance?: boolean;
  shell?: boolean;
  /** Where to write the JUnit XML report of the tests. */
  junitXml?: string;
  imagesConfig?: string;
  testConfig?: string;
  /** Seconds a held instance waits for keep/discard (default 24 h). */
  holdLimit?: number;
  /** Working directory the configs are read from (default: the process's). */
  cwd?: string;
}

/** Exit code of `exit 42` in the shell: keep the instance. */
const SHELL_KEEP_CODE = 42;

const POLL_MS = 400;

function failureDetails(err: unknown): ImageTestFailureDetails | undefined {
  return detailsOf<ImageTestFailureDetails>(err);
}

/** Options that cannot go together or lack their companion: usage errors (exit 2). */
function checkOptionCombination(opts: TestOptions): void {
  const holdProblem = opts.holdLimit !== undefined ? durationProblem(opts.holdLimit) : undefined;
  if (holdProblem) throw new DibctlError(`--hold-limit ${opts.holdLimit}: ${holdProblem}`, ExitCode.USAGE);
  if (opts.useExistingInstance && !opts.privateKeyFile) {
    throw new DibctlError(
      '--use-existing-instance needs --private-key-file (the key the instance accepts)',
      ExitCode.USAGE,
    );
  }
  if (opts.useExistingInstance && opts.uploadOnly) {
    throw new DibctlError(
      '--upload-only and --use-existing-instance exclude each other: an existing instance needs no test image',
      ExitCode.USAGE,
    );
  }
}

/** Loads and checks everything the operator can get wrong before any workflow starts. */
export function prepareTestInput(
  label: string,
  opts: TestOptions,
  taskQueue: string,
  mode: 'test' | 'shell',
  env: NodeJS.ProcessEnv = process.env,
  /** Lines for the operator (stderr): config warnings, where the credentials came from. */
  note?: (l: string) => void,
  checkCredentials = true,
): ImageTestInput {
  checkOptionCombination(opts);
  const cwd = opts.cwd ?? process.cwd();
  const config = {
    cwd,
    ...(opts.imagesConfig ? { imagesConfig: opts.imagesConfig } : {}),
    ...(opts.testConfig ? { testConfig: opts.testConfig } : {}),
  };
  const plan = loadTestPlan(label, {
    ...config,
    env,
    environment: opts.environment,
    filename: opts.input,
    onWarning: note,
  });
  // Missing credentials are refused here (exit 12) only when this process is the worker; a worker
  // elsewhere may have OS_* variables this host lacks, and resolves them itself.
  let credentials: ReturnType<typeof resolveCredentials> | undefined;
  try {
    credentials = resolveCredentials('test', plan.environment.label, { ...config, env });
  } catch (err) {
    if (checkCredentials) throw err;
  }
  if (credentials) note?.(credentialsUsedLine(credentials));
  if (opts.privateKeyFile && !existsSync(opts.privateKeyFile))
    throw new DibctlError(`--private-key-file ${opts.privateKeyFile}: no such file`, ExitCode.GENERIC);
  // an existing instance runs its own image: the file is neither uploaded nor needed
  if (!opts.useExistingImage && !opts.useExistingInstance && !existsSync(plan.image.filename)) {
    throw new DibctlError(
      `Image file ${plan.image.filename} does not exist (build it with 'dibctl build ${label}', or pass -i FILE or --use-existing-image UUID)`,
      ExitCode.GENERIC,
    );
  }
  return {
    plan: workflowTestPlan(plan),
    config,
    hostQueue: localHostQueue(taskQueue),
    mode,
    ...(opts.uploadOnly ? { uploadOnly: true } : {}),
    ...(opts.useExistingImage ? { useExistingImage: opts.useExistingImage } : {}),
    ...(opts.useExistingInstance ? { useExistingInstance: opts.useExistingInstance } : {}),
    ...(opts.privateKeyFile ? { privateKeyFile: path.resolve(cwd, opts.privateKeyFile) } : {}),
    ...(opts.keepFailedImage ? { keepFailedImage: true } : {}),
    ...(opts.keepFailedInstance ? { keepFailedInstance: true } : {}),
    ...(opts.shell ? { holdOnFailure: true } : {}),
    ...(opts.holdLimit !== undefined ? { holdLimitSeconds: opts.holdLimit } : {}),
  };
}

/**
 * What fails without a session: the options' combination (exit 2), and a shell
 * for an image without `tests.ssh` (who to log in as; exit 1).
 */
function checkBeforeSession(label: string, opts: TestOptions, mode: 'test' | 'shell'): void {
  checkOptionCombination(opts);
  if (opts.junitXml) checkReportPath(opts.junitXml);
  if (mode !== 'shell' && !opts.shell) return;
  const image = loadImage(label, {
    cwd: opts.cwd ?? process.cwd(),
    ...(opts.imagesConfig ? { imagesConfig: opts.imagesConfig } : {}),
  });
  if (image.tests.ssh) return;
  throw new DibctlError(
    `Image '${label}' has no tests.ssh section (username, port): ${mode === 'shell' ? 'dibctl shell' : 'test --shell'} cannot log in to its instance`,
    ExitCode.GENERIC,
    { nextStep: `add tests.ssh with the image's login user (username:) to '${label}' in ${image.file}` },
  );
}

/**
 * Everything `test` and `shell` check before a session: options, config, labels, the
 * image file, and the credentials when the worker certainly runs in this process
 * (workerHere); `checkCredentials` repeats that check once a session runs its worker here.
 */
export function prepareImageTest(
  label: string,
  opts: TestOptions,
  mode: 'test' | 'shell',
  workerHere: boolean,
  note: (l: string) => void,
): { input: ImageTestInput; checkCredentials: () => void } {
  checkBeforeSession(label, opts, mode);
  const input = prepareTestInput(label, opts, DEFAULT_TASK_QUEUE, mode, process.env, note, workerHere);
  const checkCredentials = () => {
    resolveCredentials('test', input.plan.environment.label, { ...input.config, env: process.env });
  };
  return { input, checkCredentials };
}

/** Opens an interactive ssh session to the held instance; resolves with ssh's exit code. */
async function openShell(status: ImageTestStatus, o: Output): Promise<number | undefined> {
  const key = status.held.privateKeyFile;
  if (!status.held.sshCommand || !key) {
    o.err('No SSH access to this instance (the image has no tests.ssh section).');
    return undefined;
  }
  if (!existsSync(key)) {
    o.err(
      `The private key ${key} is on the worker's host, not this one: run the shell there, or use 'dibctl keep/discard ${status.workflowId}'.`,
    );
    return undefined;
  }
  o.err(`Opening a shell: ${status.held.sshCommand}  ('exit ${SHELL_KEEP_CODE}' keeps the instance)`);
  // the command line quotes its words (a key path with spaces): the shell splits it;
  // asynchronous, so an in-process worker keeps running while the operator works
  const child = spawn('/bin/sh', ['-c', `exec ${status.held.sshCommand.replace(/^ssh /, 'ssh -t ')}`], {
    stdio: 'inherit',
  });
  return new Promise((resolve) => {
    child.on('error', (err) => {
      o.err(`Cannot run ssh: ${err.message}`);
      resolve(undefined);
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

/** Runs the image test (or prepares an instance for `dibctl shell`) and returns the exit code. */
export async function imageTest(
  session: Session,
  label: string,
  input: ImageTestInput,
  opts: TestOptions,
  o: Output,
  interrupted: Promise<void>,
  mode: 'test' | 'shell' = 'test',
): Promise<number> {
  const [{ imageTestWorkflow }, { hostSecrets, writeTestReport }] = await Promise.all([
    import('../../workflows'),
    import('../junit-report'),
  ]);
  const workflowId = commandWorkflowIds.test(mode, label, randomUUID().slice(0, 8));
  const handle = await session.client.workflow.start(imageTestWorkflow, {
    taskQueue: session.taskQueue,
    workflowId,
    args: [input],
  });
  o.err(`Image test workflow ${workflowId} (dibctl status ${workflowId})`);
  if (!opts.junitXml) return followImageTest(session, handle, label, opts, o, interrupted, mode);

  // the report is written whatever the outcome; the exit code stays the run's
  const report: TestReport = { tests: [] };
  let code = 0;
  let error: unknown;
  try {
    code = await followImageTest(session, handle, label, opts, o, interrupted, mode, report);
  } catch (err) {
    error = err;
    report.failure ??= err instanceof Error ? err.message : String(err);
  }
  const secrets = hostSecrets(input.config, [['test', input.plan.environment.label]], testVariables(label, input));
  const written = writeTestReport(opts.junitXml, label, report, secrets, o);
  if (error) throw error;
  return written || code ? code : ExitCode.GENERIC;
}

/** The tests' variables as this host's config gives them (the workflow's input names them only). */
function testVariables(label: string, input: ImageTestInput): Record<string, string> {
  try {
    return loadTestPlan(label, { ...input.config, env: process.env, environment: input.plan.environment.label })
      .environmentVariables;
  } catch {
    return {};
  }
}

/** The stages of an image test as its live view shows them. */
const TEST_PHASES: PhaseSpec[] = [
  { title: 'upload the test image', matches: /^uploading image |^checking the existing image/ },
  { title: 'create the keypair', matches: /^creating keypair/ },
  { title: 'boot the instance', matches: /^booting instance |^waiting for instance |^checking the existing instance/ },
  { title: 'wait for SSH', matches: /^waiting for port |^checking the host key/ },
  { title: 'run the tests', matches: /^running tests/ },
  { title: 'hold for keep or discard', matches: /^holding/, optional: true },
  { title: 'clean up', matches: /^cleaning up/ },
];

/**
 * Follows a started image test to its end (printing as it goes, under a live
 * view on a terminal; `shell` keeps the terminal for ssh) and returns the exit code.
 */
async function followImageTest(
  session: Session,
  handle: WorkflowHandle<typeof imageTestWorkflow>,
  label: string,
  opts: TestOptions,
  o: Output,
  interrupted: Promise<void>,
  mode: 'test' | 'shell',
  report: TestReport = { tests: [] },
): Promise<number> {
  const title = `dibctl test ${label} (${handle.workflowId})`;
  const live = mode === 'shell' ? undefined : liveView(o, title, TEST_PHASES, { interrupts: 'handled' });
  let ok = false;
  try {
    const code = await followImageTestLines(session, handle, label, opts, o, interrupted, mode, report, live);
    ok = code === 0;
    return code;
  } finally {
    live?.finish(ok ? 'done' : 'failed');
  }
}

/** Follows a started image test to its end (printing as it goes) and returns the exit code; fills report. */
async function followImageTestLines(
  session: Session,
  handle: WorkflowHandle<typeof imageTestWorkflow>,
  label: string,
  opts: TestOptions,
  o: Output,
  interrupted: Promise<void>,
  mode: 'test' | 'shell',
  report: TestReport,
  live: LiveView | undefined,
): Promise<number> {
  const [{ CancelledFailure, WorkflowFailedError }, { discardSignal, keepSignal }] = await Promise.all([
    import('@temporalio/client'),
    import('../../workflows'),
  ]);
  const workflowId = handle.workflowId;

  let printed = 0;
  let tests: LogDirTail | undefined;
  /** Test output first (followed in the log files on this host), then the workflow's new lines. */
  const print = (s: ImageTestStatus | undefined, final = false) => {
    if (!s) return;
    if (!o.json && s.logDir && !tests) tests = new LogDirTail(s.logDir, o.out);
    if (final) tests?.flush();
    else tests?.poll();
    for (; printed < s.log.length; printed++) if (!o.json) o.out(s.log[printed]);
  };
  const followTests = async (s: ImageTestStatus | undefined) => {
    if (o.json || tests || s?.stage !== 'running tests') return;
    const dir = await testLogDir(handle);
    if (dir) tests = new LogDirTail(dir, o.out);
  };
  const retries = new RetryNotices(o, live);
  let cancelRequested = false;
  void interrupted.then(async () => {
    cancelRequested = true;
    o.err('Interrupted: cancelling the workflow; cleanup runs before dibctl exits.');
    await handle.cancel().catch(() => undefined);
  });

  // The result is long-polled; an early return (a held instance) aborts the poll before the connection closes.
  const polling = new AbortController();
  const outcome = session.client
    .withAbortSignal(polling.signal, () => handle.result())
    .then(
      (r) => ({ ok: true as const, r }),
      (err: unknown) => ({ ok: false as const, err }),
    );
  let done: Awaited<typeof outcome> | undefined;
  let handledHold = false;
  /** ssh's exit code (`dibctl shell` exits with it, as dibctl did); 1 when no shell could be opened. */
  let shellCode: number | undefined;
  while (!done) {
    done = await Promise.race([outcome, new Promise<undefined>((r) => setTimeout(() => r(undefined), POLL_MS))]);
    if (done) break;
    const s = await queryStatus(handle);
    await followTests(s);
    print(s);
    const desc = await handle.describe().catch(() => undefined);
    if (desc) retries.report(desc);
    if (live?.active) {
      if (s) live.stage(s.stage);
      const uploads = desc ? await heartbeatProgress(session, desc).catch(() => []) : [];
      for (const { progress } of uploads) live.upload('image', 'test image', progress);
    }
    if (s?.hold && !handledHold && !cancelRequested) {
      handledHold = true;
      const interactive = mode === 'shell' || opts.shell;
      if (interactive) {
        // the shell gets the terminal
        live?.finish('failed');
        const code = await openShell(s, o);
        shellCode = code ?? ExitCode.GENERIC;
        const keep = code === SHELL_KEEP_CODE;
        await handle.signal(keep ? keepSignal : discardSignal);
      } else {
        printHeld(s, o, session);
        report.tests = s.tests ?? [];
        report.failure = s.hold.reason;
        if (o.json) printJson(o, { workflowId, exitCode: s.hold.exitCode, stage: s.stage, held: s.held, hold: s.hold });
        polling.abort();
        await outcome;
        return s.hold.exitCode;
      }
    }
  }
  if (done.ok) {
    report.tests = done.r.tests;
    print(done.r, true);
    if (o.json) printJson(o, done.r);
    return mode === 'shell' ? (shellCode ?? ExitCode.GENERIC) : 0;
  }
  const details = failureDetails(done.err);
  if (details?.result) {
    report.tests = details.result.tests;
    report.failure = failureOf(done.err).message;
    print(details.result, true);
    if (o.json) printJson(o, details.result);
    throw asDibctlError(done.err, label);
  }
  if (hasCause(done.err, CancelledFailure)) {
    const last = await queryStatus(handle);
    report.tests = last?.tests ?? [];
    report.failure = `Workflow ${workflowId} was cancelled`;
    print(last, true);
    throw new DibctlError(`Workflow ${workflowId} was cancelled`, ExitCode.GENERIC);
  }
  if (done.err instanceof WorkflowFailedError) throw asDibctlError(done.err, label);
  throw done.err;
}

/** The test log directory the running tests activity reports in its heartbeat. */
async function testLogDir(handle: WorkflowHandle): Promise<string | undefined> {
  try {
    const desc = await handle.describe();
    for (const a of desc.raw.pendingActivities ?? []) {
      const p = a.heartbeatDetails?.payloads?.[0];
      if (a.activityType?.name === 'runImageTests' && p)
        return defaultPayloadConverter.fromPayload<StepHeartbeat>(p).logDir;
    }
  } catch {
    // closed meanwhile: the final status names the directory
  }
  return undefined;
}

async function queryStatus(handle: WorkflowHandle<typeof imageTestWorkflow>): Promise<ImageTestStatus | undefined> {
  const { imageTestStatusQuery } = await import('../../workflows');
  try {
    return await handle.query(imageTestStatusQuery);
  } catch {
    return undefined;
  }
}

function printHeld(s: ImageTestStatus, o: Output, session: Session): void {
  const h = s.held;
  if (h.sshCommand) o.err(`To reach the instance: ${h.sshCommand}`);
  if (h.privateKeyFile) o.err(`Private key: ${h.privateKeyFile}`);
  o.err(
    `Held until ${s.hold?.until}: 'dibctl keep ${s.workflowId}' keeps everything, 'dibctl discard ${s.workflowId}' removes it now.`,
  );
  if (session.mode === 'embedded') {
    o.err(
      'This command ran its own temporary Temporal server, which stops now: the instance and key stay until removed by hand.',
    );
    const removal = [
      ...(h.instance ? [`'openstack server delete ${h.instance.id ?? h.instance.name}'`] : []),
      ...(h.keypair ? [`'openstack keypair delete ${h.keypair}'`] : []),
    ].join(' and ');
    o.err(
      `Next step: ${removal ? `remove them with ${removal} when done; ` : ''}run 'dibctl server' beforehand to keep or discard a held test later`,
    );
  }
}

/** `dibctl keep ID` / `dibctl discard ID`: the operator's decision about a held (or still running) test. */
export async function decide(
  session: Session,
  workflowId: string,
  decision: 'keep' | 'discard',
  o: Output,
): Promise<number> {
  const { discardSignal, keepSignal } = await import('../../workflows');
  const handle = session.client.workflow.getHandle<typeof imageTestWorkflow>(workflowId);
  const desc = await handle.describe().catch(() => undefined);
  if (!desc)
    throw new DibctlError(`No workflow with id '${workflowId}' in namespace ${session.namespace}`, undefined, {
      nextStep: NO_SUCH_WORKFLOW_STEP,
    });
  if (desc.status.name !== 'RUNNING')
    throw new DibctlError(`Workflow ${workflowId} is ${desc.status.name}: nothing to ${decision}`);
  const before = await queryStatus(handle);
  await handle.signal(decision === 'keep' ? keepSignal : discardSignal);
  if (o.json) {
    printJson(o, { workflowId, decision, held: before?.held, holding: Boolean(before?.hold) });
    return 0;
  }
  if (!before?.hold) {
    o.out(
      decision === 'keep'
        ? `Keep requested: if the test of ${workflowId} fails, its instance is held.`
        : `Discard requested: ${workflowId} cleans up whatever happens.`,
    );
    return 0;
  }
  if (decision === 'keep') {
    o.out(`Keeping instance ${before.held.instance?.id ?? ''} of ${workflowId}.`);
    if (before.held.sshCommand) o.out(`To reach it: ${before.held.sshCommand}`);
    if (before.held.privateKeyFile) o.out(`Private key: ${before.held.privateKeyFile}`);
  } else {
    o.out(`Discarding: ${workflowId} removes its instance, key and image now.`);
  }
  // Wait for the workflow to finish what the decision started (and print it): with no
  // other worker, the one this command runs does the cleanup.
  const final = await handle.result().then(
    (r): ImageTestStatus | undefined => r,
    (err: unknown) => failureDetails(err)?.result,
  );
  for (const line of final?.log.slice(before.log.length) ?? []) o.out(line);
  return 0;
}
