import { WorkflowNotFoundError } from '@temporalio/client';
import { DibctlError } from '../../errors';
import { Output, printJson } from '../render';
import { Session } from '../session';

/** Shows a workflow's state and, while it runs, the stage it reports. */
export async function status(session: Session, workflowId: string, o: Output): Promise<number> {
  const handle = session.client.workflow.getHandle(workflowId);
  let desc;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new DibctlError(`No workflow with id '${workflowId}' in namespace ${session.namespace}`);
    throw err;
  }
  let stage: string | undefined;
  if (desc.status.name === 'RUNNING') {
    stage = await handle.query<string>('stage').catch(() => undefined);
  }
  const result = { workflowId, type: desc.type, status: desc.status.name, stage, started: desc.startTime.toISOString(), closed: desc.closeTime?.toISOString() };
  if (o.json) printJson(o, result);
  else {
    o.out(`${workflowId}: ${desc.type} ${desc.status.name}${stage ? ` — ${stage}` : ''}`);
    o.out(`started ${result.started}${result.closed ? `, closed ${result.closed}` : ''}`);
  }
  return 0;
}
