/**
 * What a cloud command tells the operator on stderr, as dibctl did: which
 * OS_* variables (names only) or which keystone section its credentials came
 * from, and with --debug every OpenStack request its in-process worker makes
 * (method, URL, status, time), with no password, secret or token shown.
 * The built CLI against a Temporal dev server on which no worker polls (so
 * the command runs its own) and the OpenStack emulator.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Emulator, startEmulator } from '../../emulator';
import { envWithout, TempTree } from '../config/helpers';
import { CliResult, cleanTemporalEnv, runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';

jest.setTimeout(120_000);

const temporal = useTemporal();
let emu: Emulator;
let tree: TempTree;

beforeAll(async () => {
  emu = await startEmulator({ regions: ['RegionOne'] });
  tree = new TempTree('dibctl-trace-');
  tree.write('images.yaml', 'base:\n  filename: base.qcow2\n  glance: {name: Traced Image}\n');
  const a = emu.admin;
  tree.write(
    'upload.yaml',
    [
      // everything from OS_* variables
      'from-env:',
      '  keystone: {}',
      // everything from the file
      'from-file:',
      '  keystone:',
      `    auth_url: ${emu.authUrl}`,
      `    username: ${a.username}`,
      `    password: ${a.password}`,
      `    project_name: ${a.projectName}`,
      `    user_domain_name: ${a.userDomainName}`,
      `    project_domain_name: ${a.projectDomainName}`,
      '    region_name: RegionOne',
      // the password from OS_PASSWORD, the rest from the file
      'mixed:',
      '  keystone:',
      `    auth_url: ${emu.authUrl}`,
      `    username: ${a.username}`,
      `    project_name: ${a.projectName}`,
      `    user_domain_name: ${a.userDomainName}`,
      `    project_domain_name: ${a.projectDomainName}`,
      '',
    ].join('\n'),
  );
  tree.write(
    'test.yaml',
    `lab:\n  keystone: {}\n  nova: {flavor: m1.tiny, nics: [{net_id: ${emu.networks.RegionOne.id}}]}\n`,
  );
  writeFileSync(tree.path('base.qcow2'), randomBytes(256 * 1024 + 3));
}, 120_000);

afterAll(async () => {
  await emu?.stop();
  tree?.remove();
});

function osEnvironment(): NodeJS.ProcessEnv {
  const a = emu.admin;
  return {
    OS_AUTH_URL: emu.authUrl,
    OS_USERNAME: a.username,
    OS_PASSWORD: a.password,
    OS_PROJECT_NAME: a.projectName,
    OS_USER_DOMAIN_NAME: a.userDomainName,
    OS_PROJECT_DOMAIN_NAME: a.projectDomainName,
    OS_REGION_NAME: 'RegionOne',
  };
}

function dibctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const t = temporal();
  return runDibctl(args, {
    cwd: tree.root,
    env: envWithout(
      cleanTemporalEnv({ TEMPORAL_ADDRESS: t.server.address, TEMPORAL_NAMESPACE: t.server.namespace, ...env }),
    ),
    timeoutMs: 110_000,
  });
}

/** Every token the emulated Keystone has issued so far. */
function issuedTokens(): string[] {
  return emu.state().tokens.map((t) => t.id);
}

function usingLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('Using '));
}

describe('credentials named, requests traced', () => {
  it('--debug upload traces every Keystone and Glance request with status and time, and shows no secret', async () => {
    const r = await dibctl(['--debug', '--json', 'upload', 'base', 'from-env'], osEnvironment());
    expect(r.code).toBe(0);
    const trace = r.stderr.split('\n').filter((l) => l.startsWith('openstack: '));
    const url = emu.authUrl.replace(/\/v3$/, '').replace(/[.]/g, '\\.');
    const answered = (status: number, method: string, path: string) =>
      new RegExp(`^openstack: RESP: ${status} ${method} ${url}${path}(\\?\\S*)? \\(\\d+ ms\\)`);
    // Keystone: the token, with its X-Subject-Token header hidden
    expect(trace).toContainEqual(expect.stringMatching(answered(201, 'POST', '/v3/auth/tokens')));
    expect(trace.join('\n')).toMatch(/"x-subject-token":"\*\*\*"/);
    // Glance: find by build id, create, the image before its data, the data, the finished image, the update
    const image = `/image/RegionOne/v2/images`;
    expect(trace).toContainEqual(expect.stringMatching(answered(200, 'GET', image)));
    expect(trace).toContainEqual(expect.stringMatching(answered(201, 'POST', image)));
    expect(trace).toContainEqual(expect.stringMatching(answered(204, 'PUT', `${image}/[0-9a-f-]+/file`)));
    expect(trace).toContainEqual(expect.stringMatching(answered(200, 'PATCH', `${image}/[0-9a-f-]+`)));
    expect(trace.join('\n')).toMatch(/"X-Auth-Token":"\*\*\*"/);
    // the password and every token stay hidden, in the trace and everywhere else
    expect(r.stderr + r.stdout).not.toContain(emu.admin.password);
    for (const token of issuedTokens()) expect(r.stderr + r.stdout).not.toContain(token);
    // and the credentials came from the environment, by name only
    expect(usingLines(r.stderr)).toEqual([
      'Using OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME from the environment',
    ]);
  });

  it('--debug shows the refused authentication (401) and exits 20, without the password', async () => {
    const wrong = 'not-the-admin-password';
    const r = await dibctl(['--debug', 'upload', 'base', 'from-env'], { ...osEnvironment(), OS_PASSWORD: wrong });
    expect(r.code).toBe(20);
    expect(r.stderr).toMatch(/^openstack: RESP: 401 POST \S+\/v3\/auth\/tokens \(\d+ ms\)/m);
    expect(r.stderr).toMatch(/^openstack: REQ: POST \S+\/v3\/auth\/tokens .*"password":"\*\*\*"/m);
    expect(r.stderr).not.toContain(wrong);
    expect(r.stderr).toMatch(/^Error: .*Keystone answered 401/m);
  });

  it('test names the OS_* variables it uses and traces its requests with --debug', async () => {
    const r = await dibctl(['--debug', 'test', 'base', '--environment', 'lab', '--upload-only'], osEnvironment());
    expect(r.code).toBe(0);
    expect(usingLines(r.stderr)).toEqual([
      'Using OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME, OS_REGION_NAME from the environment',
    ]);
    // the test image is uploaded (and, with --upload-only, kept)
    expect(r.stderr).toMatch(/^openstack: RESP: 204 PUT \S+\/v2\/images\/[0-9a-f-]+\/file \(\d+ ms\)/m);
    expect(r.stderr + r.stdout).not.toContain(emu.admin.password);
    for (const token of issuedTokens()) expect(r.stderr + r.stdout).not.toContain(token);
  });

  it('without --debug no request is traced', async () => {
    const r = await dibctl(['rotate', 'from-env', '--dry-run'], osEnvironment());
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/^openstack: /m);
  });

  it("names the config file's keystone section, or the OS_* variables used beside it", async () => {
    const file = await dibctl(['rotate', 'from-file', '--dry-run']);
    expect(file.code).toBe(0);
    expect(usingLines(file.stderr)).toEqual([
      `Using the keystone section of upload environment 'from-file' (upload.yaml)`,
    ]);

    const mixed = await dibctl(['mark-obsolete', 'mixed', 'no-such-image'], {
      OS_PASSWORD: emu.admin.password,
      OS_REGION_NAME: 'RegionOne',
    });
    expect(usingLines(mixed.stderr)).toEqual([
      `Using OS_PASSWORD, OS_REGION_NAME from the environment and the keystone section of upload environment 'mixed' (upload.yaml)`,
    ]);
    expect(mixed.stderr).not.toContain(emu.admin.password);
    // an unknown image: Glance's 404, exit 50
    expect(mixed.code).toBe(50);
  });
});
