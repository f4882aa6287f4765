/**
 * A workflow this CLI starts that no worker can read: the worker and the CLI
 * disagree about the payload key, so every workflow task fails on decoding the
 * input and the workflow would wait for ever. A client interceptor watches each
 * workflow it starts for its first minute; when its first workflow task keeps
 * failing for a payload key, the workflow is terminated with that reason, which
 * the command then reports.
 */
import type { Client, WorkflowClientInterceptor } from '@temporalio/client';

const WATCH_MS = 60_000;
const POLL_MS = 1_000;
/** Workflow task attempts before the failure is taken as final (a retry can succeed after a worker restart). */
const ATTEMPTS = 2;

/** What the CLI says when a workflow it started cannot be read by the workers. */
function unreadableStartReason(failure: string): string {
  return `The workers cannot read this workflow's input: ${failure}`;
}

export function unreadableStartInterceptor(client: () => Client | undefined, stopped: AbortSignal) {
  const watch = async (workflowId: string, runId: string) => {
    const deadline = Date.now() + WATCH_MS;
    while (Date.now() < deadline && !stopped.aborted) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS).unref());
      const c = client();
      if (!c || stopped.aborted) return;
      const handle = c.workflow.getHandle(workflowId, runId);
      const d = await handle.describe().catch(() => undefined);
      if (!d || d.status.name !== 'RUNNING') return;
      const pending = d.raw.pendingWorkflowTask;
      // a workflow task that completed left its commands in history (a failing one leaves 4 events): the input was read
      if (Number(d.raw.workflowExecutionInfo?.historyLength ?? 0) >= 5 && (pending?.attempt ?? 0) <= 1) return;
      if ((pending?.attempt ?? 0) < ATTEMPTS) continue;
      const { events } = await handle.fetchHistory().catch(() => ({ events: undefined }));
      const failed = [...(events ?? [])].reverse().find((e) => e.workflowTaskFailedEventAttributes)
        ?.workflowTaskFailedEventAttributes?.failure?.message;
      if (failed && /payload key/i.test(failed)) {
        await handle.terminate(unreadableStartReason(failed)).catch(() => undefined);
        return;
      }
    }
  };
  const interceptor: WorkflowClientInterceptor = {
    async start(input, next) {
      const runId = await next(input);
      void watch(input.options.workflowId, runId);
      return runId;
    },
  };
  return interceptor;
}
