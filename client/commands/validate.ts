import {
  CONFIG_KINDS,
  ConfigError,
  ConfigKind,
  ConfigOptions,
  LoadedConfig,
  crossCheck,
  describeCredentialSources,
  entryOf,
  loadKind,
  resolveCredentials,
} from '../../config';
import { DibctlError } from '../../errors';
import { Output, printJson } from '../render';
import type { Command } from 'commander';
import { Cli, configFileOptions } from '../cli';

export interface ValidateOptions {
  imagesConfig?: string;
  testConfig?: string;
  uploadConfig?: string;
  /** Also resolve the credentials of every environment (offline: nothing is contacted). */
  credentials?: boolean;
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
  const configOpts: ConfigOptions = { ...opts, env, onWarning: (w) => o.err(w) };
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
  problems.push(...crossCheck(images, test, upload, imageLabels.length ? imageLabels : undefined));
  if (problems.length) throw new ConfigError(problems);

  const credentialLines: string[] = [];
  if (opts.credentials) {
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
      ...(opts.credentials ? { credentials: credentialLines } : {}),
    });
    return 0;
  }
  for (const line of credentialLines) o.out(line);
  o.out('Configs have been validated.');
  return 0;
}

export function register(program: Command, cli: Cli): void {
  configFileOptions(
    program
      .command('validate')
      .description('load and validate every config file (or the given ones); with image labels, only those images')
      .argument('[image-labels...]'),
    'images',
    'test',
    'upload',
  )
    .option(
      '--credentials',
      "also resolve each environment's credentials (names the OS_* variables used, never values)",
    )
    .action(async (labels: string[], opts: ValidateOptions) => cli.withoutSession((o) => validate(labels, opts, o)));
}
