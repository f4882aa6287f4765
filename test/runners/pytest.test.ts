import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTestEntry } from '../../activities/test-runners';
import { knownHostsText } from '../../common/ssh-host-keys';
import { BootedInstance, bootInstance, processesWith } from './instance';

function pytestWithFixtureModules(): string | undefined {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import pytest, testinfra, paramiko, novaclient, glanceclient'], {
      stdio: 'ignore',
    });
    return undefined;
  } catch {
    return 'Debian python3-pytest, -testinfra, -paramiko, -novaclient or -glanceclient is not installed';
  }
}

const missing = pytestWithFixtureModules();
if (missing) console.warn(`pytest runner tests skipped: ${missing}`);
const maybe = missing ? test.skip : test;

let vm: BootedInstance;

beforeAll(async () => {
  if (!missing) vm = await bootInstance('pytest-runner-vm');
});

afterAll(async () => {
  await vm?.stop();
});

function suite(name: string, files: Record<string, string>): string {
  const dir = path.join(vm.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), body);
  return dir;
}

describe('pytest tests', () => {
  maybe("dibctl's documented example passes as written", async () => {
    const dir = suite('example', {
      'test_hostname.py':
        "def test_hostname(ssh_backend, instance):\n    assert ssh_backend.check_output('hostname') == instance.name.lower()\n",
    });
    const lines: string[] = [];
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 120 }, vm.ctx, {
      logDir: vm.logDir,
      onOutput: (l) => lines.push(l),
    });
    expect(r).toMatchObject({ name: `pytest: ${dir}`, framework: 'pytest', passed: true, exitCode: 0 });
    expect(lines.some((l) => /test_hostname\.py::test_hostname PASSED/.test(l))).toBe(true);
  });

  maybe('every fixture of dibctl has its name and shape, the cloud clients use the test environment', async () => {
    const dir = suite('fixtures', {
      'test_fixtures.py': `
import os, stat, subprocess

def test_instance_and_flavor(instance, flavor, flavor_meta):
    assert instance.name == 'pytest-runner-vm'
    assert instance['id'] == instance.id
    assert instance.status == 'ACTIVE'
    assert list(instance.networks) == ['private']
    assert (flavor.name, flavor.id, flavor.ram, flavor.vcpus, flavor.disk) == ('m1.medium', '3', 4096, 2, 40)
    assert flavor.get_keys() == flavor_meta == {'hw:cpu_policy': 'shared', 'hw_rng:allowed': 'True'}

def test_addresses(ips, ips_v4, ips_v6, main_ip, network):
    assert ips == ips_v4 and ips_v6 == []
    assert main_ip == ips[0] and main_ip.startswith('127.')
    assert network[0]['network'] == 'private'
    assert network[0].addresses[0]['addr'] == main_ip

def test_ssh_dict_and_config(ssh, main_ip, instance):
    assert set(ssh) == {'ip', 'username', 'port', 'private_key_file', 'config', 'known_hosts', 'command_line', 'connector', 'key_name'}
    assert ssh['ip'] == main_ip and ssh['username'] == 'debian'
    assert ssh['key_name'] == 'kp-pytest-runner-vm' == instance.key_name
    port = [] if ssh['port'] == 22 else ['-p', str(ssh['port'])]
    assert ssh['connector'] == 'ssh://debian@' + main_ip + ''.join(':' + p for p in port[1:])
    assert ssh['command_line'] == ['ssh', '-o', 'UserKnownHostsFile=%s' % ssh['known_hosts'], '-o', 'StrictHostKeyChecking=yes',
        '-o', 'PasswordAuthentication=no', '-i', ssh['private_key_file']] + port + ['debian@' + main_ip]
    assert subprocess.check_output(ssh['command_line'] + ['hostname']).decode().strip() == instance.name
    config = open(ssh['config']).read()
    assert 'StrictHostKeyChecking yes' in config and 'UserKnownHostsFile %s' % ssh['known_hosts'] in config

def test_ssh_client_knows_the_pinned_host_keys(ssh_client, ssh, instance):
    import paramiko
    assert isinstance(ssh_client, paramiko.SSHClient)
    assert isinstance(ssh_client._policy, paramiko.RejectPolicy)
    ssh_client.connect(ssh['ip'], port=ssh['port'], username=ssh['username'], key_filename=ssh['private_key_file'], look_for_keys=False, allow_agent=False)
    _, out, _ = ssh_client.exec_command('hostname')
    assert out.read().decode().strip() == instance.name

def test_testinfra_host(ssh_backend):
    assert ssh_backend.run('exit 3').rc == 3
    assert ssh_backend.file('/bin/sh').exists

def test_ports(port, wait_for_port, ssh):
    assert port['port'] == ssh['port'] and port['timeout'] == 61 and port['wait_time'] == port['delay'] >= 0
    assert wait_for_port(ssh['port'], 5) is True
    assert wait_for_port(1, 1) is False

def test_environment_and_image(environment_variables, image_info, image_config):
    assert environment_variables['greeting'] == 'hello world' and environment_variables['Build_Tag'] == 'b-42'
    assert environment_variables['PATH'] == os.environ['PATH']
    assert 'DIBCTL_TEST_DATA' not in environment_variables
    assert os.environ['DIBCTL_GREETING'] == 'hello world'
    assert image_info.status == 'active' and image_info['name'] == 'img-pytest-runner-vm'
    assert image_config['tests']['environment_variables'] == {'greeting': 'hello world', 'Build_Tag': 'b-42'}
    assert 'label' not in image_config and 'environmentVariables' not in image_config['tests']

def test_nova_and_glance(nova, glance, instance, image_info):
    assert nova.servers.get(instance.id).name == instance.name
    assert glance.images.get(image_info.id)['name'] == image_info.name

def test_console_output(console_output):
    assert isinstance(console_output, str)

def test_data_file_is_private_and_secrets_not_in_argv():
    mode = stat.S_IMODE(os.stat(os.environ['DIBCTL_TEST_DATA']).st_mode)
    assert mode == 0o600
    open(os.environ['DATA_PATH_OUT'], 'w').write(os.environ['DIBCTL_TEST_DATA'])
    for pid in (os.getpid(), os.getppid()):
        assert b'demo-secret' not in open('/proc/%d/cmdline' % pid, 'rb').read()
`,
    });
    const pathOut = path.join(vm.dir, 'data-path');
    // the worker's variable reaches the test because tests.pass_environment names it
    const r = await runTestEntry(
      { kind: 'pytest', path: dir, timeout: 120 },
      { ...vm.ctx, passEnvironment: ['DATA_*'] },
      {
        logDir: vm.logDir,
        env: { ...process.env, DATA_PATH_OUT: pathOut },
      },
    );
    if (!r.passed) console.log(r.outputTail);
    expect(r).toMatchObject({ passed: true, exitCode: 0 });
    expect(r.outputTail).toMatch(/10 passed/);
    const dataFile = fs.readFileSync(pathOut, 'utf8');
    expect(fs.existsSync(dataFile)).toBe(false);
    expect(fs.existsSync(path.dirname(dataFile))).toBe(false);
    expect(fs.readFileSync(r.logFile!, 'utf8')).not.toContain(vm.emu.user.password);
  });

  maybe("instance makes novaclient's calls on Nova with the test environment's credentials", async () => {
    const dir = suite('instance-calls', {
      'test_instance_calls.py': `
import pytest

def test_calls(instance, main_ip):
    assert instance.networks == {'private': [main_ip]}
    assert instance.flavor['id'] and instance.image['id']
    assert [i.fixed_ips[0]['ip_address'] for i in instance.interface_list()] == [main_ip]
    assert 'BEGIN SSH HOST KEY KEYS' in instance.get_console_output()
    assert instance.get('status') == 'ACTIVE' and instance.get('nothing', 7) == 7
    assert instance.get() is None and instance.status == 'ACTIVE'
    assert instance.to_dict()['id'] == instance.id == instance['id']
    assert instance.manager.api is not None

def test_unknown_attribute(instance):
    with pytest.raises(AttributeError, match="instance.colour: neither a key of Nova's record"):
        instance.colour
    assert not hasattr(instance, 'colour')
`,
    });
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 120 }, vm.ctx, { logDir: vm.logDir });
    if (!r.passed) console.log(r.outputTail);
    expect(r).toMatchObject({ passed: true, exitCode: 0 });
    expect(r.outputTail).toMatch(/2 passed/);
  });

  maybe("instance's calls fail naming the call and why when the test environment has no credentials", async () => {
    const dir = suite('instance-no-cloud', {
      'test_reboot.py': 'def test_reboot(instance):\n    assert instance.name\n    instance.reboot()\n',
    });
    const ctx = { ...vm.ctx, testEnvironment: 'nowhere' };
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 60 }, ctx, { logDir: vm.logDir });
    expect(r).toMatchObject({ passed: false, reason: 'failed test_reboot.py::test_reboot (pytest exit code 1)' });
    expect(r.outputTail).toMatch(
      /instance\.reboot\(\) calls Nova, but there is no cloud client: credentials of test environment 'nowhere'/,
    );
  });

  maybe("without novaclient the instance's record still reads, and its calls fail naming the package", async () => {
    const dir = suite('instance-no-novaclient', {
      // as if python3-novaclient were not installed
      'conftest.py':
        "import sys\nfor m in ('novaclient', 'novaclient.client', 'novaclient.v2', 'novaclient.v2.servers'):\n    sys.modules[m] = None\n",
      'test_no_novaclient.py': `
import pytest

def test_record_reads(instance, main_ip):
    assert instance.name == 'pytest-runner-vm' and instance.networks == {'private': [main_ip]}
    with pytest.raises(AttributeError, match="instance.stop: not in Nova's record .* apt-get install python3-novaclient"):
        instance.stop

def test_reboot(instance):
    instance.reboot()
`,
    });
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 60 }, vm.ctx, { logDir: vm.logDir });
    expect(r).toMatchObject({
      passed: false,
      reason: 'failed test_no_novaclient.py::test_reboot (pytest exit code 1)',
    });
    expect(r.outputTail).toContain('test_no_novaclient.py::test_record_reads PASSED');
    expect(r.outputTail).toMatch(
      /instance\.reboot\(\) needs the Python module 'novaclient', which is not installed \(Debian: apt-get install python3-novaclient\)/,
    );
  });

  maybe('ssh_backend and ssh_client refuse an instance whose host key is not the pinned one', async () => {
    const other = path.join(vm.dir, 'other-host-key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const [type, key] = fs.readFileSync(`${other}.pub`, 'utf8').split(' ');
    const ssh = vm.ctx.ssh!;
    const knownHostsFile = path.join(vm.dir, 'known_hosts-wrong');
    fs.writeFileSync(knownHostsFile, knownHostsText(ssh.ip, ssh.port, [{ type, key }]), { mode: 0o600 });
    const ctx = {
      ...vm.ctx,
      ssh: { ...ssh, knownHostsFile, configFile: path.join(vm.dir, 'ssh_config-wrong') },
    };
    const dir = suite('wrong-host-key', {
      'test_wrong.py': `
import paramiko, pytest

def test_backend(ssh_backend):
    with pytest.raises(paramiko.BadHostKeyException):
        ssh_backend.run('true')

def test_client(ssh_client, ssh):
    with pytest.raises(paramiko.BadHostKeyException):
        ssh_client.connect(ssh['ip'], port=ssh['port'], username=ssh['username'], key_filename=ssh['private_key_file'], look_for_keys=False, allow_agent=False)
`,
    });
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 120 }, ctx, { logDir: vm.logDir });
    if (!r.passed) console.log(r.outputTail);
    expect(r).toMatchObject({ passed: true, exitCode: 0 });
    expect(r.outputTail).toMatch(/2 passed/);
  });

  maybe('the first failing test stops the rest and is named in the reason', async () => {
    const marker = path.join(vm.dir, 'pytest-ran-after-failure');
    const dir = suite('failing', {
      'test_a.py': `def test_kernel(ssh_backend):\n    assert ssh_backend.check_output('uname -s') == 'Plan9'\n\ndef test_after():\n    open(${JSON.stringify(marker)}, 'w').close()\n`,
    });
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 120 }, vm.ctx, { logDir: vm.logDir });
    expect(r).toMatchObject({
      passed: false,
      exitCode: 1,
      reason: 'failed test_a.py::test_kernel (pytest exit code 1)',
    });
    expect(r.outputTail).toContain("AssertionError: assert 'Linux' == 'Plan9'");
    expect(fs.existsSync(marker)).toBe(false);
  });

  maybe('with stop_on_failure false every test runs', async () => {
    const marker = path.join(vm.dir, 'pytest-kept-going');
    const dir = suite('keep-going', {
      'test_b.py': `def test_fails():\n    assert False\n\ndef test_after():\n    open(${JSON.stringify(marker)}, 'w').close()\n`,
    });
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 120, stopOnFailure: false }, vm.ctx, {
      logDir: vm.logDir,
    });
    expect(r.passed).toBe(false);
    expect(fs.existsSync(marker)).toBe(true);
  });

  maybe('a suite running past its time limit is killed with the processes it started', async () => {
    const tag = `34${String(Date.now()).slice(-6)}.5`;
    const dir = suite('slow', {
      'test_slow.py': `import subprocess\n\ndef test_hangs():\n    subprocess.Popen(['sleep', '${tag}'])\n    subprocess.run(['sleep', '${tag}'])\n`,
    });
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 3 }, vm.ctx, { logDir: vm.logDir });
    expect(r).toMatchObject({ passed: false, reason: 'time limit of 3 s exceeded; the process group was killed' });
    await new Promise((res) => setTimeout(res, 200));
    expect(processesWith(`sleep ${tag}`)).toEqual([]);
  });

  maybe('cloud fixtures fail with the reason when the test environment has no credentials', async () => {
    const dir = suite('no-cloud', { 'test_cloud.py': 'def test_nova(nova):\n    pass\n' });
    const ctx = { ...vm.ctx, testEnvironment: 'nowhere' };
    const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 60 }, ctx, { logDir: vm.logDir });
    expect(r.passed).toBe(false);
    expect(r.reason).toBe('error in test_cloud.py::test_nova (pytest exit code 1)');
    expect(r.outputTail).toMatch(/no cloud client: credentials of test environment 'nowhere': .*nowhere/);
  });

  test('without pytest the entry fails and names the packages to install', async () => {
    const r = await runTestEntry({ kind: 'pytest', path: __filename, timeout: 10 }, (vm ?? { ctx: {} }).ctx as never, {
      logDir: fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-nopytest-')),
      env: { ...process.env, DIBCTL_PYTHON: '/nonexistent/python3' },
    });
    expect(r).toMatchObject({ passed: false, framework: 'pytest' });
    expect(r.reason).toMatch(/^pytest is not installed \(Debian: apt-get install python3-pytest python3-testinfra/);
  });
});
