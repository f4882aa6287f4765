/**
 * `retirement ENV [--check-now]`: what the environment's retirement workflow
 * holds and why each image is still kept; `--check-now` wakes it and waits for
 * that check to finish.
 */
import { retirementWorkflowId } from '../../common/ids';
import { loadUploadEnvironment } from '../../config';
import { DibctlError } from '../../errors';
import type { RetirementStatus } from '../../workflows';
import { Output, printJson, table } from '../render';
import type { Session } from '../session';
import { ConfigFileOptions, configLocation } from './publish';

/** How long `--check-now` waits for the check it asked for. */
const CHECK_LIMIT_MS = 120_000;

function seconds(n: number): string {
  if (n % 86400 === 0 && n) return `${n / 86400}d`;
  if (n % 3600 === 0 && n) return `${n / 3600}h`;
  if (n % 60 === 0 && n) return `${n / 60}m`;
  return `${n}s`;
}

function retirementLines(id: string, s: RetirementStatus): string[] {
  const lines: string[] = [];
  const p = s.policy;
  const count = s.heldCount ?? s.held.length;
  lines.push(
    `${id}: ${count} obsolete image${count === 1 ? '' : 's'} held` +
      (p
        ? `; checks every ${seconds(p.checkEverySeconds)}, deletes after ${seconds(p.deleteAfterSeconds)}, keeps the newest ${p.keep}`
        : ''),
  );
  if (s.lastCheck) {
    const c = s.lastCheck;
    const did = c.deleted.length ? `deleted ${c.deleted.join(', ')}` : 'deleted nothing';
    lines.push(
      `Last check ${new Date(c.at).toISOString()}: ${did}${c.gone.length ? `; gone meanwhile ${c.gone.join(', ')}` : ''}${c.problem ? `; problem: ${c.problem}` : ''}`,
    );
  }
  if (s.nextCheckAt) lines.push(`Next check ${new Date(s.nextCheckAt).toISOString()}`);
  if (s.held.length) {
    lines.push(
      table(
        ['IMAGE', 'NAME', 'HELD SINCE', 'KEPT BECAUSE'],
        s.held.map((h) => [h.id, h.name, new Date(h.heldSince).toISOString(), h.reason]),
      ),
    );
  }
  if (count > s.held.length) {
    lines.push(`... and ${count - s.held.length} more held (the first ${s.held.length} handed over are listed)`);
  }
  return lines;
}

export type RetirementOptions = ConfigFileOptions & { checkNow?: boolean };

/** Reads the upload environment's config before any session (10, 11). */
export function checkRetirement(environment: string, opts: RetirementOptions, o: Output): void {
  loadUploadEnvironment(environment, { ...configLocation(opts), onWarning: o.err });
}

export async function retirement(
  session: Session,
  environment: string,
  opts: RetirementOptions,
  o: Output,
): Promise<number> {
  const [
    { WithStartWorkflowOperation, WorkflowNotFoundError },
    { checkNowUpdate, retirementStatusQuery, retirementWorkflow },
  ] = await Promise.all([import('@temporalio/client'), import('../../workflows')]);
  const config = configLocation(opts);
  const id = retirementWorkflowId(environment);
  const handle = session.client.workflow.getHandle<typeof retirementWorkflow>(id);
  let status: RetirementStatus | undefined;
  try {
    const desc = await handle.describe();
    if (desc.status.name === 'RUNNING') status = await handle.query(retirementStatusQuery);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }

  if (opts.checkNow) {
    // starts the workflow when none runs; returns once the check asked for here has run
    const deadline = Date.now() + CHECK_LIMIT_MS;
    try {
      await session.client.withDeadline(deadline, () =>
        session.client.workflow.executeUpdateWithStart(checkNowUpdate, {
          startWorkflowOperation: new WithStartWorkflowOperation(retirementWorkflow, {
            workflowId: id,
            taskQueue: session.taskQueue,
            args: [{ environment, config }],
            workflowIdConflictPolicy: 'USE_EXISTING',
            searchAttributes: { DibctlEnvironments: [environment] },
          }),
        }),
      );
    } catch (err) {
      if (Date.now() < deadline) throw err;
      throw new DibctlError(
        `${id} did not finish its check within ${CHECK_LIMIT_MS / 1000} s; see 'dibctl status ${id}'`,
      );
    }
    status = await handle.query(retirementStatusQuery);
  }

  if (!status) {
    if (o.json) printJson(o, { workflowId: id, running: false });
    else
      o.out(
        `No retirement workflow runs for ${environment}: nothing has been obsoleted there yet (start one with --check-now).`,
      );
    return 0;
  }
  if (o.json) printJson(o, { workflowId: id, running: true, ...status });
  else for (const line of retirementLines(id, status)) o.out(line);
  return 0;
}
