import { statSync } from 'node:fs';
import path from 'node:path';
import {
  CONFIG_KINDS,
  ConfigError,
  ConfigKind,
  ConfigOptions,
  LoadedConfig,
  crossCheck,
  describeCredentialSources,
  entryOf,
  loadImage,
  loadKind,
  resolveCredentials,
} from '../../config';
import { DibctlError, ExitCode } from '../../errors';
import { Output, printJson } from '../render';

export interface ValidateOptions {
  imagesConfig?: string;
  testConfig?: string;
  uploadConfig?: string;
  /** Also resolve the credentials of every environment (offline: nothing is contacted). */
  credentials?: boolean;
  /** `-i FILE`: the image file the images would use instead of their configured filename; it must exist. */
  input?: string;
}

/** Size of the image file given with -i; a missing or unreadable one is an error naming it. */
function imageFileBytes(file: string): number {
  let size: number;
  try {
    const st = statSync(path.resolve(file));
    if (!st.isFile()) throw new DibctlError(`-i ${file}: not a regular file`, ExitCode.GENERIC);
    size = st.size;
  } catch (err) {
    if (err instanceof DibctlError) throw err;
    throw new DibctlError(`-i ${file}: no such image file`, ExitCode.GENERIC);
  }
  return size;
}

/**
 * Loads and validates every config (or the explicit files), then checks what
 * spans files. Image labels, when given, limit the checks to those images and
 * the environments they use.
 */
export async function validate(
  imageLabels: string[],
  opts: ValidateOptions,
  o: Output,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { input, credentials, ...files } = opts;
  const configOpts: ConfigOptions = { ...files, env, onWarning: (w) => o.err(w) };
  const problems: string[] = [];
  const loaded: Partial<{ [K in ConfigKind]: LoadedConfig<K> }> = {};
  for (const kind of CONFIG_KINDS) {
    try {
      const config = loadKind(kind, configOpts);
      (loaded as Record<ConfigKind, LoadedConfig<ConfigKind>>)[kind] = config;
      if (!o.json) {
        for (const f of config.files) o.out(`Using ${f}`);
        o.out(
          `${kind}: ${config.entries.size} label${config.entries.size === 1 ? '' : 's'}${config.entries.size ? ` (${[...config.entries.keys()].join(', ')})` : ''}`,
        );
      }
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const { images, test, upload } = loaded;
  // a label that does not exist is exit 11, before any other check
  for (const label of imageLabels) if (images) entryOf(images, label);
  const imageFile = input ? path.resolve(input) : undefined;
  const imageFileSize = input ? imageFileBytes(input) : undefined;
  if (imageFile)
    for (const label of imageLabels) loadImage(label, { ...configOpts, onWarning: undefined, filename: imageFile });
  problems.push(...crossCheck(images, test, upload, imageLabels.length ? imageLabels : undefined));
  if (problems.length) throw new ConfigError(problems);

  const credentialLines: string[] = [];
  if (credentials) {
    const testEnvs = imageLabels.length
      ? [
          ...new Set(
            imageLabels
              .map((l) => images?.entries.get(l)?.value.tests?.environment_name)
              .filter((e): e is string => !!e),
          ),
        ]
      : [...(test?.entries.keys() ?? [])];
    const targets: Array<['test' | 'upload', string]> = [
      ...testEnvs.map((l) => ['test', l] as ['test', string]),
      ...(imageLabels.length
        ? []
        : [...(upload?.entries.keys() ?? [])].map((l) => ['upload', l] as ['upload', string])),
    ];
    const failures: string[] = [];
    let exitCode = 0;
    for (const [kind, label] of targets) {
      try {
        const c = resolveCredentials(kind, label, { ...configOpts, onWarning: undefined });
        credentialLines.push(`${kind} environment '${label}': ${describeCredentialSources(c)}`);
      } catch (err) {
        if (!(err instanceof DibctlError)) throw err;
        failures.push(err.message);
        exitCode ||= err.exitCode;
      }
    }
    if (failures.length) throw new DibctlError(failures.join('\n'), exitCode);
  }

  if (o.json) {
    printJson(o, {
      valid: true,
      files: Object.fromEntries(Object.entries(loaded).map(([k, c]) => [k, c.files])),
      labels: Object.fromEntries(Object.entries(loaded).map(([k, c]) => [k, [...c.entries.keys()]])),
      ...(credentials ? { credentials: credentialLines } : {}),
      ...(imageFile ? { imageFile: { path: imageFile, bytes: imageFileSize } } : {}),
    });
    return 0;
  }
  for (const line of credentialLines) o.out(line);
  if (imageFile) o.out(`Image file ${imageFile}: ${imageFileSize} bytes`);
  o.out('Configs have been validated.');
  return 0;
}
