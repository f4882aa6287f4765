/**
 * All activities of dibctl, built from their dependencies so tests can inject
 * real but isolated ones (a temp directory, an emulator's credentials, ...).
 */
import { createDoctorActivities } from './doctor';

export interface ActivityDeps {
  env?: NodeJS.ProcessEnv;
}

export function createActivities(deps: ActivityDeps = {}) {
  return {
    ...createDoctorActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { CheckResult, HostInfo, HostTool } from './doctor';
