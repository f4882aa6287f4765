/**
 * preprocessing: a command that turns the image file into the file to upload
 * (a format conversion, say). Fails with exit 18 (PreprocessingError).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { UploadEnvironmentConfig } from '../../config';
import { PreprocessingError, interpolate, runUploadCommand } from './commands';

type PreprocessingSettings = NonNullable<UploadEnvironmentConfig['preprocessing']>;

interface Preprocessing {
  environment: string;
  settings: PreprocessingSettings;
  inputFile: string;
  /** Placeholder values (input_filename, disk_format, container_format). */
  values: Record<string, string>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

/** Runs the command unless use_existing finds its output; returns the output file. */
export async function runPreprocessing(p: Preprocessing): Promise<string> {
  const pre = p.settings;
  if (!existsSync(p.inputFile)) throw new PreprocessingError(`Preprocessing input ${p.inputFile} does not exist`);
  const output = path.resolve(
    p.cwd,
    interpolate(pre.outputFilename, p.values, `${p.environment}.preprocessing.output_filename`),
  );
  const cmdline = interpolate(
    pre.cmdline,
    { ...p.values, output_filename: output },
    `${p.environment}.preprocessing.cmdline`,
  );
  if (!(pre.useExisting && existsSync(output))) {
    const r = await runUploadCommand(cmdline, p.env, p.cwd, { signal: p.signal });
    if (r.code !== 0)
      throw new PreprocessingError(`Preprocessing failed (exit ${r.code}): ${cmdline}\n${r.output.trim()}`);
    if (!existsSync(output)) throw new PreprocessingError(`Preprocessing did not create ${output}: ${cmdline}`);
  }
  return output;
}
