/**
 * The image lifecycle: read the config → build → test → publish to every upload
 * environment in parallel → (each publish) obsolete older copies and hand them
 * to that environment's retirement workflow. Nothing is published when the
 * test fails. A region that fails does not undo the others: the result says
 * per region what happened, and the workflow fails (after all regions finished)
 * when any region failed, carrying that result.
 */
import { ApplicationFailure, executeChild, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CloudTarget, ConfigLocation } from '../activities';
import type { TestedFile } from '../activities/publish';
import { lifecycleChildren } from '../common/ids';
import { failureOf, FailureDetails } from '../errors/failure';
import { fileCheckSteps, lifecyclePlanSteps } from './activity-options';
import { imageBuildWorkflow } from './build';
import { imageTestWorkflow } from './image-test';
import { publishWorkflow, PublishResult } from './publish';
import { stageQuery } from './queries';

export interface LifecycleInput {
  label: string;
  /** Upload environment labels; published to in parallel. */
  uploadEnvironments: string[];
  config: ConfigLocation;
  /** Task queue of the host that builds and keeps the image file. */
  hostQueue: string;
  /** Replaces the configured image file. */
  filename?: string;
  /** Build first (default true); otherwise the existing file is used. */
  build?: boolean;
  /** Test before publishing (default true). */
  test?: boolean;
  testEnvironment?: string;
  /** Per upload environment, where the command resolved it: each publish acts there only. */
  targets?: Record<string, CloudTarget>;
}

interface RegionOutcome {
  environment: string;
  ok: boolean;
  result?: PublishResult;
  error?: { message: string; exitCode: number };
}

export interface LifecycleResult {
  workflowId: string;
  label: string;
  file: string;
  built: boolean;
  tested?: { name: string; passed: boolean; tests: number };
  regions: RegionOutcome[];
  /** Environments that failed. */
  failed: string[];
}

/** Failure details of a lifecycle whose publish failed in some region. */
export interface LifecycleFailureDetails extends FailureDetails {
  result: LifecycleResult;
}

function outcome(err: unknown): { message: string; exitCode: number } {
  const { message, exitCode } = failureOf(err);
  return { message, exitCode };
}

export async function imageLifecycleWorkflow(input: LifecycleInput): Promise<LifecycleResult> {
  let stage = 'reading the config';
  setHandler(stageQuery, () => stage);
  const id = workflowInfo().workflowId;
  let hostQueue = input.hostQueue;
  const plan = await lifecyclePlanSteps(hostQueue).lifecyclePlan({
    label: input.label,
    config: input.config,
    ...(input.filename ? { filename: input.filename } : {}),
    uploadEnvironments: input.uploadEnvironments,
    build: input.build !== false,
    test: input.test !== false,
    ...(input.testEnvironment ? { testEnvironment: input.testEnvironment } : {}),
  });

  let built = false;
  if (plan.build) {
    stage = `building ${input.label}`;
    const b = await executeChild(imageBuildWorkflow, {
      workflowId: lifecycleChildren.build(id),
      args: [{ build: plan.build, hostQueue }],
    });
    hostQueue = b.hostQueue;
    built = true;
  }

  let tested: LifecycleResult['tested'];
  let testedFile: TestedFile | undefined;
  if (plan.test) {
    stage = `testing ${input.label}`;
    // a failed test fails this workflow with the test's exit code: nothing is published
    const t = await executeChild(imageTestWorkflow, {
      workflowId: lifecycleChildren.test(id),
      args: [{ plan: plan.test, config: input.config, hostQueue }],
    });
    tested = { name: t.name, passed: t.passed, tests: t.tests.length };
    // what is published is what was tested: the file must still have the tested checksum
    if (t.checksum && patched('publish-tested-bits')) {
      stage = `checking that ${plan.file} is the file tested`;
      // its checksums, read once here, are what every region's upload must end with
      testedFile = await fileCheckSteps(hostQueue).verifyTestedFile({ file: plan.file, checksum: t.checksum });
    }
  }

  stage = `publishing to ${input.uploadEnvironments.join(', ')}`;
  const settled = await Promise.allSettled(
    input.uploadEnvironments.map((environment) =>
      executeChild(publishWorkflow, {
        workflowId: lifecycleChildren.publish(id, environment),
        args: [
          {
            imageLabel: input.label,
            environment,
            config: input.config,
            ...(input.targets?.[environment] ? { target: input.targets[environment] } : {}),
            filename: plan.file,
            fileQueue: hostQueue,
            ...(testedFile ? { testedFile } : {}),
          },
        ],
      }),
    ),
  );
  const regions: RegionOutcome[] = settled.map((s, i) =>
    s.status === 'fulfilled'
      ? { environment: input.uploadEnvironments[i], ok: true, result: s.value }
      : { environment: input.uploadEnvironments[i], ok: false, error: outcome(s.reason) },
  );
  const failed = regions.filter((r) => !r.ok).map((r) => r.environment);
  const result: LifecycleResult = {
    workflowId: id,
    label: input.label,
    file: plan.file,
    built,
    ...(tested ? { tested } : {}),
    regions,
    failed,
  };
  stage = failed.length ? `failed in ${failed.join(', ')}` : 'done';
  if (failed.length) {
    const details: LifecycleFailureDetails = { exitCode: regions.find((r) => !r.ok)?.error?.exitCode ?? 1, result };
    throw ApplicationFailure.create({
      type: 'PublishFailed',
      message: `Publishing failed in ${failed.join(', ')} (succeeded in ${
        regions
          .filter((r) => r.ok)
          .map((r) => r.environment)
          .join(', ') || 'none'
      })`,
      nonRetryable: true,
      details: [details],
    });
  }
  return result;
}
