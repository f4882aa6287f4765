import path from 'node:path';
import { CredentialsError, buildCloudAuth, credentialsUsedLine, resolveCredentials } from '../../config';
import { TempTree } from './helpers';

const SECRET = 'Sup3r-S3cret-Value';
const APP_SECRET = 'app-cred-S3cret';

function build(
  section: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
  clouds?: { cwd: string; home: string; systemDir: string },
) {
  return buildCloudAuth({ what: "test environment 'lab' (test.yaml)", section, env, clouds });
}

function failure(fn: () => unknown): CredentialsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CredentialsError) return err;
    throw err;
  }
  throw new Error('expected a CredentialsError');
}

describe('keystone section', () => {
  test('aliases are matched case-insensitively into Keystone v2.0 credentials', () => {
    const r = build({ OS_AUTH_URL: 'http://k:5000/v2.0', Tenant: 'proj', USER: 'bob', Pass: SECRET, api_version: 2 });
    expect(r.auth).toEqual({
      authUrl: 'http://k:5000/v2.0',
      identityApiVersion: '2.0',
      username: 'bob',
      password: SECRET,
      projectName: 'proj',
    });
  });

  test('Keystone v3 gets "default" domains unless given', () => {
    expect(build({ url: 'http://k/v3', user_name: 'bob', password: SECRET, project_name: 'p' }).auth).toMatchObject({
      userDomainName: 'default',
      projectDomainName: 'default',
    });
    expect(
      build({
        url: 'http://k/v3',
        user: 'bob',
        password: SECRET,
        project: 'p',
        user_domain_id: 'd1',
        tenant_domain: 'Dom',
      }).auth,
    ).toMatchObject({
      userDomainId: 'd1',
      projectDomainName: 'Dom',
    });
  });

  test('OS_* variables override the file and are named, never their values', () => {
    const r = build(
      { auth_url: 'http://file/v3', username: 'file-user', password: 'file-pass', project: 'p' },
      { OS_USERNAME: 'env-user', OS_PASSWORD: SECRET, OS_REGION_NAME: 'RegionTwo' },
    );
    expect(r.auth).toMatchObject({
      authUrl: 'http://file/v3',
      username: 'env-user',
      password: SECRET,
      regionName: 'RegionTwo',
    });
    expect(r.usedEnvironment).toEqual(['OS_USERNAME', 'OS_PASSWORD', 'OS_REGION_NAME']);
    expect(credentialsUsedLine(r)).toBe(
      "Using OS_USERNAME, OS_PASSWORD, OS_REGION_NAME from the environment and the keystone section of test environment 'lab' (test.yaml)",
    );
  });

  test('a keystone section every value of which an OS_* variable replaces goes unmentioned', () => {
    const r = build(
      { auth_url: 'http://file/v3', username: 'file-user', password: 'file-pass', project: 'p' },
      { OS_AUTH_URL: 'http://env/v3', OS_USERNAME: 'env-user', OS_PASSWORD: SECRET, OS_PROJECT_NAME: 'q' },
    );
    const line = credentialsUsedLine(r);
    expect(line).toBe('Using OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME from the environment');
    expect(line).not.toContain(SECRET);
    expect(credentialsUsedLine(build({ auth_url: 'http://f/v3', username: 'u', password: SECRET, project: 'p' }))).toBe(
      "Using the keystone section of test environment 'lab' (test.yaml)",
    );
  });

  test('application credentials need no user, password or project', () => {
    const r = build({
      auth_url: 'http://k/v3',
      application_credential_id: 'ac1',
      application_credential_secret: APP_SECRET,
    });
    expect(r.auth).toEqual({
      authUrl: 'http://k/v3',
      applicationCredentialId: 'ac1',
      applicationCredentialSecret: APP_SECRET,
    });
  });

  test('interface, cacert and insecure are normalised', () => {
    const r = build({
      auth_url: 'http://k/v3',
      username: 'u',
      password: SECRET,
      project_id: 'pid',
      endpoint_type: 'internalURL',
      os_cacert: '/ca.pem',
      insecure: 'yes',
    });
    expect(r.auth).toMatchObject({ interface: 'internal', cacert: '/ca.pem', insecure: true, projectId: 'pid' });
  });

  test('missing values are exit 12 naming each missing value and every alias accepted', () => {
    const err = failure(() => build({ password: SECRET }));
    expect(err.exitCode).toBe(12);
    expect(err.message).toContain("Missing credentials for test environment 'lab' (test.yaml)");
    expect(err.message).toContain('auth_url (keystone keys os_auth_url, auth_url, url, auth_uri, uri; or OS_AUTH_URL)');
    expect(err.message).toContain(
      'username (keystone keys os_username, username, user_name, user, os_user; or OS_USERNAME',
    );
    expect(err.message).toContain(
      'project_name (keystone keys os_tenant_name, tenant_name, tenant, project, project_name, os_project_name',
    );
    expect(err.message).not.toContain('password (');
    expect(err.message).not.toContain(SECRET);
  });

  test('an invalid OS_INTERFACE is exit 12 without echoing other values', () => {
    const err = failure(() =>
      build({ auth_url: 'http://k', username: 'u', password: SECRET, project: 'p' }, { OS_INTERFACE: 'sideways' }),
    );
    expect(err.exitCode).toBe(12);
    expect(err.message).toContain('interface must be public, internal or admin');
    expect(err.message).not.toContain(SECRET);
  });
});

describe('clouds.yaml and secure.yaml, found where openstacksdk looks', () => {
  let tree: TempTree;
  let where: { cwd: string; home: string; systemDir: string };
  const cloudsYaml = (name: string, url: string) =>
    `clouds:\n  ${name}:\n    auth:\n      auth_url: ${url}\n      username: cu\n      project_name: cp\n      user_domain_name: Users\n    region_name: R1\n    interface: internal\n    identity_api_version: 3\n    verify: false\n    image_endpoint_override: http://glance.local:9292\n`;
  beforeEach(() => {
    tree = new TempTree();
    where = { cwd: tree.dir('work'), home: tree.dir('home'), systemDir: tree.dir('etc-openstack') };
  });
  afterEach(() => tree.remove());

  test('a cloud named by keystone.cloud is read from ~/.config/openstack with secure.yaml merged in', () => {
    tree.write('home/.config/openstack/clouds.yaml', cloudsYaml('lab', 'http://home/v3'));
    tree.write('home/.config/openstack/secure.yaml', `clouds:\n  lab:\n    auth:\n      password: ${SECRET}\n`);
    const r = build({ cloud: 'lab' }, {}, where);
    expect(r.auth).toEqual({
      authUrl: 'http://home/v3',
      identityApiVersion: '3',
      username: 'cu',
      password: SECRET,
      projectName: 'cp',
      userDomainName: 'Users',
      projectDomainName: 'default',
      regionName: 'R1',
      interface: 'internal',
      insecure: true,
      endpointOverrides: { image: 'http://glance.local:9292' },
    });
    expect(r.cloud).toEqual({
      name: 'lab',
      file: path.join(where.home, '.config/openstack/clouds.yaml'),
      secureFile: path.join(where.home, '.config/openstack/secure.yaml'),
    });
  });

  test('the working directory comes before the user directory, which comes before /etc/openstack', () => {
    tree.write('etc-openstack/clouds.yaml', cloudsYaml('lab', 'http://etc/v3'));
    expect(build({ cloud: 'lab', password: 'x' }, {}, where).auth.authUrl).toBe('http://etc/v3');
    tree.write('home/.config/openstack/clouds.yaml', cloudsYaml('lab', 'http://home/v3'));
    expect(build({ cloud: 'lab', password: 'x' }, {}, where).auth.authUrl).toBe('http://home/v3');
    tree.write('work/clouds.yaml', cloudsYaml('lab', 'http://cwd/v3'));
    expect(build({ cloud: 'lab', password: 'x' }, {}, where).auth.authUrl).toBe('http://cwd/v3');
  });

  test('OS_CLIENT_CONFIG_FILE comes first and OS_CLOUD chooses the cloud over keystone.cloud', () => {
    tree.write('work/clouds.yaml', cloudsYaml('lab', 'http://cwd/v3'));
    const file = tree.write(
      'elsewhere/my-clouds.yaml',
      cloudsYaml('lab', 'http://explicit/v3') + cloudsYaml('prod', 'http://prod/v3').replace('clouds:\n', ''),
    );
    const r = build({ cloud: 'lab', password: 'x' }, { OS_CLIENT_CONFIG_FILE: file, OS_CLOUD: 'prod' }, where);
    expect(r.auth.authUrl).toBe('http://prod/v3');
    expect(r.usedEnvironment).toEqual(['OS_CLOUD']);
    expect(credentialsUsedLine(r)).toBe(
      `Using OS_CLOUD from the environment, cloud 'prod' from ${file} and the keystone section of test environment 'lab' (test.yaml)`,
    );
  });

  test('the keystone section overrides the cloud and OS_* override both', () => {
    tree.write('work/clouds.yaml', cloudsYaml('lab', 'http://cwd/v3'));
    const r = build(
      { cloud: 'lab', password: 'x', region_name: 'FromSection', username: 'section-user' },
      { OS_USERNAME: 'env-user' },
      where,
    );
    expect(r.auth).toMatchObject({ regionName: 'FromSection', username: 'env-user' });
  });

  test('an unknown cloud is exit 12 listing the clouds defined', () => {
    tree.write('work/clouds.yaml', cloudsYaml('lab', 'http://cwd/v3'));
    const err = failure(() => build({ cloud: 'nope' }, {}, where));
    expect(err.exitCode).toBe(12);
    expect(err.message).toBe("Cloud 'nope' is not in clouds.yaml (clouds: lab)");
  });

  test('no clouds.yaml anywhere is exit 12 naming the places searched', () => {
    const err = failure(() => build({ cloud: 'lab' }, {}, where));
    expect(err.message).toContain(path.join(where.home, '.config/openstack/clouds.yaml'));
    expect(err.message).toContain(path.join(where.systemDir, 'clouds.yaml'));
  });

  test('resolveCredentials reads the environment from test.yaml and uses its TLS settings and glance endpoint', () => {
    tree.write(
      'work/test.yaml',
      `lab:\n  ssl_ca_path: certs/ca.pem\n  glance:\n    endpoint: https://glance.example:9292\n  keystone:\n    cloud: lab\n  nova:\n    flavor: m1\n`,
    );
    tree.write(
      'work/clouds.yaml',
      cloudsYaml('lab', 'http://cwd/v3')
        .replace('    verify: false\n', '')
        .replace('    image_endpoint_override: http://glance.local:9292\n', ''),
    );
    const r = resolveCredentials('test', 'lab', {
      cwd: where.cwd,
      systemDir: tree.path('no-etc'),
      env: { OS_PASSWORD: SECRET },
      clouds: { home: where.home, systemDir: where.systemDir },
    });
    expect(r.auth).toMatchObject({
      authUrl: 'http://cwd/v3',
      password: SECRET,
      cacert: path.join(where.cwd, 'certs/ca.pem'),
      endpointOverrides: { image: 'https://glance.example:9292' },
    });
    expect(r.auth.insecure).toBeUndefined();
  });
});

describe('secrets never appear in messages', () => {
  let tree: TempTree;
  beforeAll(() => (tree = new TempTree()));
  afterAll(() => tree.remove());

  const attempts: Array<[string, string]> = [
    ['a password of the wrong type', `lab:\n  keystone:\n    password: [${SECRET}]\n  nova:\n    flavor: m1\n`],
    [
      'a password next to an unknown key',
      `lab:\n  keystone:\n    password: ${SECRET}\n    pasword: ${SECRET}\n  nova:\n    flavor: m1\n`,
    ],
    ['a password in a broken file', `lab:\n  keystone:\n    password: "${SECRET}\n  nova: [\n`],
    [
      'a password repeated',
      `lab:\n  keystone:\n    password: ${SECRET}\n    password: ${SECRET}\n  nova:\n    flavor: m1\n`,
    ],
    [
      'a password as a number',
      `lab:\n  keystone:\n    password: ${SECRET}\n    api_version: ${SECRET}\n  nova:\n    flavor: m1\n`,
    ],
    [
      'a password with missing values',
      `lab:\n  keystone:\n    password: ${SECRET}\n    application_credential_secret: ${APP_SECRET}\n  nova:\n    flavor: m1\n`,
    ],
  ];
  test.each(attempts)('%s', (_name, yaml) => {
    const dir = tree.dir(_name.replace(/\W+/g, '-'));
    tree.write(path.relative(tree.root, path.join(dir, 'test.yaml')), yaml);
    let message = '';
    try {
      resolveCredentials('test', 'lab', { cwd: dir, systemDir: tree.path('no-etc'), env: {} });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toBe('');
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain(APP_SECRET);
  });
});
