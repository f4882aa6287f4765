/**
 * Building an image on a chosen host: the file stays on that host, and the
 * result names the host's task queue so later steps that read the file run there.
 */
import { ActivityCancellationType, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities, BuildInput, BuildResult } from '../activities';
import { stageQuery } from './queries';

export interface ImageBuildInput {
  build: BuildInput;
  /** Task queue of the host that builds and keeps the file. */
  hostQueue: string;
  /** Limit for the whole build, seconds (default 6 h). */
  timeoutSeconds?: number;
}

export interface ImageBuildResult extends BuildResult {
  hostQueue: string;
}

export async function imageBuildWorkflow(input: ImageBuildInput): Promise<ImageBuildResult> {
  let stage = `building ${input.build.label}`;
  setHandler(stageQuery, () => stage);
  const build = proxyActivities<Activities>({
    taskQueue: input.hostQueue,
    startToCloseTimeout: (input.timeoutSeconds ?? 6 * 3600) * 1000,
    heartbeatTimeout: 20_000,
    // a cancelled build ends once its process group is gone
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // a failed build is final (the activity says so); a lost worker gets one more attempt
    retry: { maximumAttempts: 2, initialInterval: 5_000 },
  });
  const r = await build.buildImage(input.build);
  stage = 'done';
  return { ...r, hostQueue: input.hostQueue };
}
