/**
 * preprocessing: a command that turns the image file into the file to upload
 * (a format conversion, say). Fails with exit 18 (PreprocessingError).
 *
 * Each publish has an output of its own, so parallel publishes of one image
 * (several environments, two `dibctl upload` at once) never write, upload or
 * delete each other's file. For the configured `output_filename` `DIR/NAME`
 * and a publish whose build id gives the tag `TAG`:
 * - the command writes `DIR/NAME.publish-TAG.partial/NAME` (its
 *   `%(output_filename)s`); a failed or cancelled command leaves nothing:
 *   that directory is removed;
 * - once the command succeeded, the directory is renamed
 *   `DIR/NAME.publish-TAG`, so `DIR/NAME.publish-TAG/NAME` is only ever a
 *   complete output; this is the file uploaded, and deleted afterwards when
 *   `delete_processed_after_upload` says so;
 * - with `use_existing`, an existing `DIR/NAME` is uploaded without running the
 *   command; a missing one is made as above and then put in place as `DIR/NAME`
 *   (unless a parallel publish put its own there first), for later publishes to
 *   reuse. That file is never deleted by dibctl.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { UploadEnvironmentConfig } from '../../config';
import { PreprocessingError, interpolate, interpolateCommandLine, runUploadCommand } from './commands';

type PreprocessingSettings = NonNullable<UploadEnvironmentConfig['preprocessing']>;

interface Preprocessing {
  environment: string;
  settings: PreprocessingSettings;
  inputFile: string;
  /** Placeholder values (input_filename, disk_format, container_format). */
  values: Record<string, string>;
  /** The publish's build id: its output is named after it. */
  publishId: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

interface PreprocessedFile {
  /** The file to upload. */
  file: string;
  /** Whether this publish alone made the file (then it may be deleted after the upload). */
  own: boolean;
}

/** Marks the directory holding one publish's output (see above). */
const PUBLISH_MARK = '.publish-';
const PARTIAL = '.partial';

/** A file name part from a build id: readable, safe, and unique by its hash. */
function publishTag(publishId: string): string {
  const readable = publishId
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+|-+$/g, '')
    .slice(0, 80);
  const hash = createHash('sha256').update(publishId).digest('hex').slice(0, 8);
  return readable ? `${readable}-${hash}` : hash;
}

/** Whether `dir` is the directory one publish's output `file` was put in (so it goes with the file). */
export function isPublishOutputDir(dir: string, file: string): boolean {
  const name = path.basename(dir);
  return name.startsWith(`${path.basename(file)}${PUBLISH_MARK}`) && !name.endsWith(PARTIAL);
}

/**
 * Runs the command into this publish's own temporary directory and puts the
 * output in place when it succeeded; returns the file to upload. With
 * use_existing, an existing output is returned without running anything.
 */
export async function runPreprocessing(p: Preprocessing): Promise<PreprocessedFile> {
  const pre = p.settings;
  if (!existsSync(p.inputFile)) throw new PreprocessingError(`Preprocessing input ${p.inputFile} does not exist`);
  const configured = path.resolve(
    p.cwd,
    interpolate(pre.outputFilename, p.values, `${p.environment}.preprocessing.output_filename`),
  );
  if (pre.useExisting && existsSync(configured)) return { file: configured, own: false };

  const name = path.basename(configured);
  const finalDir = path.join(path.dirname(configured), `${name}${PUBLISH_MARK}${publishTag(p.publishId)}`);
  const partialDir = `${finalDir}${PARTIAL}`;
  const partial = path.join(partialDir, name);
  const cmdline = interpolateCommandLine(
    pre.cmdline,
    { ...p.values, output_filename: partial },
    `${p.environment}.preprocessing.cmdline`,
  );
  // what an earlier attempt of this publish left (a worker that died mid-command)
  await fs.rm(partialDir, { recursive: true, force: true });
  try {
    await fs.mkdir(partialDir, { recursive: true });
  } catch (err) {
    throw new PreprocessingError(`Cannot create ${partialDir} for the preprocessing output: ${(err as Error).message}`);
  }
  try {
    const r = await runUploadCommand(cmdline, p.env, p.cwd, { signal: p.signal });
    if (r.code !== 0)
      throw new PreprocessingError(`Preprocessing failed (exit ${r.code}): ${cmdline}\n${r.output.trim()}`);
    if (!existsSync(partial)) throw new PreprocessingError(`Preprocessing did not create ${partial}: ${cmdline}`);
    if (pre.useExisting) return { file: await shareOutput(partial, configured), own: false };
    // an output an earlier attempt of this publish completed makes way for this one
    await fs.rm(finalDir, { recursive: true, force: true });
    await fs.rename(partialDir, finalDir);
    return { file: path.join(finalDir, name), own: true };
  } finally {
    await fs.rm(partialDir, { recursive: true, force: true });
  }
}

/**
 * Puts a complete output in place as the configured file for later publishes
 * to reuse. A file a parallel publish put there first stays as it is and is
 * the one used: a file once in place never changes under a reader.
 */
async function shareOutput(partial: string, configured: string): Promise<string> {
  try {
    await fs.link(partial, configured);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // a file system without hard links: a rename is atomic too
    if (code !== 'EEXIST') await fs.rename(partial, configured);
  }
  return configured;
}
