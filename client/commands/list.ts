/**
 * `list [--label X] [--environment E] [--state S]`: image lifecycles found by
 * their search attributes (DibctlLabel, DibctlEnvironments) and ExecutionStatus,
 * with the stage of running ones.
 */
import { imageLifecycleWorkflow, stageQuery } from '../../workflows';
import { Output, printJson, table } from '../render';
import type { Session } from '../session';
import { LIST_STATES } from '../program/list';
import type { ListState } from '../program/list';

export interface ListOptions {
  label?: string;
  /** Only lifecycles that publish to this upload environment (among others). */
  environment?: string;
  /** Only lifecycles in this state. */
  state?: ListState;
  /** The same as `--state running`. */
  running?: boolean;
  limit: string;
}

function quoted(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function lifecycleQuery(opts: Pick<ListOptions, 'label' | 'environment' | 'running' | 'state'>): string {
  const parts = [`WorkflowType = ${quoted(imageLifecycleWorkflow.name)}`];
  if (opts.label) parts.push(`DibctlLabel = ${quoted(opts.label)}`);
  if (opts.environment) parts.push(`DibctlEnvironments = ${quoted(opts.environment)}`);
  const state = opts.state ?? (opts.running ? 'running' : undefined);
  if (state) parts.push(`ExecutionStatus = ${quoted(LIST_STATES[state])}`);
  return parts.join(' AND ');
}

export async function list(session: Session, opts: ListOptions, o: Output): Promise<number> {
  const limit = Math.max(1, Number(opts.limit) || 20);
  const rows: Array<{
    workflowId: string;
    label: string;
    environments: string;
    status: string;
    stage?: string;
    started: string;
  }> = [];
  for await (const wf of session.client.workflow.list({ query: lifecycleQuery(opts) })) {
    const sa = (wf.searchAttributes ?? {}) as Record<string, unknown[] | undefined>;
    const row = {
      workflowId: wf.workflowId,
      label: String(sa.DibctlLabel?.[0] ?? ''),
      environments: (sa.DibctlEnvironments ?? []).map(String).join(','),
      status: wf.status.name,
      started: wf.startTime.toISOString(),
    } as (typeof rows)[number];
    if (wf.status.name === 'RUNNING') {
      row.stage = await session.client.workflow
        .getHandle(wf.workflowId, wf.runId)
        .query(stageQuery)
        .catch(() => undefined);
    }
    rows.push(row);
    if (rows.length >= limit) break;
  }
  if (o.json) printJson(o, rows);
  else if (!rows.length) o.out('No image lifecycles found.');
  else
    o.out(
      table(
        ['WORKFLOW', 'LABEL', 'ENVIRONMENTS', 'STATUS', 'STAGE', 'STARTED'],
        rows.map((r) => [r.workflowId, r.label, r.environments, r.status, r.stage ?? '', r.started]),
      ),
    );
  return 0;
}
