/** Handing obsolete images over to the upload environment's retirement workflow. */
import { activityInfo, Context } from '@temporalio/activity';
import { retirementWorkflowId } from '../../common/ids';
import { loadUploadEnvironment } from '../../config';
import { addImagesSignal, retirementWorkflow } from '../../workflows/retirement';
import type { ConfigLocation, CloudTarget } from '../cloud';
import type { ObsoletedImage } from './obsolete';

export function createRetirementHandoffActivities(deps: { env?: NodeJS.ProcessEnv } = {}) {
  /**
   * Hands obsolete images to the environment's retirement workflow, starting
   * it when it does not run. With `retire: {enabled: false}` nothing is handed
   * over (the images wait for `rotate`, as with dibctl) and the result is undefined.
   */
  async function handToRetirement(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    images: ObsoletedImage[];
  }): Promise<string | undefined> {
    const policy = loadUploadEnvironment(input.environment, { ...input.config, env: deps.env ?? process.env }).retire;
    if (!policy.enabled) return undefined;
    const client = Context.current().client;
    const workflowId = retirementWorkflowId(input.environment);
    await client.workflow.signalWithStart(retirementWorkflow, {
      workflowId,
      taskQueue: activityInfo().taskQueue,
      // a retirement that does not run yet starts pinned to this publish's target
      args: [
        { environment: input.environment, config: input.config, ...(input.target ? { target: input.target } : {}) },
      ],
      signal: addImagesSignal,
      // each image is later checked with the configs and the target of the publish that hands it over
      signalArgs: [input.images, { config: input.config, ...(input.target ? { target: input.target } : {}) }],
      searchAttributes: { DibctlEnvironments: [input.environment] },
    });
    return workflowId;
  }

  return { handToRetirement };
}
