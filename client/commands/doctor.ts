import os from 'node:os';
import path from 'node:path';
import { commandWorkflowIds } from '../../common/ids';
import { doctorWorkflow } from '../../workflows';
import { DOCTOR_TOOLS, ImageNeeds } from '../doctor-needs';
import { Output, printJson, table } from '../render';
import type { Session } from '../session';
import type { HostTool } from '../../activities';

export interface DoctorOptions {
  imageDir?: string;
  imagesConfig?: string;
}

/**
 * Runs the doctor workflow on a worker and prints what its host has, how to
 * install what is missing, and which configured image needs it. Exits 1 when
 * a configured image needs a missing tool, 0 otherwise.
 */
export async function doctor(session: Session, opts: DoctorOptions, needs: ImageNeeds, o: Output): Promise<number> {
  const imageDir = path.resolve(opts.imageDir ?? '.');
  const workflowId = commandWorkflowIds.doctor(os.hostname(), Date.now().toString(36));
  const report = await session.client.workflow.execute(doctorWorkflow, {
    taskQueue: session.taskQueue,
    workflowId,
    args: [{ imageDir, tools: DOCTOR_TOOLS }],
    workflowExecutionTimeout: '5 minutes',
  });
  const checks = report.checks.map((c) => {
    const neededBy = needs.byTool.get(c.name as HostTool) ?? [];
    return { ...c, neededBy };
  });
  const blocking = checks.filter((c) => !c.ok && c.neededBy.length > 0);
  const code = blocking.length ? 1 : 0;
  if (o.json) {
    printJson(o, {
      temporal: { address: session.address, namespace: session.namespace, mode: session.mode },
      ...report,
      imagesConfig: needs.files,
      checks,
      ok: code === 0,
    });
    return code;
  }
  o.out(
    `Temporal: ${session.address} (namespace ${session.namespace}, ${session.mode}); workflow ${report.workflowId} ran on ${report.host.hostname}`,
  );
  o.out('');
  o.out(
    table(
      ['check', 'status', 'detail', 'needed for'],
      checks.map((c) => [c.name, c.ok ? 'ok' : 'MISSING', c.detail, c.neededFor]),
    ),
  );
  const missing = checks.filter((c) => !c.ok && c.fix);
  if (missing.length) {
    o.out('');
    o.out('To install what is missing:');
    for (const c of missing) o.out(`  ${c.name}: ${c.fix}`);
  }
  o.out('');
  if (!needs.files.length) {
    o.out('No images config here: nothing is required yet.');
  } else if (!blocking.length) {
    o.out(`Everything the images in ${needs.files.join(', ')} need is present.`);
  } else {
    for (const c of blocking) {
      const images = c.neededBy.join(', ');
      o.out(
        `${c.name} is missing, needed by image${c.neededBy.length > 1 ? 's' : ''} ${images}${c.fix ? `: ${c.fix}` : ''}`,
      );
    }
  }
  return code;
}
