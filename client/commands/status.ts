import { WorkflowNotFoundError } from '@temporalio/client';
import { DibctlError } from '../../errors';
import { imageTestStatusQuery, imageTestWorkflow, stageQuery } from '../../workflows';
import type { ImageTestStatus } from '../../workflows';
import { Output, printJson } from '../render';
import type { Session } from '../session';

/** Lines describing what an image test holds (instance, key, image) and until when. */
function heldLines(s: ImageTestStatus): string[] {
  const h = s.held;
  const lines: string[] = [];
  if (h.instance)
    lines.push(
      `instance ${h.instance.id ?? '(booting)'} ${h.instance.name}${h.instance.mainIp ? ` at ${h.instance.mainIp}` : ''}${h.instance.existing ? ' (existing, never removed)' : ''}`,
    );
  if (h.keypair) lines.push(`keypair ${h.keypair}${h.privateKeyFile ? `, private key ${h.privateKeyFile}` : ''}`);
  if (h.image) lines.push(`image ${h.image.id}${h.image.existing ? ' (existing, never removed)' : ''}`);
  if (h.sshCommand) lines.push(`reach it with: ${h.sshCommand}`);
  if (s.hold)
    lines.push(
      `held until ${s.hold.until} (${s.hold.reason}): dibctl keep ${s.workflowId} | dibctl discard ${s.workflowId}`,
    );
  return lines;
}

/** Shows a workflow's state and, while it runs, the stage it reports (and, for an image test, what it holds). */
export async function status(session: Session, workflowId: string, o: Output): Promise<number> {
  const handle = session.client.workflow.getHandle(workflowId);
  let desc;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new DibctlError(`No workflow with id '${workflowId}' in namespace ${session.namespace}`);
    throw err;
  }
  let stage: string | undefined;
  let test: ImageTestStatus | undefined;
  if (desc.status.name === 'RUNNING') {
    stage = await handle.query(stageQuery).catch(() => undefined);
    if (desc.type === imageTestWorkflow.name) test = await handle.query(imageTestStatusQuery).catch(() => undefined);
  }
  const result = {
    workflowId,
    type: desc.type,
    status: desc.status.name,
    stage,
    started: desc.startTime.toISOString(),
    closed: desc.closeTime?.toISOString(),
    ...(test ? { held: test.held, hold: test.hold } : {}),
  };
  if (o.json) printJson(o, result);
  else {
    o.out(`${workflowId}: ${desc.type} ${desc.status.name}${stage ? ` — ${stage}` : ''}`);
    o.out(`started ${result.started}${result.closed ? `, closed ${result.closed}` : ''}`);
    if (test) for (const line of heldLines(test)) o.out(line);
  }
  return 0;
}
