/** dibctl's exit codes; a module of its own so the command line reads them without the failure helpers. */
export const ExitCode = {
  OK: 0,
  GENERIC: 1,
  /** The command line itself is wrong (unknown option or command, missing argument): argparse's code. */
  USAGE: 2,
  CONFIG: 10,
  LABEL_NOT_FOUND: 11,
  CREDENTIALS: 12,
  PREPROCESSING: 18,
  AUTH: 20,
  IMAGE_NOT_FOUND: 50,
  NOVA_BAD_REQUEST: 60,
  NOVA_FORBIDDEN: 61,
  INSTANCE_ERROR: 70,
  PORT_TIMEOUT: 71,
  /** The instance is not reachable as itself: its SSH server presents a host key it did not print (dibctl's 71, as an unreachable port). */
  HOST_KEY_MISMATCH: 71,
  TESTS_FAILED: 80,
} as const;
