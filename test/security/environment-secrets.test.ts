/**
 * Whatever a command prints, the values of secret-named variables — its own
 * environment's and the worker's (passwords, tokens, credential secrets, keys)
 * — never reach its captured output, failure messages or reports; names that
 * hold a path are left alone, and `dibctl build` names secrets without showing them.
 */
import { runCapturing } from '../../activities/process';
import { environmentSecrets, isSecretName } from '../../activities/process/scrub';

describe('secrets in the environment of a command', () => {
  it('scrubs the values of its secret-named variables from everything it prints (a test that runs env)', async () => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      DIB_DEV_USER_PASSWORD: 'dib-user-pw-7731',
      OS_PASSWORD: 'os-pw-5512',
      MY_API_TOKEN: 'tok-99813',
      DIBCTL_SSH_PRIVATE_KEY: '/tmp/keys/id_rsa',
      GREETING: 'hello',
    };
    const r = await runCapturing('env; echo "$OS_PASSWORD" >&2; exit 3', { env, limit: 64 * 1024 });
    expect(r.code).toBe(3);
    for (const secret of ['dib-user-pw-7731', 'os-pw-5512', 'tok-99813']) expect(r.output).not.toContain(secret);
    expect(r.output).toContain('OS_PASSWORD=***');
    // what is no secret stays readable
    expect(r.output).toContain('GREETING=hello');
    expect(r.output).toContain('DIBCTL_SSH_PRIVATE_KEY=/tmp/keys/id_rsa');
  });

  it("scrubs the worker's own secrets even when the command was given a clean environment", async () => {
    process.env.DIBCTL_PROBE_SECRET = 'worker-only-secret-4471';
    try {
      const r = await runCapturing('echo worker-only-secret-4471', {
        env: { PATH: process.env.PATH ?? '' },
        limit: 4096,
      });
      expect(r.output).not.toContain('worker-only-secret-4471');
    } finally {
      delete process.env.DIBCTL_PROBE_SECRET;
    }
  });

  it('knows secret names by PASSWORD, SECRET, TOKEN or KEY, and not file, path or directory names', () => {
    for (const name of [
      'OS_PASSWORD',
      'DIB_DEV_USER_PASSWORD',
      'TEMPORAL_API_KEY',
      'DIBCTL_PAYLOAD_KEY',
      'OS_APPLICATION_CREDENTIAL_SECRET',
      'GITHUB_TOKEN',
    ]) {
      expect(isSecretName(name)).toBe(true);
    }
    for (const name of [
      'DIBCTL_PAYLOAD_KEY_FILE',
      'DIBCTL_SSH_PRIVATE_KEY',
      'SSL_KEY_PATH',
      'OS_USERNAME',
      'ELEMENTS_PATH',
      'KEY_DIR',
    ]) {
      expect(isSecretName(name)).toBe(false);
    }
    expect(environmentSecrets({ A_TOKEN: 'x1', PLAIN: 'y' }, { B_PASSWORD: 'z2' })).toEqual(['x1', 'z2']);
  });
});
