/** Configuration: files, validation, merged views and credentials. */
export { ConfigError, LabelNotFoundError, CredentialsError } from './errors';
export { CONFIG_KINDS } from './kinds';
export type { ConfigKind } from './kinds';
export type { GlanceSection, SshKeyType } from './schema';
export { durationProblem, durationSeconds } from './duration';
export { configFiles, loadConfig, entryOf } from './files';
export type { LoadedConfig } from './files';
export { largerTimeout, mergeNovaTimeouts, unionList, mergeGlance, mergeEnvironmentVariables } from './merge';
export {
  loadKind,
  loadImage,
  loadImageEntry,
  loadUploadEnvironment,
  loadTestEnvironment,
  loadTestPlan,
  loadUploadPlan,
  workflowTestPlan,
} from './view';
export type { ConfigOptions, Nic, UploadEnvironmentConfig, RetirePolicy, WorkflowTestPlan } from './view';
export { buildCloudAuth, credentialsUsedLine, resolveCredentials, describeCredentialSources } from './credentials';
export { jsonSchemaFor } from './json-schema';
export { parseYaml } from './yaml-source';
export { validateSource, suggestKey } from './validate-source';
export { crossCheck } from './cross-check';
