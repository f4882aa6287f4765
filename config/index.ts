/** Configuration: files, validation, merged views and credentials. */
export * from './errors';
export * from './schema';
export * from './test-kinds';
export * from './duration';
export { DEFAULTS } from './defaults';
export type { DefaultKey } from './defaults';
export * from './files';
export * from './merge';
export * from './view';
export * from './credentials';
export * from './clouds';
export { jsonSchemaFor } from './json-schema';
export { parseYaml, readYamlFile, formatKey, formatPath, locate } from './yaml-source';
export type { YamlSource, KeyPath, Position } from './yaml-source';
export { problemsOf, validateSource, describeValue, suggestKey } from './validate-source';
export { KEYSTONE_FIELDS, keystoneFieldOf } from './keystone-keys';
export { crossCheck } from './cross-check';
