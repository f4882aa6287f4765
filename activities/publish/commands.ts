/**
 * What preprocessing and external upload commands share: `%(name)s`
 * placeholders, their errors, and running a command line through the process
 * runner with the end of its output kept for the error message.
 */
import { Context } from '@temporalio/activity';
import { DibctlError, ExitCode } from '../../errors';
import { runCapturing } from '../process';
import { UnknownPlaceholder, interpolateCommand } from '../../common/shell';

export class PreprocessingError extends DibctlError {
  constructor(message: string) {
    super(message, ExitCode.PREPROCESSING);
  }
}

export class ExternalCommandError extends DibctlError {}

function unknownPlaceholder(what: string, placeholder: string, known: string[]): PreprocessingError {
  return new PreprocessingError(
    `${what}: unknown placeholder ${placeholder} (known: ${known.map((k) => `%(${k})s`).join(', ')})`,
  );
}

/** `%(name)s` placeholders in a file name, as Python's %-formatting with a mapping; `%%` is a percent sign. */
export function interpolate(template: string, values: Record<string, string>, what: string): string {
  return template.replace(/%(%|\(([^)]*)\)s)/g, (whole, pct: string, name?: string) => {
    if (pct === '%') return '%';
    if (name === undefined || !(name in values)) throw unknownPlaceholder(what, whole, Object.keys(values));
    return values[name];
  });
}

/**
 * `%(name)s` placeholders in a command line: each value is shell-quoted for
 * where it stands (see interpolateCommand), so a file name with spaces or
 * quotes is one word and never code.
 */
export function interpolateCommandLine(template: string, values: Record<string, string>, what: string): string {
  try {
    return interpolateCommand(template, values);
  } catch (err) {
    if (err instanceof UnknownPlaceholder) throw unknownPlaceholder(what, err.placeholder, Object.keys(values));
    throw err;
  }
}

interface CommandResult {
  code: number | null;
  output: string;
}

/** How much of a command's output its error message keeps (the end). */
const MESSAGE_OUTPUT_CHARS = 4096;

/** Runs a command line through /bin/sh in the directory the CLI ran in; output is kept (the end of it) for the error message. */
export async function runUploadCommand(
  cmdline: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  opts: { signal?: AbortSignal; secrets?: string[] } = {},
): Promise<CommandResult> {
  const r = await runCapturing(cmdline, { env, cwd, limit: MESSAGE_OUTPUT_CHARS, ...opts });
  if (r.aborted) return { code: null, output: 'cancelled' };
  if (r.startError) throw r.startError;
  return { code: r.code, output: r.output };
}

/** The activity's cancellation, when running as one. */
export function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}
