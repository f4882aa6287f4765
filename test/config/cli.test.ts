import { runDibctl } from '../support/cli';
import { TempTree, envWithout } from './helpers';

const SECRET = 'cli-S3cret-pw';
const IMAGES =
  'img:\n  filename: img.qcow2\n  tests:\n    environment_name: lab\n    tests_list:\n      - shell: tests/smoke.sh\n';
const TEST = `lab:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n    password: ${SECRET}\n  nova:\n    flavor: m1\n`;
const UPLOAD = 'prod:\n  keystone:\n    cloud: prod\n';
const CLOUDS = `clouds:\n  prod:\n    auth:\n      auth_url: http://keystone.example:5000/v3\n      username: u\n      password: ${SECRET}\n      project_name: p\n`;

describe('dibctl validate and dibctl schema', () => {
  let tree: TempTree;
  let cwd: string;
  const env = () =>
    envWithout({ HOME: tree.path('home'), XDG_CONFIG_HOME: undefined, DIBCTL_SYSTEM_CONFIG_DIR: tree.path('no-etc') });
  beforeEach(() => {
    tree = new TempTree();
    cwd = tree.dir('work');
    tree.write('work/images.yaml', IMAGES);
    tree.write('work/test.yaml', TEST);
    tree.write('work/upload.yaml', UPLOAD);
    tree.write('work/clouds.yaml', CLOUDS);
    tree.write('work/tests/smoke.sh', '#!/bin/sh\ntrue\n');
  });
  afterEach(() => tree.remove());

  test('valid configs print what was read and exit 0', async () => {
    const r = await runDibctl(['validate'], { cwd, env: env() });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Using images.yaml');
    expect(r.stdout).toContain('test: 1 label (lab)');
    expect(r.stdout.trimEnd().endsWith('Configs have been validated.')).toBe(true);
    expect(r.code).toBe(0);
  });

  test('an invalid value exits 10 with file, line and key path', async () => {
    tree.write('work/upload.yaml', 'prod:\n  keystone: {}\n  glance:\n    min_ram: -1\n');
    const r = await runDibctl(['validate'], { cwd, env: env() });
    expect(r.code).toBe(10);
    expect(r.stderr).toContain('upload.yaml:4:14: prod.glance.min_ram: must be an integer >= 0 (got -1)');
    expect(r.stderr).not.toContain('    at ');
  });

  test('tests.ssh.key_type takes rsa or ed25519; anything else exits 10 naming the file, the key and the choices', async () => {
    tree.write('work/images.yaml', IMAGES + '    ssh:\n      username: debian\n      key_type: ed25519\n');
    expect((await runDibctl(['validate'], { cwd, env: env() })).code).toBe(0);
    tree.write('work/images.yaml', IMAGES + '    ssh:\n      username: debian\n      key_type: ecdsa\n');
    const r = await runDibctl(['validate'], { cwd, env: env() });
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/images\.yaml:\d+:\d+: img\.tests\.ssh\.key_type: must be one of: rsa, ed25519/);
    expect(r.stderr).not.toContain('    at ');
  });

  test('an unknown test environment and a missing test file exit 10', async () => {
    tree.write(
      'work/images.yaml',
      IMAGES.replace('environment_name: lab', 'environment_name: lab2').replace('smoke.sh', 'gone.sh'),
    );
    const r = await runDibctl(['validate'], { cwd, env: env() });
    expect(r.code).toBe(10);
    expect(r.stderr).toContain(
      "images.yaml:4:23: img.tests.environment_name: test environment 'lab2' is not defined in test.yaml (known: lab)",
    );
    expect(r.stderr).toContain('images.yaml:6:16: img.tests.tests_list[0].shell: "tests/gone.sh" does not exist');
  });

  test('explicit files are used alone', async () => {
    tree.write('work/alt/images.yaml', 'other:\n  filename: o.img\n');
    tree.write('work/images.yaml', 'broken: [\n');
    const r = await runDibctl(['validate', '--images-config', 'alt/images.yaml'], { cwd, env: env() });
    expect(r.stdout).toContain('Using alt/images.yaml');
    expect(r.code).toBe(0);
  });

  test('an unknown image label exits 11 listing the labels', async () => {
    const r = await runDibctl(['validate', 'nope'], { cwd, env: env() });
    expect(r.code).toBe(11);
    expect(r.stderr).toContain("Unable to find image 'nope' in images.yaml (known labels: img)");
  });

  test('missing credentials exit 12 without printing any secret', async () => {
    const r = await runDibctl(['validate', '--credentials'], { cwd, env: env() });
    expect(r.code).toBe(12);
    expect(r.stderr).toContain("Missing credentials for test environment 'lab' (test.yaml): username");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  test('complete credentials name the OS_* variables used, never their values', async () => {
    const r = await runDibctl(['validate', '--credentials'], {
      cwd,
      env: { ...env(), OS_USERNAME: 'operator', OS_PROJECT_NAME: 'images' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "test environment 'lab': Credentials: OS_USERNAME, OS_PROJECT_NAME from the environment, the keystone section",
    );
    expect(r.stdout).toContain("upload environment 'prod': Credentials: cloud 'prod' from clouds.yaml");
    expect(r.stdout).not.toContain('operator');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  test('schema prints a JSON Schema per kind', async () => {
    const r = await runDibctl(['schema', 'upload'], { cwd, env: env() });
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as {
      additionalProperties: { anyOf: unknown[]; properties: Record<string, unknown> };
    };
    expect(s.additionalProperties.anyOf).toEqual([{ required: ['keystone'] }, { required: ['external_upload'] }]);
    expect(Object.keys(s.additionalProperties.properties)).toContain('preprocessing');
    const all = JSON.parse((await runDibctl(['schema'], { cwd, env: env() })).stdout) as Record<string, unknown>;
    expect(Object.keys(all)).toEqual(['images', 'test', 'upload']);
  });
});
