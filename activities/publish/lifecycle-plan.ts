/**
 * What one lifecycle run needs, read from the config files on the worker at
 * the start of the run: the build input, the merged test plan, and a check
 * that each upload environment exists.
 */
import { existsSync } from 'node:fs';
import { ConfigError, WorkflowTestPlan, loadImage, loadTestPlan, loadUploadPlan, workflowTestPlan } from '../../config';
import { DibctlError } from '../../errors';
import type { BuildInput } from '../build';
import type { CloudDeps, ConfigLocation } from '../cloud';

interface LifecyclePlanInput {
  label: string;
  config: ConfigLocation;
  filename?: string;
  uploadEnvironments: string[];
  build: boolean;
  test: boolean;
  testEnvironment?: string;
}

interface LifecyclePlan {
  /** Absolute path of the image file (built, tested and published). */
  file: string;
  build?: BuildInput;
  /** Without the values that stay on this host (the result is kept in history). */
  test?: WorkflowTestPlan;
}

export function createLifecyclePlanActivities(deps: CloudDeps = {}) {
  const env = () => deps.env ?? process.env;

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
        throw new ConfigError(
          `${image.file}: ${input.label}: has neither a dib section nor external_build: nothing to build (run without building)`,
        );
      }
      // the label and where the config is: the build reads its commands there
      build = { label: input.label, output: image.filename, config: input.config };
    } else if (!existsSync(image.filename)) {
      throw new DibctlError(`Image file ${image.filename} does not exist (build it, or run with building)`);
    }
    const test = input.test
      ? workflowTestPlan(
          loadTestPlan(input.label, {
            ...opts,
            ...(input.testEnvironment ? { environment: input.testEnvironment } : {}),
          }),
        )
      : undefined;
    return { file: image.filename, ...(build ? { build } : {}), ...(test ? { test } : {}) };
  }

  return { lifecyclePlan };
}
