// The worker bundles this file: every workflow type dibctl runs is exported here.
export { doctorWorkflow } from './doctor';
export type { DoctorInput, DoctorReport } from './doctor';
export { stageQuery } from './queries';
