/**
 * Retry policies shared by the workflows. Activities mark what an operator must
 * fix (bad config, 4xx other than 409/429, a failed build) as non-retryable, so
 * what these policies retry is trouble that passes: a cloud that is unreachable
 * or answers 5xx / 409 / 429, a worker that died mid-step.
 */
import type { RetryPolicy } from '@temporalio/workflow';
import type { RetrySettings } from '../config/view';

/** Short cloud steps: backing off to 30 s, 12 attempts ride out about 3.5 minutes of outage. */
export const CLOUD_RETRY: RetryPolicy = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 12 };

/** Long steps (an upload, a copy between clouds): each attempt may take hours, so fewer, about a minute of outage apart. */
export const LONG_STEP_RETRY: RetryPolicy = { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 6 };

/**
 * Heartbeat timeout of steps that only keep alive (activities without progress
 * of their own heartbeat every 5 s): a worker killed mid-step is noticed this
 * soon instead of after the step's whole time limit.
 */
export const KEEP_ALIVE_TIMEOUT = '20 seconds';

/** An upload environment's `retry:` settings as the policies of its short steps and its upload. */
export function retryPolicies(settings: RetrySettings | undefined): { cloud: RetryPolicy; upload: RetryPolicy } {
  if (!settings) return { cloud: CLOUD_RETRY, upload: LONG_STEP_RETRY };
  const maximumInterval = settings.maxIntervalSeconds * 1000;
  return {
    cloud: { ...CLOUD_RETRY, maximumAttempts: settings.attempts, maximumInterval },
    upload: { ...LONG_STEP_RETRY, maximumAttempts: settings.uploadAttempts, maximumInterval, initialInterval: Math.min(2_000, maximumInterval) },
  };
}
