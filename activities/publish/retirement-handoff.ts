/** Handing obsolete images over to the upload environment's retirement workflow. */
import { activityInfo, Context } from '@temporalio/activity';
import { retirementWorkflowId } from '../../common/ids';
import { addImagesSignal, retirementWorkflow } from '../../workflows/retirement';
import type { ConfigLocation, CloudTarget } from '../cloud';
import type { ObsoletedImage } from './obsolete';

export function createRetirementHandoffActivities() {
  /** Hands obsolete images to the environment's retirement workflow, starting it when it does not run. */
  async function handToRetirement(input: {
    environment: string;
    config: ConfigLocation;
    target?: CloudTarget;
    images: ObsoletedImage[];
  }): Promise<string> {
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
