/**
 * All activities of dibctl, built from their dependencies so tests can inject
 * real but isolated ones (a temp directory, an emulator's credentials, ...).
 */
import { createDoctorActivities } from './doctor';
import { createBuildActivities } from './build';
import { createImageUploadActivities } from './image-upload';
import { createImageTestActivities } from './image-test';
import { createPublishActivities } from './publish';
import { createTransferActivities } from './transfer';

export interface ActivityDeps {
  env?: NodeJS.ProcessEnv;
  /** Receives one line per OpenStack request and answer, secrets redacted (`--debug`). */
  debug?: (line: string) => void;
}

export function createActivities(deps: ActivityDeps = {}) {
  return {
    ...createDoctorActivities(deps),
    ...createBuildActivities(deps),
    ...createImageUploadActivities(deps),
    ...createImageTestActivities(deps),
    ...createPublishActivities(deps),
    ...createTransferActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { CheckResult, HostInfo, HostTool } from './doctor';
export type { BuildHeartbeat, BuildInput, BuildResult } from './build';
export type { UploadHeartbeat } from './image-upload';
export type { CloudRef, CloudTarget, ConfigLocation } from './cloud';
export type { InstanceFacts, StepHeartbeat } from './image-test';
export type { TestEntryResult } from './test-runners/types';
export type { ObsoletedImage } from './publish';
export type { TransferResult } from './transfer';
