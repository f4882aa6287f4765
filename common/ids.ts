/**
 * Every workflow id and task-queue name dibctl uses, in one place. The client,
 * the workflows and the activities build them here, so a child found by the CLI
 * is the child the lifecycle started. Pure functions only: workflow code imports
 * this module, so random parts (a short uuid, a timestamp) are passed in.
 */

/** The shared task queue every dibctl worker polls. */
export const DEFAULT_TASK_QUEUE = 'dibctl';

/** The task queue only the worker on `hostname` polls (one per shared queue): steps that read the image file. */
export function hostTaskQueue(sharedQueue: string, hostname: string): string {
  return `${sharedQueue}@${hostname}`;
}

/** The long-lived retirement workflow of an upload environment: one per environment. */
export function retirementWorkflowId(environment: string): string {
  return `dibctl-retirement-${environment}`;
}

/** The children of an image lifecycle, derived from its id so the CLI can follow them. */
export const lifecycleChildren = {
  build: (lifecycleId: string) => `${lifecycleId}-build`,
  test: (lifecycleId: string) => `${lifecycleId}-test`,
  publish: (lifecycleId: string, environment: string) => `${lifecycleId}-publish-${environment}`,
};

/** The build id (`dibctl_build_id` image property) of a publish step that names none. */
export function publishBuildId(workflowId: string, environment: string): string {
  return `${workflowId}/publish/${environment}`;
}

/** The publish workflow a build id made by publishBuildId names; undefined for any other build id. */
export function publishWorkflowOfBuildId(buildId: string): string | undefined {
  const at = buildId.lastIndexOf('/publish/');
  return at > 0 ? buildId.slice(0, at) : undefined;
}

/** The build id of an image test's throw-away image. */
export function testImageBuildId(workflowId: string): string {
  return `${workflowId}/test`;
}

/** Ids of the workflows the CLI starts; `suffix` is the caller's random part. */
export const commandWorkflowIds = {
  run: (label: string, suffix: string) => `dibctl-run-${label}-${suffix}`,
  /** The id a schedule gives its lifecycles (Temporal appends the fire time). */
  scheduledRun: (label: string) => `dibctl-run-${label}`,
  build: (label: string, suffix: string) => `build-${label}-${suffix}`,
  test: (mode: 'test' | 'shell', label: string, suffix: string) => `${mode}-${label}-${suffix}`,
  upload: (label: string, environment: string, suffix: string) => `dibctl-upload-${label}-${environment}-${suffix}`,
  markObsolete: (environment: string, imageId: string, suffix: string) =>
    `dibctl-mark-obsolete-${environment}-${imageId}-${suffix}`,
  rotate: (environment: string, imageLabel: string | undefined, suffix: string) =>
    `dibctl-rotate-${environment}${imageLabel ? `-${imageLabel}` : ''}-${suffix}`,
  transfer: (imageId: string, suffix: string) => `dibctl-transfer-${imageId}-${suffix}`,
  doctor: (hostname: string, suffix: string) => `doctor-${hostname}-${suffix}`,
};

/** The schedule of an image label's periodic lifecycle. */
export function scheduleId(label: string): string {
  return `dibctl-${label}`;
}
