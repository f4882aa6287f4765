/**
 * Tells the operator when a step is being retried, once per attempt, so that a
 * command riding out a cloud outage does not look hung:
 * `Retrying uploadImageFile for two (attempt 3 of 6): Glance answered 503 ...`.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import type { LiveView } from './live-view';
import type { Output } from './render';

export class RetryNotices {
  private readonly seen = new Set<string>();

  /** With a live view, the retries show in its block instead of as lines. */
  constructor(
    private readonly o: Output,
    private readonly live?: LiveView,
  ) {}

  /** Prints a line for each pending step of the workflow that failed before and waits for its next attempt. */
  report(desc: WorkflowExecutionDescription, where?: string): void {
    for (const a of desc.raw.pendingActivities ?? []) {
      const attempt = a.attempt ?? 1;
      const message = a.lastFailure?.message;
      if (attempt < 2 || !message) continue;
      const key = `${desc.workflowId}/${a.activityId ?? ''}/${attempt}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      const of = a.maximumAttempts ? ` of ${a.maximumAttempts}` : '';
      const step = a.activityType?.name ?? 'a step';
      const what = `${step}${where ? ` for ${where}` : ''} (attempt ${attempt}${of}): ${message.split('\n')[0]}`;
      if (this.live?.active) this.live.retry(`retrying ${what}`);
      else this.o.err(`Retrying ${what}`);
    }
  }
}
