/**
 * An error the operator can act on ends with the next step: its own where it
 * was made knowing the file, label or environment, else the one its exit code
 * calls for (an error that crossed a workflow keeps only code and message).
 */
import { ConfigError, CredentialsError, LabelNotFoundError } from '../../config/errors';
import { DibctlError, ExitCode, HostKeyMismatchError, TemporalUnavailableError, nextStepOf } from '../../errors';

describe('the next step after an error', () => {
  it('a config error says to fix the key named, to write missing files, or to check the path given', () => {
    expect(nextStepOf(new ConfigError('upload.yaml:3:5: prod.glance.min-ram: unknown key'))).toBe(
      "fix each file and key named above, then check with 'dibctl validate'",
    );
    expect(nextStepOf(new ConfigError('No images config found: looked for images.yaml'))).toMatch(
      /^write the files in one of the places listed \('dibctl schema'/,
    );
    expect(nextStepOf(new ConfigError('other.yaml: no such config file'))).toMatch(/--images-config/);
  });

  it('an unknown label points to the known ones and the file to add it to', () => {
    expect(nextStepOf(new LabelNotFoundError('image', 'nope', ['/etc/dibctl/images.yaml', 'images.yaml'], ['a']))).toBe(
      "use one of the known labels, or add 'nope' to images.yaml; 'dibctl validate' checks it",
    );
    expect(nextStepOf(new LabelNotFoundError('upload environment', 'prod', ['upload.yaml'], []))).toBe(
      "add 'prod' to upload.yaml; 'dibctl validate' checks it",
    );
  });

  it('missing credentials name the OS_* variables, the keystone section and validate --credentials', () => {
    const step = nextStepOf(new CredentialsError('The password is missing'));
    expect(step).toMatch(/OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME/);
    expect(step).toMatch(/keystone section/);
    expect(step).toMatch(/'dibctl validate --credentials'/);
  });

  it('an unreachable Temporal server points to dibctl server and TEMPORAL_ADDRESS', () => {
    expect(nextStepOf(new TemporalUnavailableError('127.0.0.1:7233', 'connection refused'))).toBe(
      "start it ('dibctl server' runs one on this host), or set TEMPORAL_ADDRESS to a server that runs",
    );
  });

  it('a failure from a workflow gets the step of its exit code', () => {
    const crossed = (message: string, exitCode: number) => nextStepOf(new DibctlError(message, exitCode));
    expect(crossed('Some tests failed', ExitCode.TESTS_FAILED)).toMatch(
      /'dibctl test LABEL --keep-failed-instance' reruns the tests and holds the instance/,
    );
    expect(crossed('Missing credentials for test environment', ExitCode.CREDENTIALS)).toMatch(/OS_USERNAME/);
    expect(crossed('Instance is not accepting connection on 10.0.0.5:22', ExitCode.PORT_TIMEOUT)).toMatch(
      /--keep-failed-instance .*openstack console log show/,
    );
    expect(crossed('Forbidden', ExitCode.NOVA_FORBIDDEN)).toMatch(/role/);
    expect(crossed('Image abc not found', ExitCode.IMAGE_NOT_FOUND)).toMatch(/openstack image show/);
    // no step to offer: the message is all there is
    expect(crossed('Workflow x was cancelled', ExitCode.GENERIC)).toBeUndefined();
  });

  it('a cloud that cannot be reached or an upload that stalls (exit 1) gets the step of its class', () => {
    const crossed = (name: string) => nextStepOf({ exitCode: ExitCode.GENERIC, message: 'x', name });
    expect(crossed('OpenStackConnectionError')).toMatch(/worker host reaches it .*--debug/);
    expect(crossed('EndpointNotFoundError')).toMatch(/region_name and interface/);
    expect(crossed('UploadTimeoutError')).toMatch(/glance\.upload_timeout/);
    expect(crossed('UploadStalledError')).toMatch(/glance\.upload_stall_timeout/);
  });

  it('a host key mismatch (exit 71 too) is told apart from a port that never opened', () => {
    const own = new HostKeyMismatchError({ ip: '10.0.0.5', port: 22, serverId: 'srv-1' }, ['a'], 'b', 'the keys');
    expect(nextStepOf(own)).toMatch(/openstack console log show srv-1/);
    expect(nextStepOf(new DibctlError(own.message, ExitCode.HOST_KEY_MISMATCH))).toMatch(
      /openstack console log show SERVER/,
    );
  });

  it('a tool that is not installed points to dibctl doctor', () => {
    for (const message of [
      'disk-image-create failed: disk-image-create: not found',
      'disk-image-create --version failed: not found',
      'pytest is not installed (Debian: apt-get install python3-pytest)',
    ])
      expect(nextStepOf(new DibctlError(message, ExitCode.GENERIC))).toMatch(/^'dibctl doctor' checks the worker host/);
  });

  it('a step given where the error is made wins', () => {
    expect(nextStepOf(new DibctlError('x', ExitCode.CONFIG, { nextStep: 'do this' }))).toBe('do this');
  });
});
