/**
 * An upload environment that publishes only through external_upload needs no
 * keystone section (dibctl's own example has one): its commands bring their
 * own credentials, nothing is obsoleted there (the output says so), and the
 * commands that need its cloud refuse it before starting anything.
 */
import { readFileSync } from 'node:fs';
import { usePublishFixture } from './fixture';

jest.setTimeout(120_000);

const f = usePublishFixture();

describe('an upload environment with external_upload and no keystone section', () => {
  const copy = () => f().tree.path('external-copy.qcow2');
  const seen = () => f().tree.path('external-env.txt');
  beforeAll(() =>
    f().writeUploadConfig(
      [
        'mirror:',
        '  external_upload:',
        `    - cmdline: "cp %(input_filename)s ${copy()}"`,
        `    - cmdline: "echo auth=\${OS_AUTH_URL:-none} password=\${OS_PASSWORD:-none} > ${seen()}"`,
      ].join('\n'),
    ),
  );
  afterAll(() => f().writeUploadConfig());

  it('validates, and an environment with neither keystone nor external_upload is refused', async () => {
    // validate reads every kind of config
    f().tree.write(
      'test.yaml',
      `lab:\n  keystone: { auth_url: "${f().emu.authUrl}" }\n  nova: { flavor: m1.tiny, nics: [{ net_id: ${f().emu.networks.RegionOne.id} }] }\n`,
    );
    const valid = await f().cli(['validate']);
    expect(valid.stderr).toBe('');
    expect(valid.code).toBe(0);
    f().writeUploadConfig('nowhere:\n  glance: { name: x }');
    const r = await f().cli(['validate']);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(
      /nowhere\.keystone: is required \(only an environment that publishes with external_upload alone may leave it out\)/,
    );
    f().writeUploadConfig(
      [
        'mirror:',
        '  external_upload:',
        `    - cmdline: "cp %(input_filename)s ${copy()}"`,
        `    - cmdline: "echo auth=\${OS_AUTH_URL:-none} password=\${OS_PASSWORD:-none} > ${seen()}"`,
      ].join('\n'),
    );
  });

  it('upload runs the commands without credentials of dibctl and says nothing was obsoleted', async () => {
    const before = f().images().length;
    const r = await f().cli(['upload', 'base', 'mirror']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(readFileSync(copy())).toEqual(readFileSync(f().tree.path('base.qcow2')));
    expect(readFileSync(seen(), 'utf8').trim()).toBe('auth=none password=none');
    expect(r.stdout).toContain("mirror: external upload of 'Base Image' done");
    expect(r.stdout).toContain(
      "mirror: older copies of 'Base Image' were not obsoleted: the environment has no keystone section",
    );
    expect(f().images().length).toBe(before);
  });

  it('run publishes there too, next to an environment with a cloud', async () => {
    const r = await f().cli([
      'run',
      'base',
      '--no-build',
      '--no-test',
      '--upload-env',
      'mirror',
      '--upload-env',
      'one',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("mirror: external upload of 'Base Image' done");
    expect(r.stdout).toMatch(/one: image \S+ 'Base Image' uploaded/);
  });

  it('rotate and mark-obsolete refuse it with exit 12 before starting anything', async () => {
    for (const args of [
      ['rotate', 'mirror'],
      ['mark-obsolete', 'mirror', '6f1c3a52-0000-4000-8000-000000000001'],
    ]) {
      const r = await f().cli(args);
      expect(r.code).toBe(12);
      expect(r.stderr).toMatch(
        /upload environment 'mirror' \(.*upload\.yaml\) has no keystone section \(it publishes through external_upload alone\)/,
      );
    }
  });
});
