/**
 * No secret reaches Temporal or the logs: every dibctl command runs with
 * --debug against an emulator whose passwords and application credential are
 * distinctive, with private keys generated for the run; then every workflow
 * history of the namespace (all events, payloads decoded), the answers of
 * running workflows, the CLI's output and the worker's logs are searched for
 * the secrets and for private-key material.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Emulator, startEmulator } from '../../emulator';
import { seedState } from '../../emulator/seed';
import { hexId, saveState } from '../../emulator/state';
import { connectCloud } from '../../openstack';
import { DevServer, startDevServer } from '../../temporal/dev-server';
import { WorkerProcesses, runEnv } from '../chaos/processes';
import { CliResult, runDibctl, runDibctlInTerminal } from '../support/cli';
import { Haystack, KEY_MARKERS, Needle, scan, textOf, workflowHaystacks } from './scan';
import { doctorWorkflow, imageTestWorkflow } from '../../workflows';

/** Every text file under `root` (missing: none). */
function filesUnder(root: string): Haystack[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true, withFileTypes: true }).flatMap((e) => {
    if (!e.isFile()) return [];
    const file = path.join(e.parentPath, e.name);
    const bytes = fs.readFileSync(file);
    return bytes.subarray(0, 4096).includes(0)
      ? []
      : [{ source: `file ${path.relative(root, file)}`, text: bytes.toString('utf8') }];
  });
}

const distinctive = (what: string) => `Zq${what}${randomBytes(9).toString('hex')}Xv`;

const ADMIN_PASSWORD = distinctive('AdminPw');
const DEMO_PASSWORD = distinctive('DemoPw');
const APP_SECRET = distinctive('AppCredSecret');
const CLOUDS_PASSWORD = distinctive('CloudsYamlPw');
/** Config values that stay on the worker's host: a dib variable, user data, the tests' variables. */
const DIB_PASSWORD = distinctive('DibDevUserPw');
const USERDATA_PASSWORD = distinctive('UserdataPw');
const TEST_TOKEN = distinctive('TestApiToken');
const TESTENV_PASSWORD = distinctive('TestEnvDbPw');
/** A test variable whose name says nothing: no test prints it, so it may appear nowhere. */
const SITE_VALUE = distinctive('SiteSetting');
/** The worker's own: a secret-named variable, and a plain one that a clean test environment leaves out. */
const WORKER_TOKEN = distinctive('WorkerToken');
const WORKER_MARKER = distinctive('WorkerMarker');

describe('secret hygiene: no password, credential secret, token or private key in histories, output or logs', () => {
  let dir: string;
  let emu: Emulator;
  let server: DevServer;
  let workers: WorkerProcesses;
  let connection: Connection;
  let client: Client;
  let env: NodeJS.ProcessEnv;
  let operatorKey: string;
  const outputs: Haystack[] = [];

  const write = (name: string, text: string, mode?: number) =>
    fs.writeFileSync(path.join(dir, name), text, mode ? { mode } : undefined);

  async function dibctl(name: string, args: string[]): Promise<CliResult & { name: string }> {
    const r = await runDibctl(['--debug', ...args], { cwd: dir, env, timeoutMs: 150_000 });
    outputs.push(
      { source: `dibctl ${name}: stdout`, text: r.stdout },
      { source: `dibctl ${name}: stderr`, text: r.stderr },
    );
    return { ...r, name };
  }

  /** The command's exit code must be this; otherwise its output says why. */
  function ok(r: CliResult & { name?: string }, code: number): void {
    if (r.code !== code)
      throw new Error(
        `dibctl ${r.name}: exit ${r.code}, expected ${code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr.slice(-4000)}`,
      );
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-secrets-'));
    // the cloud's passwords and application credential secret are ours, so they can be searched for
    const state = seedState(['RegionOne', 'RegionTwo']);
    state.users.find((u) => u.name === 'admin')!.password = ADMIN_PASSWORD;
    state.users.find((u) => u.name === 'demo')!.password = DEMO_PASSWORD;
    state.application_credentials[0].secret = APP_SECRET;
    const cloudUser = {
      ...state.users.find((u) => u.name === 'admin')!,
      id: hexId(),
      name: 'clouds-admin',
      password: CLOUDS_PASSWORD,
    };
    state.users.push(cloudUser);
    for (const a of state.role_assignments.filter((x) => x.user_id === state.users[0].id))
      state.role_assignments.push({ ...a, user_id: cloudUser.id });
    saveState(path.join(dir, 'cloud.json'), state);
    emu = await startEmulator({ stateFile: path.join(dir, 'cloud.json'), dataDir: path.join(dir, 'cloud-data') });
    expect(emu.admin.password).toBe(ADMIN_PASSWORD);
    expect(emu.applicationCredential.secret).toBe(APP_SECRET);

    const ks = (lines: string[]) => [
      '  keystone:',
      `    auth_url: ${emu.authUrl}`,
      '    user_domain_name: Default',
      '    project_domain_name: Default',
      ...lines.map((l) => `    ${l}`),
    ];
    fs.writeFileSync(path.join(dir, 'image.qcow2'), randomBytes(300 * 1024));
    write(
      'images.yaml',
      [
        'cirros:',
        '  filename: image.qcow2',
        '  glance: { name: Secret Test Image, properties: { default_user: cirros } }',
        '  tests:',
        '    environment_name: emu',
        '    ssh: { username: cirros }',
        '    wait_for_port: 22',
        '    port_wait_timeout: 30',
        `    environment_variables: { API_TOKEN: ${TEST_TOKEN}, GREETING: hello }`,
        '    tests_list: [{ shell: tests/ok, timeout: 60 }, { shell: tests/env, timeout: 60 }]',
        'printers:',
        '  filename: image.qcow2',
        '  glance: { name: Printer Image, properties: { default_user: cirros } }',
        '  tests:',
        '    environment_name: emu',
        '    ssh: { username: cirros }',
        `    environment_variables: { API_TOKEN: ${TEST_TOKEN} }`,
        '    tests_list:',
        '      - { ts: tests/print.test.ts, timeout: 120 }',
        '      - { pytest: tests/test_print.py, timeout: 120 }',
        'slowpy:',
        '  filename: image.qcow2',
        '  glance: { name: Slow Image, properties: { default_user: cirros } }',
        '  tests:',
        '    environment_name: emu',
        '    tests_list: [{ pytest: tests/test_slow.py, timeout: 120 }]',
        'built:',
        '  filename: out/built.qcow2',
        `  dib: { elements: [vm], environment_variables: { DIB_DEV_USER_PASSWORD: ${DIB_PASSWORD}, DIB_RELEASE: bookworm } }`,
        'broken:',
        '  filename: image.qcow2',
        '  glance: { name: Broken Image, properties: { default_user: cirros } }',
        '  tests:',
        '    environment_name: emu',
        '    ssh: { username: cirros }',
        '    wait_for_port: 22',
        `    environment_variables: { SITE_SETTING: ${SITE_VALUE} }`,
        '    tests_list: [{ shell: tests/fail, timeout: 60 }]',
        '',
      ].join('\n'),
    );
    write(
      'test.yaml',
      [
        'emu:',
        ...ks([`username: demo`, `password: ${DEMO_PASSWORD}`, 'project_name: demo', 'region_name: RegionOne']),
        '  nova:',
        '    flavor: m1.tiny',
        `    nics: [{ net_id: ${emu.networks.RegionOne.id} }]`,
        '    main_nic_regexp: "^private$"',
        `    userdata: "#cloud-config\\npassword: ${USERDATA_PASSWORD}\\nchpasswd: { expire: false }\\n"`,
        '  tests:',
        `    environment_variables: { DB_PASSWORD: ${TESTENV_PASSWORD} }`,
        '',
      ].join('\n'),
    );
    write(
      'upload.yaml',
      [
        'one:',
        ...ks([`username: admin`, `password: ${ADMIN_PASSWORD}`, 'project_name: admin', 'region_name: RegionOne']),
        '  retire: { check_every: 1m }',
        'two:',
        ...ks([
          `application_credential_id: ${emu.applicationCredential.id}`,
          `application_credential_secret: ${APP_SECRET}`,
          'region_name: RegionTwo',
        ]),
        'three:',
        '  keystone: { cloud: secret-cloud }',
        'four:',
        ...ks([`username: admin`, `password: ${ADMIN_PASSWORD}`, 'project_name: admin', 'region_name: RegionOne']),
        '  external_upload:',
        `    - cmdline: 'echo "uploading with $OS_USERNAME / $OS_PASSWORD"; echo "password: $OS_PASSWORD" >&2; exit 4'`,
        '',
      ].join('\n'),
    );
    write(
      'clouds.yaml',
      [
        'clouds:',
        '  secret-cloud:',
        '    region_name: RegionTwo',
        '    auth:',
        `      auth_url: ${emu.authUrl}`,
        '      username: clouds-admin',
        `      password: ${CLOUDS_PASSWORD}`,
        '      project_name: admin',
        '      user_domain_name: Default',
        '      project_domain_name: Default',
        '',
      ].join('\n'),
    );
    fs.mkdirSync(path.join(dir, 'tests'));
    write('tests/ok', '#!/bin/sh\ntest "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"\n', 0o755);
    write('tests/fail', '#!/bin/sh\necho "checking"; exit 3\n', 0o755);
    // tests that print every variable they were given
    write('tests/env', '#!/bin/sh\nenv\n', 0o755);
    write(
      'tests/print.test.ts',
      [
        "import { context } from 'dibctl/testing';",
        "test('prints its variables', () => {",
        '  console.log(JSON.stringify(process.env));',
        '  console.log(JSON.stringify(context().environmentVariables));',
        '});',
        '',
      ].join('\n'),
    );
    // the first run waits long enough to be killed with its worker; the retry passes at once
    write(
      'tests/test_slow.py',
      [
        'import os, time',
        '',
        'def test_takes_its_time():',
        `    mark = ${JSON.stringify(path.join(dir, 'slow-started'))}`,
        '    if not os.path.exists(mark):',
        "        open(mark, 'w').close()",
        '        time.sleep(90)',
        '',
      ].join('\n'),
    );
    write(
      'tests/test_print.py',
      [
        'import os',
        '',
        'def test_prints_its_variables(environment_variables):',
        '    print(dict(os.environ))',
        '    print(environment_variables)',
        '    assert False, "shows the output"',
        '',
      ].join('\n'),
    );

    // a stand-in disk-image-create on the worker's PATH for dibctl build
    fs.mkdirSync(path.join(dir, 'bin'));
    write(
      'bin/disk-image-create',
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 3.31.0; exit 0; fi\nenv | grep ^DIB_\nout=""\nwhile [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done\nmkdir -p "$(dirname "$out")"\nhead -c 65536 /dev/urandom > "$out"\necho "Image file $out created..."\n',
      0o755,
    );

    // an operator's own key and instance, for --use-existing-instance
    operatorKey = path.join(dir, 'operator_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator', '-f', operatorKey]);

    server = await startDevServer({ dbFilename: path.join(dir, 'temporal.db'), log: path.join(dir, 'temporal.log') });
    env = runEnv(server.address, path.join(dir, 'state'), {
      OS_CLIENT_CONFIG_FILE: path.join(dir, 'clouds.yaml'),
      PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
      WORKER_API_TOKEN: WORKER_TOKEN,
      WORKER_MARKER,
      // where the test runs' data files go: searched after a worker is killed
      TMPDIR: path.join(dir, 'tmp'),
    });
    fs.mkdirSync(path.join(dir, 'tmp'));
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: server.namespace });
    workers = new WorkerProcesses({ cwd: dir, logDir: dir, env: () => env, args: ['--debug'] });
  }, 180_000);

  afterAll(async () => {
    await workers?.stop();
    await connection?.close();
    await server?.stop();
    await emu?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('runs every command path with --debug, then finds none of the secrets anywhere, and finds a planted one', async () => {
    // with no worker polling, the CLI runs one in-process: its logs are in the command's output
    ok(await dibctl('doctor (in-process worker)', ['doctor']), 0);
    ok(await dibctl('validate --credentials', ['validate', '--credentials']), 0);
    await workers.start();

    ok(await dibctl('build', ['build', 'built']), 0);
    ok(await dibctl('test (passing)', ['test', 'cirros']), 0);
    ok(await dibctl('test (failing)', ['test', 'broken', '--junit-xml', 'reports/broken.xml']), 80);
    ok(await dibctl('test --upload-only', ['test', 'cirros', '--upload-only']), 0);
    // a ts test passes and a pytest test fails, both printing their variables
    const printers = await dibctl('test (ts and pytest printing their variables)', [
      'test',
      'printers',
      '--junit-xml',
      'reports/printers.xml',
    ]);
    ok(printers, 80);
    expect(printers.stdout + printers.stderr).toMatch(/prints_its_variables/);

    // kill -9 of the worker while a pytest run holds its data file (with the test cloud's password)
    const slow = dibctl('test (worker killed during pytest)', ['test', 'slowpy']);
    const dataDirs = () => fs.readdirSync(path.join(dir, 'tmp')).filter((n) => n.startsWith('dibctl-test-data-'));
    for (const end = Date.now() + 120_000; !fs.existsSync(path.join(dir, 'slow-started'));) {
      if (Date.now() > end) throw new Error('the slow pytest run never started');
      await new Promise((r) => setTimeout(r, 200));
    }
    const [orphan] = dataDirs();
    expect(fs.readFileSync(path.join(dir, 'tmp', orphan, 'context.json'), 'utf8')).toContain(DEMO_PASSWORD);
    await workers.kill9();
    expect(dataDirs()).toContain(orphan);
    // the next worker removes what the killed one left, and the test completes on it
    await workers.start();
    expect(dataDirs()).not.toContain(orphan);
    ok(await slow, 0);

    // --use-existing-image / --use-existing-instance with the operator's private key file
    const demo = await connectCloud({
      authUrl: emu.authUrl,
      username: 'demo',
      password: DEMO_PASSWORD,
      projectName: 'demo',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      regionName: 'RegionOne',
    });
    let serverId: string;
    let imageId: string;
    try {
      const img = await demo.image.createImage({
        name: 'operator image',
        disk_format: 'qcow2',
        container_format: 'bare',
        properties: { default_user: 'cirros' },
      });
      await demo.image.uploadImage(img.id, path.join(dir, 'image.qcow2'));
      imageId = img.id;
      await demo.compute.importKeypair('operator', fs.readFileSync(`${operatorKey}.pub`, 'utf8').trim());
      const flavor = await demo.compute.findFlavor('m1.tiny');
      serverId = (
        await demo.compute.createServer({
          name: 'operator-vm',
          imageRef: img.id,
          flavorRef: flavor.id,
          key_name: 'operator',
          networks: [{ uuid: emu.networks.RegionOne.id }],
        })
      ).id;
      await demo.compute.waitForServerStatus(serverId, 'ACTIVE', { timeoutMs: 30_000, pollMs: 200 });
    } finally {
      demo.close();
    }
    ok(
      await dibctl('test --use-existing-instance', [
        'test',
        'cirros',
        '--use-existing-image',
        imageId,
        '--use-existing-instance',
        serverId,
        '--private-key-file',
        operatorKey,
      ]),
      0,
    );
    // an interactive shell on a fresh instance, at a terminal
    const shell = await runDibctlInTerminal(['--debug', 'shell', 'cirros'], {
      cwd: dir,
      env,
      ready: /Opening a shell/,
      typed: 'hostname; exit\n',
      timeoutMs: 120_000,
    });
    outputs.push({ source: 'dibctl shell: terminal', text: shell.output });
    if (shell.code !== 0) throw new Error(`dibctl shell: exit ${shell.code}\n${shell.output.slice(-4000)}`);

    const first = await dibctl('upload to one', ['--json', 'upload', 'cirros', 'one']);
    expect(first.code).toBe(0);
    const firstId = (JSON.parse(first.stdout) as { imageId: string }).imageId;
    for (const e of ['two', 'three']) ok(await dibctl(`upload to ${e}`, ['upload', 'cirros', e]), 0);
    // an external upload that prints the password it was given, and fails
    const external = await dibctl('external_upload echoing $OS_PASSWORD', ['upload', 'cirros', 'four']);
    expect(external.code).not.toBe(0);
    expect(external.stdout + external.stderr).toMatch(/External upload command failed \(exit 4\)/);
    const again = await dibctl('upload to one again (obsoletes, retirement)', ['--json', 'upload', 'cirros', 'one']);
    expect(again.code).toBe(0);
    const { obsoleted: older, imageId: currentId } = JSON.parse(again.stdout) as {
      imageId: string;
      obsoleted: Array<{ id: string }>;
    };
    expect(older.map((i) => i.id)).toContain(firstId);
    // image data streamed between clouds with both clouds' credentials
    ok(
      await dibctl('transfer between environments', ['transfer', currentId, '--src-env', 'one', '--dst-env', 'two']),
      0,
    );
    ok(
      await dibctl('transfer to a clouds.yaml cloud', [
        'transfer',
        currentId,
        '--src-env',
        'one',
        '--dst-cloud',
        'secret-cloud',
      ]),
      0,
    );
    ok(await dibctl('mark-obsolete', ['mark-obsolete', 'one', currentId]), 0);
    ok(await dibctl('rotate --dry-run', ['rotate', 'one', '--dry-run']), 0);
    ok(await dibctl('rotate', ['rotate', 'one']), 0);
    ok(await dibctl('rotate-single', ['rotate-single', 'cirros', 'one']), 0);
    // an application credential has no right to list every project's servers: the refusal is a path too
    ok(await dibctl('rotate without admin rights', ['rotate', 'two']), 61);
    // the whole lifecycle, with a build, and on a schedule
    ok(
      await dibctl('run (test, publish to two environments)', [
        'run',
        'cirros',
        '--no-build',
        '--upload-env',
        'one',
        '--upload-env',
        'two',
      ]),
      0,
    );
    ok(await dibctl('run (build, publish)', ['run', 'built', '--no-test', '--upload-env', 'three']), 0);
    ok(
      await dibctl('schedule create', [
        'schedule',
        'create',
        'cirros',
        '--every',
        '7d',
        '--no-build',
        '--upload-env',
        'one',
        '--id',
        'secret-schedule',
        '--paused',
      ]),
      0,
    );
    ok(await dibctl('schedule list', ['schedule', 'list']), 0);
    ok(await dibctl('schedule describe', ['schedule', 'describe', 'secret-schedule']), 0);
    outputs.push({
      source: 'schedule secret-schedule',
      text: textOf((await client.schedule.getHandle('secret-schedule').describe()).raw).join('\n'),
    });
    ok(await dibctl('schedule delete', ['schedule', 'delete', 'secret-schedule']), 0);
    ok(await dibctl('list', ['list']), 0);
    ok(await dibctl('status of the retirement', ['status', 'dibctl-retirement-one']), 0);
    ok(await dibctl('retirement', ['retirement', 'one']), 0);
    ok(await dibctl('retirement --check-now', ['retirement', 'one', '--check-now']), 0);
    const tests = [];
    for await (const wf of client.workflow.list({ query: `WorkflowType = '${imageTestWorkflow.name}'` }))
      tests.push(wf.workflowId);
    expect(tests.length).toBeGreaterThanOrEqual(4);
    ok(await dibctl('status of a test', ['status', tests[0]]), 0);
    ok(await dibctl('keep on a finished test', ['keep', tests[0]]), 1);
    ok(await dibctl('discard on a finished test', ['discard', tests[0]]), 1);

    // everything is in: workflow histories, running workflows' answers, the CLI's output, the worker's logs
    const wf = await workflowHaystacks(client);
    expect(wf.runs).toBeGreaterThanOrEqual(15);
    expect(wf.payloads).toBeGreaterThan(100);
    const logs: Haystack[] = workers.logs.map((f) => ({
      source: `worker log ${path.basename(f)}`,
      text: fs.readFileSync(f, 'utf8'),
    }));
    // what the runs left on disk: test logs, ssh configs, the build log
    const files: Haystack[] = [
      ...filesUnder(path.join(dir, 'state')),
      ...filesUnder(path.join(dir, 'out')),
      ...filesUnder(path.join(dir, 'reports')),
      ...filesUnder(path.join(dir, 'tmp')),
    ];
    // the JUnit reports hold the tests' output, variables printed included
    const printersReport = files.find((f) => f.source === 'file printers.xml');
    expect(printersReport?.text).toMatch(/<testcase[^>]*prints_its_variables[^]*<failure/);
    expect(printersReport?.text).toContain('API_TOKEN');
    expect(files.some((f) => /instances/.test(f.source))).toBe(true);
    // what was scanned is the real thing: decoded payloads show the labels and names, the worker logged at debug level
    const all = wf.haystacks.map((h) => h.text).join('\n');
    expect(all).toContain('Secret Test Image');
    expect(all).toContain('Obsolete Secret Test Image');
    expect(all).toMatch(/DIBCTL-[0-9a-f-]{36}/);
    expect(logs.some((l) => /\[DEBUG\]/.test(l.text))).toBe(true);

    const tokens = emu
      .state()
      .tokens.map((t, i): Needle => ({ name: `Keystone token #${i + 1}`, value: (t as unknown as { id: string }).id }));
    // tokens to look for: the workers authenticated (their steps share one token per set of credentials)
    expect(tokens.length).toBeGreaterThanOrEqual(5);
    const needles: Needle[] = [
      { name: 'admin password', value: ADMIN_PASSWORD },
      { name: 'demo password', value: DEMO_PASSWORD },
      { name: 'application credential secret', value: APP_SECRET },
      { name: 'clouds.yaml password', value: CLOUDS_PASSWORD },
      { name: 'dib.environment_variables DIB_DEV_USER_PASSWORD', value: DIB_PASSWORD },
      { name: 'nova.userdata password', value: USERDATA_PASSWORD },
      { name: 'image tests.environment_variables API_TOKEN', value: TEST_TOKEN },
      { name: 'test environment tests.environment_variables DB_PASSWORD', value: TESTENV_PASSWORD },
      { name: 'tests.environment_variables SITE_SETTING (printed by no test)', value: SITE_VALUE },
      { name: "the worker's WORKER_API_TOKEN", value: WORKER_TOKEN },
      { name: "the worker's WORKER_MARKER (kept from tests)", value: WORKER_MARKER },
      ...KEY_MARKERS,
      ...fs
        .readFileSync(operatorKey, 'utf8')
        .split('\n')
        .filter((l) => l.length >= 20 && !l.startsWith('-----'))
        .map((value, i) => ({ name: `operator private key line ${i + 1}`, value })),
      ...tokens,
    ];
    const hits = scan([...wf.haystacks, ...outputs, ...logs, ...files], needles);
    expect(hits).toEqual([]);

    // the scan can fail: a secret planted in a workflow input and in a log is found
    await client.workflow.start(doctorWorkflow, {
      taskQueue: 'dibctl',
      workflowId: 'planted',
      args: [{ imageDir: `/tmp/${APP_SECRET}` }],
    });
    const planted = await workflowHaystacks(client);
    const plantedHits = scan(
      [...planted.haystacks, { source: 'planted log', text: `key:\n${fs.readFileSync(operatorKey, 'utf8')}` }],
      needles,
    );
    expect(plantedHits.map((h) => `${h.needle} @ ${h.source.split(' ')[0]} ${h.source.split(' ')[1]}`)).toEqual(
      expect.arrayContaining([
        'application credential secret @ workflow planted',
        'OpenSSH private key header @ planted log',
        'operator private key line 1 @ planted log',
      ]),
    );
  }, 600_000);
});
