/** Errors of configuration loading; each carries dibctl's exit code for it. */
import { DibctlError, ExitCode } from '../errors';

/** A config file is missing, unreadable or invalid (exit 10). */
export class ConfigError extends DibctlError {
  /** One line per problem, each `file:line:col: key.path: message`. */
  readonly problems: string[];

  constructor(problems: string[] | string) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.join('\n'), ExitCode.CONFIG);
    this.problems = list;
  }
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
    super(`Unable to find ${what} '${label}' in ${files.join(', ')} (${known})`, ExitCode.LABEL_NOT_FOUND);
  }
}

/** Credentials are missing or cannot be located (exit 12). Never carries a value. */
export class CredentialsError extends DibctlError {
  constructor(message: string) {
    super(message, ExitCode.CREDENTIALS);
  }
}
