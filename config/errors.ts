/** Errors of configuration loading; each carries dibctl's exit code for it. */
import { DibctlError, ExitCode } from '../errors';
import { CREDENTIALS_STEP } from '../errors/next-step';

/** A config file is missing, unreadable or invalid (exit 10). */
export class ConfigError extends DibctlError {
  /** One line per problem, each `file:line:col: key.path: message`. */
  readonly problems: string[];

  constructor(problems: string[] | string) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.join('\n'), ExitCode.CONFIG, { nextStep: configStep(list) });
    this.problems = list;
  }
}

/** What to do about config problems: write the files that are missing, else fix the keys named. */
function configStep(problems: string[]): string {
  if (problems.every((p) => /^No \w+ config found/.test(p)))
    return "write the files in one of the places listed ('dibctl schema' describes every key; 'dibctl demo' leaves a working set in its directory)";
  if (problems.every((p) => /: (no such config file|is not a file)$/.test(p)))
    return 'check the path given to --images-config, --test-config or --upload-config';
  return "fix each file and key named above, then check with 'dibctl validate'";
}

/** The label asked for is not in any file of its kind (exit 11). */
export class LabelNotFoundError extends DibctlError {
  constructor(
    readonly what: string,
    readonly label: string,
    readonly files: string[],
    readonly labels: string[],
  ) {
    const known = labels.length ? `known labels: ${labels.join(', ')}` : 'no labels are defined';
    super(`Unable to find ${what} '${label}' in ${files.join(', ')} (${known})`, ExitCode.LABEL_NOT_FOUND, {
      nextStep: labels.length
        ? `use one of the known labels, or add '${label}' to ${files[files.length - 1]}; 'dibctl validate' checks it`
        : `add '${label}' to ${files[files.length - 1]}; 'dibctl validate' checks it`,
    });
  }
}

/** Credentials are missing or cannot be located (exit 12). Never carries a value. */
export class CredentialsError extends DibctlError {
  constructor(message: string, nextStep: string = CREDENTIALS_STEP) {
    super(message, ExitCode.CREDENTIALS, { nextStep });
  }
}
