import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runTestEntry } from '../../activities/test-runners';
import { BootedInstance, bootInstance, processesWith, script } from './instance';

let vm: BootedInstance;

beforeAll(async () => {
  vm = await bootInstance('ssh-runner-vm');
});

afterAll(async () => {
  await vm?.stop();
});

const opts = () => ({ logDir: vm.logDir });
const has = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('ssh tests (a script run inside the instance)', () => {
  test('the script runs on the instance as the image user with the environment variables, and is removed after', async () => {
    const file = script(
      path.join(vm.dir, 'in-guest', 'check.sh'),
      '#!/bin/sh\nset -e\necho "on $(hostname) as $DIBCTL_INSTANCE_NAME: $greeting / $DIBCTL_BUILD_TAG"\necho "script-path: $0"\ntest "$(hostname)" = ssh-runner-vm\n',
    );
    const lines: string[] = [];
    const r = await runTestEntry({ kind: 'ssh', path: file, timeout: 60 }, vm.ctx, {
      logDir: vm.logDir,
      onOutput: (l) => lines.push(l),
    });
    expect(r).toMatchObject({ name: `ssh: ${file}`, framework: 'ssh', passed: true, exitCode: 0 });
    expect(lines).toContain('on ssh-runner-vm as ssh-runner-vm: hello world / b-42');
    const remote = lines.find((l) => l.startsWith('script-path: '))!.slice('script-path: '.length);
    expect(remote).toMatch(/^\/tmp\/dibctl-test-[0-9a-f-]{36}-check\.sh$/);
    // the emulated guest shares this host's /tmp: the copy is gone
    expect(fs.existsSync(remote)).toBe(false);
  });

  test("the script's exit code decides", async () => {
    const file = script(path.join(vm.dir, 'in-guest', 'fails.sh'), '#!/bin/sh\necho "no nginx here" >&2\nexit 5\n');
    const r = await runTestEntry({ kind: 'ssh', path: file, timeout: 60 }, vm.ctx, opts());
    expect(r).toMatchObject({ passed: false, exitCode: 5, reason: 'exit code 5 on the instance' });
    expect(r.outputTail).toContain('no nginx here');
  });

  test('sudo: true runs the script through sudo', async () => {
    if (!has('sudo')) return console.warn('skipped: no sudo on this machine (the emulated guest runs host commands)');
    const file = script(
      path.join(vm.dir, 'in-guest', 'as-root.sh'),
      '#!/bin/sh\necho "uid=$(id -u) sudo_user=$SUDO_USER"\n',
    );
    const r = await runTestEntry({ kind: 'ssh', path: file, timeout: 60, sudo: true }, vm.ctx, opts());
    expect(r.passed).toBe(true);
    expect(r.outputTail).toMatch(/uid=0 sudo_user=\S+/);
  });

  test('a script past its time limit is killed on the instance', async () => {
    const tag = `35${String(Date.now()).slice(-6)}.5`;
    const file = script(path.join(vm.dir, 'in-guest', 'hangs.sh'), `#!/bin/sh\necho waiting\nsleep ${tag}\n`);
    const r = await runTestEntry({ kind: 'ssh', path: file, timeout: 2 }, vm.ctx, opts());
    expect(r).toMatchObject({
      passed: false,
      reason: 'time limit of 2 s exceeded; the script was killed on the instance',
    });
    await new Promise((res) => setTimeout(res, 300));
    expect(processesWith(`sleep ${tag}`)).toEqual([]);
  });

  test('without SSH access the entry fails and says why', async () => {
    const file = script(path.join(vm.dir, 'in-guest', 'any.sh'), '#!/bin/sh\ntrue\n');
    const r = await runTestEntry({ kind: 'ssh', path: file, timeout: 10 }, { ...vm.ctx, ssh: undefined }, opts());
    expect(r).toMatchObject({
      passed: false,
      reason: 'the image has no tests.ssh section: no SSH access to the instance',
    });
  });
});

describe('image tests (passive checks of the image file)', () => {
  const maybe = has('qemu-img') ? test : test.skip;
  if (!has('qemu-img')) console.warn('image checks skipped: qemu-img is not installed (Debian: qemu-utils)');

  maybe('format and virtual size within the limits pass', async () => {
    const file = path.join(vm.dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '2G']);
    const r = await runTestEntry(
      { kind: 'image', path: file, timeout: 60, image: { format: 'qcow2', minVirtualSizeGb: 1, maxVirtualSizeGb: 4 } },
      vm.ctx,
      opts(),
    );
    expect(r).toMatchObject({ framework: 'image', passed: true });
    expect(r.outputTail).toContain('format qcow2, virtual size 2 GiB (2147483648 bytes)');
  });

  maybe('a wrong format and an oversized image fail with both reasons', async () => {
    const file = path.join(vm.dir, 'disk.raw');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', file, '3G']);
    const r = await runTestEntry(
      { kind: 'image', path: file, timeout: 60, image: { format: 'qcow2', maxVirtualSizeGb: 2.5 } },
      vm.ctx,
      opts(),
    );
    expect(r).toMatchObject({
      passed: false,
      reason: 'format is raw, expected qcow2; virtual size 3 GiB is above max_virtual_size_gb 2.5',
    });
  });

  maybe('files_exist names the missing tool when libguestfs is not installed', async () => {
    if (has('guestfish'))
      return console.warn('skipped: guestfish is installed, this checks the message for its absence');
    const file = path.join(vm.dir, 'disk2.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '1G']);
    const r = await runTestEntry(
      { kind: 'image', path: file, timeout: 60, image: { filesExist: ['/etc/hostname'] } },
      vm.ctx,
      opts(),
    );
    expect(r).toMatchObject({
      passed: false,
      reason: 'files_exist needs guestfish, which is not installed (Debian: apt-get install libguestfs-tools)',
    });
  });

  test('without qemu-img the entry fails and names the package', async () => {
    const r = await runTestEntry(
      { kind: 'image', path: vm.ctx.imageFile!, timeout: 60, image: { format: 'raw' } },
      vm.ctx,
      { logDir: vm.logDir, env: { ...process.env, PATH: '/nonexistent' } },
    );
    expect(r).toMatchObject({
      passed: false,
      reason: 'the format and size checks need qemu-img, which is not installed (Debian: apt-get install qemu-utils)',
    });
  });

  test('a file that does not exist fails', async () => {
    const r = await runTestEntry(
      { kind: 'image', path: path.join(vm.dir, 'never-built.qcow2'), timeout: 60 },
      vm.ctx,
      opts(),
    );
    expect(r).toMatchObject({ passed: false, reason: `${path.join(vm.dir, 'never-built.qcow2')} does not exist` });
  });
});
