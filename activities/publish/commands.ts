/**
 * What preprocessing and external upload commands share: `%(name)s`
 * placeholders, their errors, and running a command line through the process
 * runner with the end of its output kept for the error message.
 */
import { Context } from '@temporalio/activity';
import { DibctlError, ExitCode } from '../../errors';
import { runCapturing } from '../process';

export class PreprocessingError extends DibctlError {
  constructor(message: string) {
    super(message, ExitCode.PREPROCESSING);
  }
}

export class ExternalCommandError extends DibctlError {}

/** `%(name)s` placeholders, as Python's %-formatting with a mapping; `%%` is a percent sign. */
export function interpolate(template: string, values: Record<string, string>, what: string): string {
  return template.replace(/%(%|\(([^)]*)\)s)/g, (whole, pct: string, name?: string) => {
    if (pct === '%') return '%';
    if (name === undefined || !(name in values)) {
      throw new PreprocessingError(
        `${what}: unknown placeholder ${whole} (known: ${Object.keys(values)
          .map((k) => `%(${k})s`)
          .join(', ')})`,
      );
    }
    return values[name];
  });
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
