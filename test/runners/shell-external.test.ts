import fs from 'node:fs';
import path from 'node:path';
import { runTestEntry, writeJUnitReport, TestEntryResult } from '../../activities/test-runners';
import { BootedInstance, bootInstance, processesWith, script } from './instance';

let vm: BootedInstance;

beforeAll(async () => {
  vm = await bootInstance('shell-runner-vm');
});

afterAll(async () => {
  await vm?.stop();
});

const opts = () => ({ logDir: vm.logDir });

describe('shell tests', () => {
  test('a dibctl-style directory of shell tests passes over real SSH, in name order, with every DIBCTL_* variable', async () => {
    const dir = path.join(vm.dir, 'suite-ok');
    script(
      path.join(dir, '10-uname'),
      '#!/bin/sh\nset -e\ntimeout 120 $DIBCTL_SSH uname -a\necho 10 >> "$ORDER_FILE"\n',
    );
    script(
      path.join(dir, '20-variables'),
      [
        '#!/bin/bash',
        'set -eu',
        'echo 20 >> "$ORDER_FILE"',
        'test "$DIBCTL_INSTANCE_NAME" = shell-runner-vm',
        'test -n "$DIBCTL_INSTANCE_UUID"',
        'test "$DIBCTL_MAIN_IP" = "$DIBCTL_IP_1"',
        'test "$DIBCTL_SSH_IP" = "$DIBCTL_MAIN_IP"',
        'test "$DIBCTL_SSH_USERNAME" = debian',
        'test -n "$DIBCTL_SSH_PORT"',
        'test -r "$DIBCTL_SSH_PRIVATE_KEY"',
        'test "$DIBCTL_FLAVOR_NAME" = m1.medium',
        'test "$DIBCTL_FLAVOR_ID" = 3',
        'test "$DIBCTL_FLAVOR_RAM" = 4096',
        'test "$DIBCTL_FLAVOR_VCPUS" = 2',
        'test "$DIBCTL_FLAVOR_DISK" = 40',
        'test "$DIBCTL_FLAVOR_META_hw_cpu_policy" = shared',
        'env | grep -qx "DIBCTL_FLAVOR_META_hw:cpu_policy=shared"',
        'echo "$DIBCTL_IFACE_1_INFO" | grep -q "\\"network\\":\\"private\\""',
        'test "$DIBCTL_GREETING" = "hello world"',
        'test "$DIBCTL_BUILD_TAG" = b-42',
        'case "$DIBCTL_SSH" in "ssh -o UserKnownHostsFile=$DIBCTL_SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes -o PasswordAuthentication=no -i $DIBCTL_SSH_PRIVATE_KEY"*"debian@$DIBCTL_MAIN_IP") ;; *) echo "bad DIBCTL_SSH: $DIBCTL_SSH"; exit 1 ;; esac',
        'test "$(stat -c %a "$DIBCTL_SSH_KNOWN_HOSTS")" = 600',
        'grep -q "StrictHostKeyChecking yes" "$DIBCTL_SSH_CONFIG"',
        '',
      ].join('\n'),
    );
    script(
      path.join(dir, '30-ssh-config'),
      '#!/bin/sh\nset -e\necho 30 >> "$ORDER_FILE"\nname=$(ssh -F "$DIBCTL_SSH_CONFIG" "$DIBCTL_SSH_IP" hostname)\ntest "$name" = "$DIBCTL_INSTANCE_NAME"\necho "ssh_config reaches $name"\n',
    );
    fs.writeFileSync(path.join(dir, 'README'), 'not a test: not executable\n');
    const order = path.join(vm.dir, 'order-ok');
    const lines: string[] = [];

    // the worker's variable reaches the tests because tests.pass_environment names it
    const r = await runTestEntry(
      { kind: 'shell', path: dir, timeout: 120 },
      { ...vm.ctx, passEnvironment: ['ORDER_FILE'] },
      {
        logDir: vm.logDir,
        env: { ...process.env, ORDER_FILE: order },
        onOutput: (l) => lines.push(l),
      },
    );

    expect(r).toMatchObject({ name: `shell: ${dir}`, framework: 'shell', passed: true, exitCode: 0 });
    expect(fs.readFileSync(order, 'utf8').split('\n').filter(Boolean)).toEqual(['10', '20', '30']);
    expect(lines.some((l) => l.includes('Linux') && l.includes('shell-runner-vm'))).toBe(true);
    expect(lines).toContain('ssh_config reaches shell-runner-vm');
    const log = fs.readFileSync(r.logFile!, 'utf8');
    expect(log).toContain('ssh_config reaches shell-runner-vm');
    expect(log).toContain(`skipping ${path.join(dir, 'README')}: not executable`);
    // the ssh_config the context named did not exist: the runner wrote it, private
    expect(fs.statSync(vm.ctx.ssh!.configFile).mode & 0o777).toBe(0o600);
  });

  test('a directory is walked as dibctl walked it: names sorted by bytes, each subdirectory in its place, hidden and nested scripts run, in the directory dibctl was started in', async () => {
    const dir = path.join(vm.dir, 'walk');
    const project = path.join(vm.dir, 'project');
    fs.mkdirSync(path.join(project, 'fixtures'), { recursive: true });
    fs.writeFileSync(path.join(project, 'fixtures', 'expected-user'), 'debian\n');
    const order = path.join(vm.dir, 'order-walk');
    // each script records its name and where it runs, and reads a fixture relative to the project
    const body = (n: string) =>
      `#!/bin/sh\nset -e\necho "${n} $(pwd)" >> "$ORDER_FILE"\ntest "$(cat fixtures/expected-user)" = "$DIBCTL_SSH_USERNAME"\n`;
    for (const n of [
      '10-first',
      '.00-hidden',
      'B-upper',
      'a-lower',
      '20-sub/05-inner',
      '20-sub/deeper/01-deep',
      '20-sub.sh',
    ])
      script(path.join(dir, n), body(n));
    fs.writeFileSync(path.join(dir, '20-sub', 'README'), 'not a test\n');
    fs.symlinkSync('.', path.join(dir, '20-sub', 'loop'));

    const r = await runTestEntry(
      { kind: 'shell', path: dir, timeout: 60 },
      { ...vm.ctx, passEnvironment: ['ORDER_FILE'], configOptions: { ...vm.ctx.configOptions, cwd: project } },
      { logDir: vm.logDir, env: { ...process.env, ORDER_FILE: order } },
    );

    expect(r).toMatchObject({ passed: true, exitCode: 0 });
    // dibctl sorted each directory's entries and walked a subdirectory where its name sorts:
    // 20-sub/ before 20-sub.sh, although '.' sorts before '/' in a flat list of paths
    expect(fs.readFileSync(order, 'utf8').split('\n').filter(Boolean)).toEqual(
      ['.00-hidden', '10-first', '20-sub/05-inner', '20-sub/deeper/01-deep', '20-sub.sh', 'B-upper', 'a-lower'].map(
        (n) => `${n} ${project}`,
      ),
    );
    expect(r.cases?.map((c) => c.name)).toEqual(
      ['.00-hidden', '10-first', '20-sub/05-inner', '20-sub/deeper/01-deep', '20-sub.sh', 'B-upper', 'a-lower'].map(
        (n) => `shell: ${path.join(dir, n)}`,
      ),
    );
    const log = fs.readFileSync(r.logFile!, 'utf8');
    expect(log).toContain(`skipping ${path.join(dir, '20-sub', 'README')}: not executable`);
    expect(log).toContain(`skipping ${path.join(dir, '20-sub', 'loop')}: a link back to a directory being walked`);
  });

  test('a test file that is not executable, or a start directory missing on this host, fails the entry saying so', async () => {
    const file = path.join(vm.dir, 'plain', 'not-executable.sh');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '#!/bin/sh\ntrue\n', { mode: 0o644 });
    const plain = await runTestEntry({ kind: 'shell', path: file, timeout: 10 }, vm.ctx, opts());
    expect(plain).toMatchObject({
      passed: false,
      reason: `${file} is not executable: a shell test must be (chmod +x ${file}), or a directory of them`,
    });

    const gone = path.join(vm.dir, 'started-elsewhere');
    const ok = script(path.join(vm.dir, 'cwd-check', 'ok'), '#!/bin/sh\ntrue\n');
    const r = await runTestEntry(
      { kind: 'shell', path: ok, timeout: 10 },
      { ...vm.ctx, configOptions: { ...vm.ctx.configOptions, cwd: gone } },
      opts(),
    );
    expect(r).toMatchObject({
      passed: false,
      reason: `${gone}, the directory dibctl was started in, where tests run, does not exist on this worker's host`,
    });
  });

  test("flavor extra specs and environment variables also carry dibctl's upper-cased names", async () => {
    const file = script(
      path.join(vm.dir, 'names', 'check'),
      [
        '#!/bin/bash',
        'set -eu',
        // dibctl: DIBCTL_ + the key upper-cased, nothing else changed
        'test "$(printenv DIBCTL_FLAVOR_META_HW:CPU_POLICY)" = shared',
        'test "$(printenv DIBCTL_FLAVOR_META_HW_RNG:ALLOWED)" = True',
        'test "$(printenv DIBCTL_BUILD-ID)" = b-7',
        // the names this project gave before, kept
        'test "$(printenv DIBCTL_FLAVOR_META_hw:cpu_policy)" = shared',
        'test "$DIBCTL_FLAVOR_META_hw_cpu_policy" = shared',
        'test "$DIBCTL_BUILD_ID" = b-7',
        '',
      ].join('\n'),
    );
    const r = await runTestEntry(
      { kind: 'shell', path: file, timeout: 30 },
      { ...vm.ctx, environmentVariables: { ...vm.ctx.environmentVariables, 'build-id': 'b-7' } },
      opts(),
    );
    expect(r.outputTail).not.toMatch(/exit code/);
    expect(r).toMatchObject({ passed: true });
  });

  test('a single executable file is a test of its own and its exit code decides', async () => {
    const file = script(
      path.join(vm.dir, 'single', 'check-kernel'),
      '#!/bin/sh\ntimeout 120 $DIBCTL_SSH "uname -s; exit 4"\n',
    );
    const r = await runTestEntry({ kind: 'shell', path: file, timeout: 60 }, vm.ctx, opts());
    expect(r).toMatchObject({ passed: false, exitCode: 4, reason: 'check-kernel: exit code 4' });
    expect(r.outputTail).toContain('Linux');
  });

  test('the first failing file stops the rest of the directory', async () => {
    const dir = path.join(vm.dir, 'suite-fail');
    const marker = path.join(vm.dir, 'ran-after-failure');
    script(path.join(dir, '01-ok'), '#!/bin/sh\ntrue\n');
    script(path.join(dir, '02-broken'), '#!/bin/sh\necho "the image has no cloud-init" >&2\nexit 3\n');
    script(path.join(dir, '03-never'), `#!/bin/sh\ntouch ${marker}\n`);
    const r = await runTestEntry({ kind: 'shell', path: dir, timeout: 60 }, vm.ctx, opts());
    expect(r).toMatchObject({ passed: false, exitCode: 3, reason: '02-broken: exit code 3' });
    expect(r.outputTail).toContain('the image has no cloud-init');
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('a test running past its time limit is killed with its whole process group, nothing stays behind', async () => {
    const tag = `31${String(Date.now()).slice(-6)}.5`;
    const file = script(
      path.join(vm.dir, 'slow', 'hangs'),
      `#!/bin/sh\nsleep ${tag} &\n(sleep ${tag}; echo never) &\necho started\nsleep ${tag}\n`,
    );
    const started = Date.now();
    const r = await runTestEntry({ kind: 'shell', path: file, timeout: 2 }, vm.ctx, opts());
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.passed).toBe(false);
    expect(r.reason).toBe('hangs: time limit of 2 s exceeded; the process group was killed');
    expect(r.outputTail).toContain('started');
    await new Promise((res) => setTimeout(res, 200));
    expect(processesWith(`sleep ${tag}`)).toEqual([]);
  });

  test('processes a passing test leaves in the background are killed when it ends', async () => {
    const tag = `32${String(Date.now()).slice(-6)}.5`;
    const file = script(path.join(vm.dir, 'bg', 'leaves-child'), `#!/bin/sh\nsleep ${tag} &\necho done\n`);
    const r = await runTestEntry({ kind: 'shell', path: file, timeout: 30 }, vm.ctx, opts());
    expect(r.passed).toBe(true);
    await new Promise((res) => setTimeout(res, 200));
    expect(processesWith(`sleep ${tag}`)).toEqual([]);
  });

  test('cancelling stops the running test and its children at once', async () => {
    const tag = `33${String(Date.now()).slice(-6)}.5`;
    const file = script(path.join(vm.dir, 'cancel', 'waits'), `#!/bin/sh\nsleep ${tag}\n`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await runTestEntry({ kind: 'shell', path: file, timeout: 300 }, vm.ctx, {
      logDir: vm.logDir,
      signal: ac.signal,
    });
    expect(r).toMatchObject({ passed: false, reason: 'waits: cancelled; the process group was killed' });
    expect(processesWith(`sleep ${tag}`)).toEqual([]);
  });

  test('a missing path or a directory without executables fails with the reason', async () => {
    const gone = await runTestEntry({ kind: 'shell', path: path.join(vm.dir, 'nope'), timeout: 10 }, vm.ctx, opts());
    expect(gone).toMatchObject({ passed: false, reason: `${path.join(vm.dir, 'nope')} does not exist` });
    const empty = path.join(vm.dir, 'empty-suite');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'notes.txt'), 'x');
    const none = await runTestEntry({ kind: 'shell', path: empty, timeout: 10 }, vm.ctx, opts());
    expect(none).toMatchObject({ passed: false, reason: `no executable files in ${empty}` });
  });

  test('the private key never appears in a log, only its path', async () => {
    const file = script(path.join(vm.dir, 'noisy', 'prints-env'), '#!/bin/sh\nenv | grep ^DIBCTL_\n');
    const r = await runTestEntry({ kind: 'shell', path: file, timeout: 30 }, vm.ctx, opts());
    expect(r.passed).toBe(true);
    const log = fs.readFileSync(r.logFile!, 'utf8');
    const key = fs.readFileSync(vm.ctx.ssh!.privateKeyFile, 'utf8');
    expect(log).toContain(`DIBCTL_SSH_PRIVATE_KEY=${vm.ctx.ssh!.privateKeyFile}`);
    expect(log).not.toContain(key.split('\n')[1]);
  });
});

describe('external tests', () => {
  test('placeholders are interpolated and exit 0 passes', async () => {
    const out = path.join(vm.dir, 'external-args');
    const r = await runTestEntry(
      {
        kind: 'external',
        cmdline: `printf '%s|' %(filename)s %(label)s %(ip)s %(instance_name)s %(username)s 100%% > ${out}; test -n "$DIBCTL_SSH"`,
      },
      vm.ctx,
      opts(),
    );
    expect(r).toMatchObject({ framework: 'external', passed: true, exitCode: 0 });
    expect(fs.readFileSync(out, 'utf8')).toBe(
      `${vm.ctx.imageFile}|runner-image|${vm.ctx.mainIp}|shell-runner-vm|debian|100%|`,
    );
  });

  test('a non-zero exit fails with the exit code', async () => {
    const r = await runTestEntry({ kind: 'external', cmdline: 'timeout 60 $DIBCTL_SSH "exit 9"' }, vm.ctx, opts());
    expect(r).toMatchObject({ passed: false, exitCode: 9, reason: 'exit code 9' });
  });

  test('an unknown placeholder fails before anything runs and lists the known ones', async () => {
    const r = await runTestEntry({ kind: 'external', cmdline: 'check %(flavour)s' }, vm.ctx, opts());
    expect(r.passed).toBe(false);
    expect(r.reason).toMatch(/^unknown placeholder %\(flavour\)s \(known: .*filename.*ip.*label/);
  });

  test('its time limit kills it', async () => {
    const r = await runTestEntry({ kind: 'external', cmdline: 'sleep 30', timeout: 1 }, vm.ctx, opts());
    expect(r).toMatchObject({ passed: false, reason: 'time limit of 1 s exceeded; the process group was killed' });
  });
});

describe('values with shell characters', () => {
  const hostileName = (marker: string) => `x;touch ${marker} $(touch ${marker}) it's`;

  test('an instance and flavor name with ;, $(...), a space and a quote reach an external test intact and run nothing', async () => {
    const marker = path.join(vm.dir, 'pwned-external');
    const name = hostileName(marker);
    const ctx = { ...vm.ctx, instance: { ...vm.ctx.instance, name }, flavor: { ...vm.ctx.flavor, name } };
    const out = path.join(vm.dir, 'external-hostile');
    const r = await runTestEntry(
      { kind: 'external', cmdline: `printf '%s|' %(instance_name)s '%(flavor_name)s' "%(instance_name)s" > ${out}` },
      ctx,
      opts(),
    );
    expect(r).toMatchObject({ passed: true, exitCode: 0 });
    expect(fs.readFileSync(out, 'utf8')).toBe(`${name.toLowerCase()}|${name}|${name.toLowerCase()}|`);
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('a private key under a path with a space: $DIBCTL_SSH still splits into words, %(ssh)s works too', async () => {
    const spaced = path.join(vm.dir, 'key dir');
    fs.mkdirSync(spaced, { recursive: true });
    const key = path.join(spaced, 'id key');
    fs.copyFileSync(vm.ctx.ssh!.privateKeyFile, key);
    fs.chmodSync(key, 0o600);
    const ctx = { ...vm.ctx, ssh: { ...vm.ctx.ssh!, privateKeyFile: key } };
    const shellDir = path.join(vm.dir, 'spaced-key-suite');
    script(
      path.join(shellDir, '10-uname'),
      '#!/bin/sh\nset -e\ntimeout 120 $DIBCTL_SSH uname -a\ncase "$DIBCTL_SSH_PRIVATE_KEY" in *" "*) exit 7 ;; esac\n',
    );
    const shell = await runTestEntry({ kind: 'shell', path: shellDir, timeout: 120 }, ctx, opts());
    expect(shell).toMatchObject({ passed: true, exitCode: 0 });
    const external = await runTestEntry(
      { kind: 'external', cmdline: 'timeout 120 %(ssh)s uname -a && test -r %(private_key_file)s' },
      ctx,
      opts(),
    );
    expect(external).toMatchObject({ passed: true, exitCode: 0 });
  });
});

describe('JUnit report', () => {
  test('lists every entry with its time, failures with their reason and output, in escaped XML', () => {
    const results: TestEntryResult[] = [
      {
        name: 'shell: /t/ok',
        framework: 'shell',
        passed: true,
        durationMs: 1500,
        outputTail: 'Linux vm 6.1 <x86_64>\n',
      },
      {
        name: 'pytest: /t/test_a.py',
        framework: 'pytest',
        passed: false,
        durationMs: 250,
        outputTail: 'assert "a" == "b"\u0001',
        reason: 'exit code 1',
        exitCode: 1,
      },
    ];
    const file = path.join(vm.dir, 'reports', 'junit.xml');
    writeJUnitReport(results, file, { suiteName: 'ubuntu-24', timestamp: new Date('2024-05-01T10:00:00Z') });
    const xml = fs.readFileSync(file, 'utf8');
    expect(xml).toContain(
      '<testsuite name="ubuntu-24" tests="2" failures="1" errors="0" skipped="0" time="1.750" timestamp="2024-05-01T10:00:00">',
    );
    expect(xml).toContain('<testcase classname="ubuntu-24.shell" name="shell: /t/ok" time="1.500">');
    expect(xml).toContain('<system-out>Linux vm 6.1 &lt;x86_64&gt;\n</system-out>');
    expect(xml).toContain(
      '<failure message="exit code 1" type="pytest">assert &quot;a&quot; == &quot;b&quot;</failure>',
    );
    expect(xml).not.toContain('\u0001');
  });
});
