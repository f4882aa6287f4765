/**
 * The next step after an error: the line the command line prints under the
 * message, saying what the operator can do about it. An error made where the
 * file, the label or the environment is known carries its own
 * (`DibctlError.nextStep`); one that crossed a workflow arrives with its exit
 * code and message only, and gets the step its exit code calls for.
 */
import { ExitCode } from './exit-codes';

/** What to do about credentials that are missing or wrong. */
export const CREDENTIALS_STEP =
  "set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME (e.g. source an openrc file) or the environment's keystone section; 'dibctl validate --credentials' checks them";

/** What to do about a host key mismatch (exit 71, as a port that never opened). */
export function hostKeyStep(serverId = 'SERVER'): string {
  return `compare the key with the instance's console (openstack console log show ${serverId}); test on a network no other machine answers on (nova.nics in test.yaml)`;
}

/** What to do about a workflow id the server does not know. */
export const NO_SUCH_WORKFLOW_STEP =
  "'dibctl list' shows the lifecycles' ids (each command prints its workflow's id as it starts); check that TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE name the server it ran on";

const BY_EXIT_CODE: Partial<Record<number, string>> = {
  [ExitCode.CONFIG]: "fix the file and key named above, then check with 'dibctl validate'",
  [ExitCode.LABEL_NOT_FOUND]: "use a label the config files define ('dibctl validate' lists them)",
  [ExitCode.CREDENTIALS]: CREDENTIALS_STEP,
  [ExitCode.PREPROCESSING]:
    "check the upload environment's preprocessing (cmdline, output_filename) in upload.yaml against the output above",
  [ExitCode.AUTH]:
    "check the user, password, project and domains the 'Using ...' line names ('openstack token issue' with the same OS_* variables tries them)",
  [ExitCode.IMAGE_NOT_FOUND]: "check the image id with 'openstack image show ID' and the same credentials",
  [ExitCode.NOVA_BAD_REQUEST]:
    "check nova.flavor and nova.nics in test.yaml and the image's min_disk and min_ram ('openstack flavor list', 'openstack network list')",
  [ExitCode.NOVA_FORBIDDEN]:
    "use credentials whose role allows it (rotate and retirement list every project's servers: usually admin)",
  [ExitCode.INSTANCE_ERROR]:
    "Nova's fault is above: check the flavor, the networks and the cloud's capacity; --keep-failed-instance keeps the instance for 'openstack server show'",
  [ExitCode.PORT_TIMEOUT]:
    "rerun the test with --keep-failed-instance and read the instance's console ('openstack console log show ID'): did it boot and get its address?",
  [ExitCode.TESTS_FAILED]:
    "the failing test's output is above; 'dibctl test LABEL --keep-failed-instance' reruns the tests and holds the instance to look at",
};

/** Steps for failures whose exit code says little (1), by the error's class (also once it crossed a workflow). */
const BY_TYPE: Partial<Record<string, string>> = {
  OpenStackConnectionError:
    'check the URL above and that the worker host reaches it (DNS, proxy, firewall, ssl_ca_path); --debug traces each request',
  EndpointNotFoundError:
    "check region_name and interface in the environment's keystone section against 'openstack catalog list'",
  UploadTimeoutError: 'raise glance.upload_timeout (0: no limit), or check the bandwidth to Glance',
  UploadStalledError:
    'check the network and any proxy to Glance; glance.upload_stall_timeout and retry.upload_attempts set how long and how often',
};

/** A tool that could not be started: the process runners say `NAME: not found` or `failed: not found`, test runners `is not installed`. */
const MISSING_TOOL = /: not found\b|\bis not installed\b/;

/**
 * The next step for an error: its own when it carries one, else the one its
 * class, its exit code (or, for a missing tool, its message) calls for;
 * undefined when there is nothing better to do than read the message.
 */
export function nextStepOf(err: {
  exitCode: number;
  message: string;
  nextStep?: string | undefined;
  /** The error's class: its `name`, or the type of the failure that crossed a workflow. */
  name?: string;
}): string | undefined {
  if (err.nextStep) return err.nextStep;
  const byType = err.name === undefined ? undefined : BY_TYPE[err.name];
  if (byType) return byType;
  if (err.exitCode === ExitCode.HOST_KEY_MISMATCH && err.message.startsWith('Host key mismatch')) return hostKeyStep();
  if (MISSING_TOOL.test(err.message))
    return "'dibctl doctor' checks the worker host and names the package of each missing tool";
  return BY_EXIT_CODE[err.exitCode];
}
