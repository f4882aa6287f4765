// The worker bundles this file: every workflow type dibctl runs is exported here.
export { doctorWorkflow } from './doctor';
export type { DoctorReport } from './doctor';
export { stageQuery } from './queries';
export { publishWorkflow, markObsoleteWorkflow, rotateWorkflow, transferWorkflow } from './publish';
export type { PublishResult } from './publish';
export { retirementWorkflow, addImagesSignal, checkNowUpdate, retirementStatusQuery } from './retirement';
export type { RetirementStatus } from './retirement';
export { imageTestWorkflow, keepSignal, discardSignal, imageTestStatusQuery } from './image-test';
export type { ImageTestInput, ImageTestResult, ImageTestStatus, ImageTestFailureDetails } from './image-test';
export { imageBuildWorkflow } from './build';
export type { ImageBuildInput } from './build';
export { imageLifecycleWorkflow } from './lifecycle';
export type { LifecycleFailureDetails, LifecycleInput, LifecycleResult } from './lifecycle';
