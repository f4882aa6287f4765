/**
 * Checks that span files: each image's test environment exists, and files the
 * configs point at (tests, userdata_file, ssl_ca_path) are there.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { LoadedConfig, whereIs } from './files';
import { TEST_KINDS } from './test-kinds';

function missingPath(
  config: LoadedConfig<'images' | 'test' | 'upload'>,
  label: string,
  keyPath: (string | number)[],
  value: string,
): string | undefined {
  if (existsSync(path.resolve(config.baseDir, value))) return undefined;
  return `${whereIs(config, label, keyPath)}: ${JSON.stringify(value)} does not exist (paths are relative to ${config.baseDir})`;
}

/** Problems (one line each) of the given images, or all; empty when consistent. */
export function crossCheck(
  images: LoadedConfig<'images'> | undefined,
  test: LoadedConfig<'test'> | undefined,
  upload: LoadedConfig<'upload'> | undefined,
  imageLabels?: readonly string[],
): string[] {
  const problems: string[] = [];
  if (images) {
    for (const label of imageLabels ?? [...images.entries.keys()]) {
      const entry = images.entries.get(label);
      if (!entry) continue;
      const envName = entry.value.tests?.environment_name;
      if (envName !== undefined && test && !test.entries.has(envName)) {
        const known = [...test.entries.keys()];
        problems.push(
          `${whereIs(images, label, ['tests', 'environment_name'])}: test environment '${envName}' is not defined in ${test.files.join(', ')} (${known.length ? `known: ${known.join(', ')}` : 'none defined'})`,
        );
      }
      (entry.value.tests?.tests_list ?? []).forEach((t, i) => {
        for (const kind of TEST_KINDS) {
          const p = t[kind];
          if (p === undefined) continue;
          const problem = missingPath(images, label, ['tests', 'tests_list', i, kind], p);
          if (problem) problems.push(problem);
        }
      });
    }
  }
  if (test) {
    for (const [label, entry] of test.entries) {
      const file = entry.value.nova.userdata_file;
      const p1 = file !== undefined ? missingPath(test, label, ['nova', 'userdata_file'], file) : undefined;
      if (p1) problems.push(p1);
      const nics = entry.value.nova.nics ?? [];
      if (nics.length > 1 && entry.value.nova.main_nic_regexp === undefined)
        problems.push(
          `${whereIs(test, label, ['nova', 'nics'])}: ${nics.length} networks and no nova.main_nic_regexp: set it to the name of the network dibctl reaches the instance on`,
        );
      const ca = entry.value.ssl_ca_path;
      const p2 = ca !== undefined ? missingPath(test, label, ['ssl_ca_path'], ca) : undefined;
      if (p2) problems.push(p2);
    }
  }
  if (upload) {
    for (const [label, entry] of upload.entries) {
      const ca = entry.value.ssl_ca_path;
      const p = ca !== undefined ? missingPath(upload, label, ['ssl_ca_path'], ca) : undefined;
      if (p) problems.push(p);
    }
  }
  return problems;
}
