/**
 * A workflow acts only where the command that started it resolved the
 * environment: a worker whose config files or OS_* variables lead to another
 * cloud, region or project refuses, says why, and changes nothing.
 */
import { checkTarget, targetOf } from '../../activities/cloud';
import { usePublishFixture } from './fixture';

jest.setTimeout(120_000);

const f = usePublishFixture();

describe('the target of a workflow', () => {
  const auth = {
    authUrl: 'https://keystone.example:5000/v3/',
    regionName: 'RegionOne',
    projectName: 'images',
    projectDomainName: 'Default',
    username: 'publisher',
    password: 'not part of it',
  };

  it('is the Keystone URL, region and project the credentials lead to, without secrets', () => {
    const t = targetOf(auth);
    expect(t).toEqual({
      authUrl: 'https://keystone.example:5000/v3',
      region: 'RegionOne',
      project: 'images',
      projectDomain: 'Default',
    });
    expect(JSON.stringify(t)).not.toContain('not part of it');
  });

  it('refuses credentials that lead to another project or region, naming both', () => {
    const ref = { kind: 'upload' as const, environment: 'prod', target: targetOf(auth) };
    expect(() => checkTarget(ref, { ...auth })).not.toThrow();
    expect(() => checkTarget(ref, { ...auth, projectName: 'someone-else' })).toThrow(
      /upload environment 'prod' resolves on worker host .* to https:\/\/keystone\.example:5000\/v3, region RegionOne, project someone-else \(domain Default\), but the workflow was started for .*project images .*\(project differ\)/,
    );
    expect(() => checkTarget(ref, { ...auth, regionName: 'RegionTwo' })).toThrow(/region differ/);
    // workflows started before targets were recorded act as before
    expect(() => checkTarget({ kind: 'upload', environment: 'prod' }, { ...auth, projectName: 'x' })).not.toThrow();
  });

  it('an upload whose worker resolves another project fails with exit 12 and uploads nothing', async () => {
    // the command's OS_PROJECT_NAME (which wins over the config) leads to the user's project;
    // the suite's worker has no OS_* variables and resolves the config's admin project
    const before = f().images().length;
    const r = await f().cli(['upload', 'base', 'one'], { OS_PROJECT_NAME: f().emu.user.projectName });
    expect(r.code).toBe(12);
    expect(r.stderr).toMatch(
      new RegExp(
        `upload environment 'one' resolves on worker host .* project ${f().emu.admin.projectName}.*but the workflow was started for .*project ${f().emu.user.projectName}`,
      ),
    );
    expect(f().images().length).toBe(before);
  });

  it('a run whose worker agrees with the command publishes as before', async () => {
    const r = await f().cli(['run', 'base', '--no-build', '--no-test', '--upload-env', 'one']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^one: image \S+ 'Base Image' uploaded/m);
  });
});
