/** upload.yaml `retire:` keys: validated like every other key, durations read in seconds. */
import { loadUploadEnvironment } from '../../config';
import { TempTree, envWithout } from '../config/helpers';
import { runDibctl } from '../support/cli';

const KEYSTONE = '  keystone: {auth_url: "http://127.0.0.1:1/v3", username: u, password: p, project_name: x}\n';

describe('retire keys in upload.yaml', () => {
  const tree = new TempTree('dibctl-retire-');
  afterAll(() => tree.remove());

  it('reads durations with units or seconds and applies defaults', () => {
    const file = tree.write('a/upload.yaml', `one:\n${KEYSTONE}  retire: {check_every: 30m, delete_after: 7d, keep: 2}\ntwo:\n${KEYSTONE}  retire: {check_every: 90}\nthree:\n${KEYSTONE}`);
    const opts = { uploadConfig: file, env: envWithout() };
    expect(loadUploadEnvironment('one', opts).retire).toEqual({ checkEverySeconds: 1800, deleteAfterSeconds: 604800, keep: 2 });
    expect(loadUploadEnvironment('two', opts).retire).toEqual({ checkEverySeconds: 90, deleteAfterSeconds: 0, keep: 0 });
    expect(loadUploadEnvironment('three', opts).retire).toEqual({ checkEverySeconds: 21600, deleteAfterSeconds: 0, keep: 0 });
  });

  it.each([
    ['an unknown unit', 'check_every: 6x', 'prod.retire.check_every: must be a duration'],
    ['a negative keep', 'keep: -1', 'prod.retire.keep: must be an integer >= 0'],
    ['a misspelt key', 'delete-after: 7d', 'prod.retire.delete-after'],
  ])('refuses %s with exit 10 and the key path', async (_what, setting, says) => {
    const file = tree.write(`b/${setting.replace(/\W/g, '')}.yaml`, `prod:\n${KEYSTONE}  retire: {${setting}}\n`);
    const r = await runDibctl(['validate', '--upload-config', file], { cwd: tree.root, env: envWithout() });
    expect(r.code).toBe(10);
    expect(r.stderr).toContain(says);
  });
});
