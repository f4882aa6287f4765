/** upload.yaml `retire:` and `retry:` keys: validated like every other key, durations read in seconds. */
import { loadUploadEnvironment } from '../../config';
import { TempTree, envWithout } from '../config/helpers';
import { runDibctl } from '../support/cli';

const KEYSTONE = '  keystone: {auth_url: "http://127.0.0.1:1/v3", username: u, password: p, project_name: x}\n';

describe('retire keys in upload.yaml', () => {
  const tree = new TempTree('dibctl-retire-');
  afterAll(() => tree.remove());

  it('accepts the bounds themselves: a check every minute, a delete after 10 years', () => {
    const file = tree.write(
      'c/upload.yaml',
      `edge:\n${KEYSTONE}  retire: {check_every: 1m, delete_after: 3650d}\n  retry: {max_interval: 315360000}\n`,
    );
    const env = loadUploadEnvironment('edge', { uploadConfig: file, env: envWithout() });
    expect(env.retire).toEqual({ enabled: true, checkEverySeconds: 60, deleteAfterSeconds: 315360000, keep: 0 });
    expect(env.retry.maxIntervalSeconds).toBe(315360000);
  });

  it('reads durations with units or seconds and applies defaults', () => {
    const file = tree.write(
      'a/upload.yaml',
      `one:\n${KEYSTONE}  retire: {check_every: 30m, delete_after: 7d, keep: 2}\ntwo:\n${KEYSTONE}  retire: {check_every: 90}\nthree:\n${KEYSTONE}`,
    );
    const opts = { uploadConfig: file, env: envWithout() };
    expect(loadUploadEnvironment('one', opts).retire).toEqual({
      enabled: true,
      checkEverySeconds: 1800,
      deleteAfterSeconds: 604800,
      keep: 2,
    });
    expect(loadUploadEnvironment('two', opts).retire).toEqual({
      enabled: true,
      checkEverySeconds: 90,
      deleteAfterSeconds: 0,
      keep: 0,
    });
    expect(loadUploadEnvironment('three', opts).retire).toEqual({
      enabled: true,
      checkEverySeconds: 21600,
      deleteAfterSeconds: 0,
      keep: 0,
    });
  });

  it.each([
    ['an unknown unit', 'check_every: 6x', 'prod.retire.check_every: must be a duration'],
    ['a negative keep', 'keep: -1', 'prod.retire.keep: must be an integer >= 0'],
    ['a misspelt key', 'delete-after: 7d', 'prod.retire.delete-after'],
    ['checks every 30 seconds', 'check_every: 30s', 'prod.retire.check_every: must be at least 1 minute (60 seconds)'],
    ['checks every 0 seconds', 'check_every: 0', 'prod.retire.check_every: must be at least 1 minute (60 seconds)'],
    [
      'checks every 8.6e12 seconds',
      'check_every: 8640000000000',
      'prod.retire.check_every: must be at most 10 years (315360000 seconds)',
    ],
    [
      'keeps images for 100000000 days',
      'delete_after: 100000000d',
      'prod.retire.delete_after: must be at most 10 years (315360000 seconds)',
    ],
  ])('refuses %s with exit 10 and the key path', async (_what, setting, says) => {
    const file = tree.write(`b/${setting.replace(/\W/g, '')}.yaml`, `prod:\n${KEYSTONE}  retire: {${setting}}\n`);
    const r = await runDibctl(['validate', '--upload-config', file], { cwd: tree.root, env: envWithout() });
    expect(r.code).toBe(10);
    expect(r.stderr).toContain(says);
  });
});

describe('retry keys in upload.yaml', () => {
  const tree = new TempTree('dibctl-retry-');
  afterAll(() => tree.remove());

  it('reads attempts and the longest pause, with defaults', () => {
    const file = tree.write(
      'a/upload.yaml',
      `one:\n${KEYSTONE}  retry: {attempts: 3, upload_attempts: 2, max_interval: 1m}\ntwo:\n${KEYSTONE}  retry: {max_interval: 0}\nthree:\n${KEYSTONE}`,
    );
    const opts = { uploadConfig: file, env: envWithout() };
    expect(loadUploadEnvironment('one', opts).retry).toEqual({
      attempts: 3,
      uploadAttempts: 2,
      maxIntervalSeconds: 60,
    });
    // a pause of at least a second, so a cloud that is down is not hammered
    expect(loadUploadEnvironment('two', opts).retry).toEqual({
      attempts: 12,
      uploadAttempts: 6,
      maxIntervalSeconds: 1,
    });
    expect(loadUploadEnvironment('three', opts).retry).toEqual({
      attempts: 12,
      uploadAttempts: 6,
      maxIntervalSeconds: 30,
    });
  });

  it.each([
    ['zero attempts', 'attempts: 0', 'prod.retry.attempts: must be an integer >= 1'],
    ['fractional upload attempts', 'upload_attempts: 1.5', 'prod.retry.upload_attempts: must be an integer >= 1'],
    ['a pause that is not a duration', 'max_interval: soon', 'prod.retry.max_interval: must be a duration'],
    ['a misspelt key', 'max-attempts: 3', 'prod.retry.max-attempts'],
    [
      'a pause longer than 10 years',
      'max_interval: 522w',
      'prod.retry.max_interval: must be at most 10 years (315360000 seconds)',
    ],
  ])('refuses %s with exit 10 and the key path', async (_what, setting, says) => {
    const file = tree.write(`b/${setting.replace(/\W/g, '')}.yaml`, `prod:\n${KEYSTONE}  retry: {${setting}}\n`);
    const r = await runDibctl(['validate', '--upload-config', file], { cwd: tree.root, env: envWithout() });
    expect(r.code).toBe(10);
    expect(r.stderr).toContain(says);
  });
});
