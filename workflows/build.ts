/**
 * Building an image on a chosen host: the file stays on that host, and the
 * result names the host's task queue so later steps that read the file run there.
 */
import { setHandler } from '@temporalio/workflow';
import type { BuildInput, BuildResult } from '../activities';
import { buildSteps } from './activity-options';
import { stageQuery } from './queries';

export interface ImageBuildInput {
  build: BuildInput;
  /** Task queue of the host that builds and keeps the file. */
  hostQueue: string;
  /** Limit for the whole build, seconds (default 6 h). */
  timeoutSeconds?: number;
}

interface ImageBuildResult extends BuildResult {
  hostQueue: string;
}

export async function imageBuildWorkflow(input: ImageBuildInput): Promise<ImageBuildResult> {
  let stage = `building ${input.build.label}`;
  setHandler(stageQuery, () => stage);
  const build = buildSteps(input.hostQueue, input.timeoutSeconds ?? 6 * 3600);
  const r = await build.buildImage(input.build);
  stage = 'done';
  return { ...r, hostQueue: input.hostQueue };
}
