import os from 'node:os';
import path from 'node:path';
import { commandWorkflowIds } from '../../common/ids';
import { doctorWorkflow } from '../../workflows';
import { Output, printJson, table } from '../render';
import type { Session } from '../session';

export interface DoctorOptions {
  imageDir?: string;
}

/** Runs the doctor workflow on a worker and prints what its host has. */
export async function doctor(session: Session, opts: DoctorOptions, o: Output): Promise<number> {
  const imageDir = path.resolve(opts.imageDir ?? '.');
  const workflowId = commandWorkflowIds.doctor(os.hostname(), Date.now().toString(36));
  const report = await session.client.workflow.execute(doctorWorkflow, {
    taskQueue: session.taskQueue,
    workflowId,
    args: [{ imageDir }],
    workflowExecutionTimeout: '5 minutes',
  });
  if (o.json) {
    printJson(o, {
      temporal: { address: session.address, namespace: session.namespace, mode: session.mode },
      ...report,
    });
    return 0;
  }
  o.out(
    `Temporal: ${session.address} (namespace ${session.namespace}, ${session.mode}); workflow ${report.workflowId} ran on ${report.host.hostname}`,
  );
  o.out('');
  o.out(
    table(
      ['check', 'status', 'detail', 'needed for'],
      report.checks.map((c) => [c.name, c.ok ? 'ok' : 'MISSING', c.detail, c.neededFor]),
    ),
  );
  const missing = report.checks.filter((c) => !c.ok).length;
  o.out('');
  o.out(
    missing === 0
      ? 'Everything a lifecycle needs is present.'
      : `${missing} check(s) failed; the stages that need them will fail on this host.`,
  );
  return 0;
}
