/**
 * The image test, a saga: upload the test image → make and import a keypair →
 * boot → wait ACTIVE → main IP → wait for the port (meanwhile read the host
 * keys from the console log) → check and pin the SSH host key → run the
 * tests → clean up.
 * Each cloud object's compensation is registered before the step that creates
 * it and finds the object by its deterministic name (`DIBCTL-<uuid>`) or build
 * id, so a create whose answer was lost is undone too. Compensations run in
 * reverse, in a non-cancellable scope, each with cleanup_timeout, all attempted.
 * A failed test with a keep request holds the instance and waits (durable
 * timer) for the operator's `keep` or `discard` signal.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  patched,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { ConfigLocation, CloudRef, InstanceFacts, TestEntryResult } from '../activities';
import type { WorkflowTestPlan } from '../config';
import { stageQuery } from './queries';
import { failureOf, FailureDetails, FailureSummary } from '../errors/failure';
import { testImageBuildId } from '../common/ids';
import { shellQuote } from '../common/shell';
import { sshCommandLine } from '../common/ssh-command';
import { imageTestSteps } from './activity-options';

const DEFAULT_HOLD_SECONDS = 24 * 3600;

export interface ImageTestInput {
  /** The merged image + test environment view, without values that stay on the host (see WorkflowTestPlan). */
  plan: WorkflowTestPlan;
  /** Where the CLI read the configs: activities resolve credentials the same way on the worker. */
  config: ConfigLocation;
  /** Task queue of the host that holds the image file (and keeps the private key). */
  hostQueue: string;
  /** 'test' runs the tests; 'shell' prepares the instance and holds it for an interactive shell. */
  mode?: 'test' | 'shell';
  uploadOnly?: boolean;
  useExistingImage?: string;
  useExistingInstance?: string;
  /** Private key for --use-existing-instance (a path on the host of hostQueue). */
  privateKeyFile?: string;
  keepFailedImage?: boolean;
  keepFailedInstance?: boolean;
  /** Hold a failed instance for the operator (--shell) even without --keep-failed-instance. */
  holdOnFailure?: boolean;
  /** How long a held instance waits for keep/discard before it is cleaned up (default 24 h). */
  holdLimitSeconds?: number;
}

interface HeldResources {
  image?: { id: string; existing: boolean };
  keypair?: string;
  instance?: { id?: string; name: string; existing: boolean; mainIp?: string };
  privateKeyFile?: string;
  sshCommand?: string;
}

interface HoldState {
  /** ISO time after which the held resources are cleaned up. */
  until: string;
  exitCode: number;
  reason: string;
}

export interface ImageTestStatus {
  workflowId: string;
  stage: string;
  /** Operator-facing lines so far (the CLI prints them as they come). */
  log: string[];
  held: HeldResources;
  hold?: HoldState;
  decision?: 'keep' | 'discard';
  /** Directory of the test logs on the host of hostQueue (the CLI follows them there). */
  logDir?: string;
  /** Results of the tests once they ran (a held instance's report is written from them). */
  tests?: TestEntryResult[];
}

export interface ImageTestResult extends ImageTestStatus {
  passed: boolean;
  exitCode: number;
  /** The name of the test objects: DIBCTL-<uuid>. */
  name: string;
  /** Glance's checksum of the tested image as uploaded from the file (none for --use-existing-image). */
  checksum?: string;
  tests: TestEntryResult[];
  kept: { image: boolean; instance: boolean; keypair: boolean };
}

/** Failure details of a failed image test: dibctl's exit code and everything the CLI prints. */
export interface ImageTestFailureDetails extends FailureDetails {
  result: ImageTestResult;
}

export const keepSignal = defineSignal('keep');
export const discardSignal = defineSignal('discard');
export const imageTestStatusQuery = defineQuery<ImageTestStatus>('imageTestStatus');

type Resource = 'instance' | 'ssh key' | 'image' | 'key files';

interface Compensation {
  resource: Resource;
  label: string;
  run: () => Promise<unknown>;
}

const EXIT_TESTS_FAILED = 80;

/** Runs started before the instance's host keys were pinned replay without those steps. */
const HOST_KEY_PINNING = 'ssh-host-key-pinning';

export async function imageTestWorkflow(input: ImageTestInput): Promise<ImageTestResult> {
  const { plan } = input;
  const info = workflowInfo();
  const workflowId = info.workflowId;
  const name = `DIBCTL-${uuid4()}`;
  const buildId = testImageBuildId(workflowId);
  const cloud: CloudRef = {
    kind: 'test',
    environment: plan.environment.label,
    config: input.config,
    image: plan.image.label,
  };
  const t = plan.timeouts;
  const mode = input.mode ?? 'test';

  let stage = 'starting';
  const log: string[] = [];
  const held: HeldResources = {};
  let hold: HoldState | undefined;
  let decision: 'keep' | 'discard' | undefined;
  let logDir: string | undefined;
  let results: TestEntryResult[] = [];
  let keepRequested = Boolean(input.keepFailedInstance);
  const say = (line: string) => void log.push(line);
  const status = (): ImageTestStatus => ({
    workflowId,
    stage,
    log,
    held,
    ...(hold ? { hold } : {}),
    ...(decision ? { decision } : {}),
    ...(logDir ? { logDir } : {}),
    ...(results.length ? { tests: results } : {}),
  });

  setHandler(stageQuery, () => stage);
  setHandler(imageTestStatusQuery, status);
  setHandler(keepSignal, () => {
    if (hold) decision = 'keep';
    else keepRequested = true;
  });
  setHandler(discardSignal, () => {
    if (hold) decision = 'discard';
    else keepRequested = false;
  });

  const {
    upload,
    hostShort,
    boot,
    portWait,
    consoleKeys,
    hostKeyPin,
    tests,
    keypair,
    short,
    active,
    cleanup,
    cleanupOnHost,
  } = imageTestSteps(input.hostQueue, plan);

  const compensations: Compensation[] = [];
  let failure: FailureSummary | undefined;
  let cancelled: unknown;
  let facts: InstanceFacts | undefined;
  let imageId: string | undefined;
  let checksum: string | undefined;
  let passed = false;

  try {
    // 1. the image under test: none is uploaded for an existing instance, which runs its own image
    const existingInstanceOnly =
      Boolean(input.useExistingInstance) && !input.uploadOnly && patched('existing-instance-without-upload');
    if (existingInstanceOnly && !input.useExistingImage) {
      say(`Not uploading ${plan.image.filename}: the tests run on existing instance ${input.useExistingInstance}`);
    } else if (input.useExistingImage) {
      stage = 'checking the existing image';
      const img = await short.describeImage({ cloud, imageId: input.useExistingImage });
      imageId = img.id;
      held.image = { id: img.id, existing: true };
      say(`Using existing image ${img.id}${img.name ? ` (${img.name})` : ''}`);
    } else {
      compensations.unshift({
        resource: 'image',
        label: `image ${name}`,
        run: () => cleanup.deleteImagesByBuildId({ cloud, buildId }),
      });
      stage = `uploading image ${name}`;
      say(`Uploading ${plan.image.filename} as ${name}`);
      const g = plan.glance;
      const r = await upload.uploadImageFile({
        cloud,
        file: plan.image.filename,
        buildId,
        image: {
          name,
          diskFormat: g.diskFormat,
          containerFormat: g.containerFormat,
          visibility: 'private',
          minDisk: g.minDisk,
          minRam: g.minRam,
          tags: g.tags,
          properties: g.properties,
        },
        timeoutSeconds: t.uploadTimeout,
        ...(g.uploadStallTimeout ? { stallSeconds: g.uploadStallTimeout } : {}),
      });
      imageId = r.imageId;
      held.image = { id: r.imageId, existing: false };
      if (r.checksum) checksum = r.checksum;
      say(`Image ${name} uploaded: ${r.imageId} (${r.bytes} bytes)`);
    }

    if (!input.uploadOnly) {
      // 2–4. keypair and instance (or the operator's existing instance)
      if (input.useExistingInstance) {
        stage = 'checking the existing instance';
        facts = await short.describeInstance({
          cloud,
          serverId: input.useExistingInstance,
          mainNicRegexp: plan.environment.nova.mainNicRegexp,
        });
        held.instance = { id: facts.server.id, name: facts.server.name, existing: true, mainIp: facts.mainIp };
        held.privateKeyFile = input.privateKeyFile;
        say(`Using existing instance ${facts.server.id} (${facts.server.name}), main IP ${facts.mainIp}`);
      } else {
        compensations.unshift({
          resource: 'key files',
          label: 'private key file',
          run: () => cleanupOnHost.removeInstanceFiles({ workflowId }),
        });
        compensations.unshift({
          resource: 'ssh key',
          label: `ssh key ${name}`,
          run: () => cleanup.deleteKeypairByName({ cloud, name }),
        });
        stage = 'creating keypair';
        const keyType = plan.image.tests.ssh?.keyType;
        const files = await hostShort.prepareKeypair({ workflowId, name, ...(keyType ? { keyType } : {}) });
        held.privateKeyFile = files.privateKeyFile;
        await keypair.importKeypair({ cloud, name, publicKey: files.publicKey });
        held.keypair = name;
        say(`Keypair ${name} created`);

        compensations.unshift({
          resource: 'instance',
          label: `instance ${name}`,
          run: () => cleanup.deleteInstancesByName({ cloud, name, timeoutSeconds: t.cleanupTimeout }),
        });
        stage = `booting instance ${name}`;
        const n = plan.environment.nova;
        held.instance = { name, existing: false };
        if (imageId === undefined) throw ApplicationFailure.nonRetryable('no image to boot', 'NoImage');
        const { serverId } = await boot.bootInstance({
          cloud,
          name,
          imageId,
          flavor: n.flavor,
          flavorId: n.flavorId,
          nics: n.nics,
          keyName: name,
          configDrive: n.configDrive,
          availabilityZone: n.availabilityZone,
          createTimeoutSeconds: t.createTimeout,
        });
        held.instance.id = serverId;
        say(`Instance ${name} created: ${serverId}`);
        stage = `waiting for instance ${serverId} to become ACTIVE`;
        facts = await active.waitInstanceActive({
          cloud,
          serverId,
          timeoutSeconds: t.activeTimeout,
          mainNicRegexp: n.mainNicRegexp,
        });
        held.instance.mainIp = facts.mainIp;
        say(`Instance ${serverId} is ACTIVE, main IP ${facts.mainIp}`);
      }
      const ssh = plan.image.tests.ssh;
      let portWaited: { port: number; timeout: number; waited: number } | undefined;
      let knownHostsFile: string | undefined;
      const port = plan.image.tests.waitForPort;
      if (patched(HOST_KEY_PINNING)) {
        // 6. the port, and meanwhile the host keys the console log prints
        const check = ssh && held.privateKeyFile ? (ssh.hostKeyCheck ?? 'console') : 'off';
        const server = facts.server.id;
        const ip = facts.mainIp;
        if (check !== 'off' && input.useExistingInstance)
          compensations.unshift({
            resource: 'key files',
            label: 'known_hosts file',
            run: () => cleanupOnHost.removeInstanceFiles({ workflowId }),
          });
        const fromConsole =
          check === 'console'
            ? consoleKeys.consoleHostKeys({ cloud, serverId: server, timeoutSeconds: t.portWaitTimeout })
            : undefined;
        // a console read abandoned when the port wait fails must not fail the run on its own
        fromConsole?.catch(() => undefined);
        if (port) {
          stage = `waiting for port ${ip}:${port}`;
          const w = await portWait.waitForPort({ ip, port, timeoutSeconds: t.portWaitTimeout });
          portWaited = { port, timeout: t.portWaitTimeout, waited: w.waited };
          say(`Port ${port} is open on ${ip} (after ${w.waited} s)`);
        }
        if (ssh && held.privateKeyFile) {
          if (check === 'off') {
            say(
              `Warning: the host key of ${ip}:${ssh.port} is not verified (tests.ssh.host_key_check: off): whoever answers there receives the tests`,
            );
          } else {
            stage = `checking the host key of ${ip}:${ssh.port}`;
            // a console that cannot be read at all is one without keys: fall back to first use
            const c = fromConsole
              ? await fromConsole.catch((err: unknown) => {
                  if (isCancellation(err)) throw err;
                  return { keys: [], missing: `reading it failed: ${failureOf(err).message}`, waited: 0 };
                })
              : undefined;
            if (c && c.keys.length === 0)
              say(`No host keys in the console log of ${server} (${c.missing}): accepting the first key presented`);
            const pin = await hostKeyPin.pinHostKeys({
              workflowId,
              serverId: server,
              ip,
              port: ssh.port,
              consoleKeys: c?.keys ?? [],
              timeoutSeconds: t.portWaitTimeout,
            });
            knownHostsFile = pin.knownHostsFile;
            say(
              pin.source === 'console'
                ? `Host keys of ${server} from its console log: ${pin.fingerprints.join(', ')}; ${ip}:${ssh.port} presented ${pin.presented}`
                : `Host key of ${ip}:${ssh.port} accepted on first use: ${pin.presented}; pinned for this run`,
            );
          }
          held.sshCommand = sshCommandLine({
            ip,
            username: ssh.username,
            port: ssh.port,
            privateKeyFile: held.privateKeyFile,
            ...(knownHostsFile ? { knownHostsFile } : {}),
          });
        }
      } else {
        if (ssh && held.privateKeyFile) {
          const p = ssh.port !== 22 ? ` -p ${ssh.port}` : '';
          held.sshCommand = `ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PasswordAuthentication=no -i ${shellQuote(held.privateKeyFile)}${p} ${shellQuote(`${ssh.username}@${facts.mainIp}`)}`;
        }

        // 6. the port
        if (port) {
          stage = `waiting for port ${facts.mainIp}:${port}`;
          const w = await portWait.waitForPort({ ip: facts.mainIp, port, timeoutSeconds: t.portWaitTimeout });
          portWaited = { port, timeout: t.portWaitTimeout, waited: w.waited };
          say(`Port ${port} is open on ${facts.mainIp} (after ${w.waited} s)`);
        }
      }

      // 7. the tests
      if (mode === 'test') {
        stage = 'running tests';
        const run = await tests.runImageTests({
          cloud,
          workflowId,
          facts,
          ...(imageId !== undefined ? { imageId } : {}),
          imageConfig: plan.image as unknown as Record<string, unknown>,
          imageFile: input.useExistingImage || existingInstanceOnly ? undefined : plan.image.filename,
          ssh,
          privateKeyFile: held.privateKeyFile,
          ...(knownHostsFile ? { knownHostsFile } : {}),
          portWait: portWaited,
          testEnvironment: plan.environment.label,
          config: input.config,
        });
        results = run.results;
        logDir = run.logDir;
        for (const r of results) say(`${r.passed ? 'passed' : 'FAILED'}: ${r.name}${r.reason ? ` (${r.reason})` : ''}`);
        if (run.passed) {
          passed = true;
          say('All tests passed successfully');
        } else {
          const bad = results.find((r) => !r.passed);
          failure = {
            exitCode: EXIT_TESTS_FAILED,
            message: `Some tests failed${bad ? `: ${bad.name}${bad.reason ? ` (${bad.reason})` : ''}` : ''}`,
            type: 'TestsFailed',
          };
          say('Some tests failed');
        }
      } else {
        passed = true;
      }
    } else {
      passed = true;
    }
  } catch (err) {
    if (isCancellation(err)) {
      cancelled = err;
      say('Cancelled');
    } else {
      failure = failureOf(err);
      say(`Error: ${failure.message}`);
    }
  }

  // Hold the instance for the operator: after a failure with a keep request, or always for a shell.
  const instanceUp = held.instance !== undefined && held.instance.id !== undefined && !held.instance.existing;
  // a shell on an existing instance (`dibctl shell`, or `test --shell` after a failure) waits for it
  // too; the instance itself is never removed
  const shellOnExisting =
    held.instance?.existing === true &&
    ((mode === 'shell' && !failure) || (Boolean(failure) && Boolean(input.holdOnFailure))) &&
    patched('shell-on-existing-instance');
  const wantsHold =
    !cancelled &&
    ((instanceUp && ((failure && (keepRequested || input.holdOnFailure)) || (mode === 'shell' && !failure))) ||
      shellOnExisting);
  if (wantsHold) {
    const limit = input.holdLimitSeconds ?? DEFAULT_HOLD_SECONDS;
    hold = {
      until: new Date(Date.now() + limit * 1000).toISOString(),
      exitCode: failure?.exitCode ?? 0,
      reason: failure?.message ?? 'instance ready for a shell',
    };
    stage = 'holding for keep or discard';
    say(
      `Holding instance ${held.instance?.id} until ${hold.until}: 'dibctl keep ${workflowId}' keeps it, 'dibctl discard ${workflowId}' removes it`,
    );
    try {
      const decided = await condition(() => decision !== undefined, limit * 1000);
      if (!decided) say(`No keep or discard within ${limit} s: cleaning up`);
    } catch (err) {
      if (!isCancellation(err)) throw err;
      cancelled = err;
      say('Cancelled');
    }
  }
  const keepInstance = decision === 'keep';
  const keepImage =
    (Boolean(failure) && Boolean(input.keepFailedImage)) || (Boolean(input.uploadOnly) && !failure && !cancelled);

  // 8. compensations, in reverse order of creation, whatever happened
  stage = 'cleaning up';
  const kept = { image: Boolean(held.image), instance: Boolean(held.instance), keypair: Boolean(held.keypair) };
  await CancellationScope.nonCancellable(async () => {
    if (held.instance?.existing) say(`Not removing instance ${held.instance.id} (given with --use-existing-instance)`);
    for (const c of compensations) {
      const keep = c.resource === 'image' ? keepImage : keepInstance;
      if (keep) {
        if (c.resource === 'instance')
          say(
            `Not removing instance ${held.instance?.id ?? name}${held.sshCommand ? `; to reach it: ${held.sshCommand}` : ''}`,
          );
        else if (c.resource === 'ssh key')
          say(`Not removing ssh key ${name}; private key kept in ${held.privateKeyFile}`);
        else if (c.resource === 'image') say(`Not removing image ${held.image?.id ?? name}`);
        continue;
      }
      if (c.resource === 'instance') say(`Removing instance ${held.instance?.id ?? name}`);
      else if (c.resource === 'ssh key') say(`Removing ssh key ${name}`);
      else if (c.resource === 'image') say(`Removing image ${held.image?.id ?? name}`);
      try {
        await c.run();
        if (c.resource === 'image') kept.image = false;
        if (c.resource === 'instance') kept.instance = false;
        if (c.resource === 'ssh key') kept.keypair = false;
      } catch (err) {
        say(`Failed to remove ${c.label}: ${failureOf(err).message}`);
      }
    }
    if (held.image?.existing) say(`Not removing image ${held.image.id} (given with --use-existing-image)`);
    say('Clearing done');
  });
  stage = cancelled ? 'cancelled' : failure ? 'failed' : 'done';

  const result: ImageTestResult = {
    ...status(),
    passed: passed && !failure && !cancelled,
    exitCode: failure?.exitCode ?? (cancelled ? 1 : 0),
    name,
    ...(checksum ? { checksum } : {}),
    tests: results,
    kept: {
      image: kept.image && !held.image?.existing,
      instance: kept.instance && !held.instance?.existing,
      keypair: kept.keypair,
    },
  };
  if (cancelled) throw cancelled;
  if (failure) {
    const details: ImageTestFailureDetails = { exitCode: failure.exitCode, result };
    throw ApplicationFailure.create({
      type: failure.type,
      message: failure.message,
      nonRetryable: true,
      details: [details],
    });
  }
  if (imageId === undefined && !input.useExistingInstance)
    throw ApplicationFailure.nonRetryable('no image was tested', 'NoImage');
  return result;
}
