/**
 * The instance's SSH host keys: read from a console log as cloud-init prints
 * them, described as ssh-keygen does, pinned in a known_hosts file that
 * dibctl's ssh2 sessions, `$DIBCTL_SSH` and the ssh_config (with the system
 * ssh) all check.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTestEntry } from '../../activities/test-runners';
import { SshSession } from '../../activities/test-runners/ssh-session';
import { sshCommandLine } from '../../common/ssh-command';
import {
  HostKey,
  describeHostKey,
  knownHostKeys,
  knownHostsText,
  parseConsoleHostKeys,
} from '../../common/ssh-host-keys';
import { HostKeyMismatchError } from '../../errors';
import { BootedInstance, bootInstance, script } from './instance';

let dir: string;
const made: Record<string, { pub: string; key: HostKey; keygen: string }> = {};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-host-keys-'));
  for (const [type, extra] of [
    ['ed25519', []],
    ['ecdsa', ['-b', '384']],
    ['rsa', ['-b', '2048']],
  ] as const) {
    const file = path.join(dir, `ssh_host_${type}_key`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...extra, '-N', '', '-C', 'root@guest', '-f', file]);
    const pub = fs.readFileSync(`${file}.pub`, 'utf8').trim();
    const [t, k] = pub.split(' ');
    made[type] = {
      pub,
      key: { type: t, key: k },
      keygen: execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).trim(),
    };
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A console log the way a real guest prints one: kernel lines, cloud-init, the two blocks. */
function consoleLog(keyLines: string[], eol = '\n'): string {
  return [
    '[    0.000000] Linux version 6.1.0-13-amd64',
    'ec2: #############################################################',
    'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
    'ec2: 256 SHA256:2o1ZqkB2n3Y0cQ2t7YbQmKfS4D8kX8cQ5fJ8oZbY9uA root@guest (ED25519)',
    'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
    '-----BEGIN SSH HOST KEY KEYS-----',
    ...keyLines,
    '-----END SSH HOST KEY KEYS-----',
    'Cloud-init v. 22.4.2 finished at Tue, 01 Dec 2026 10:00:00 +0000. Up 9.87 seconds',
    'guest login: ',
  ].join(eol);
}

describe('host keys in the console log', () => {
  test('every key of the block is read, whatever its type, in the order printed', () => {
    const log = consoleLog([made.ecdsa.pub, made.ed25519.pub, made.rsa.pub]);
    expect(parseConsoleHostKeys(log)).toEqual([made.ecdsa.key, made.ed25519.key, made.rsa.key]);
  });

  test('CRLF line ends, prefixes, a missing comment and garbage lines around and inside the block', () => {
    const log =
      '\u001b[0m\u0000garbage\r\n' +
      consoleLog(
        [
          `[   12.345678] cloud-init[734]: ${made.ed25519.pub}`,
          'this line holds no key',
          'ssh-ed25519 not-base64!!',
          `ssh-ed25519 ${made.rsa.key.key}`, // the blob names another type: not a key
          made.rsa.key.type + ' ' + made.rsa.key.key,
          made.ed25519.pub, // printed twice: kept once
        ],
        '\r\n',
      ) +
      '\r\nmore garbage after the block\r\n';
    expect(parseConsoleHostKeys(log)).toEqual([made.ed25519.key, made.rsa.key]);
  });

  test('no block, an unfinished block, or a key outside any block give no keys', () => {
    expect(parseConsoleHostKeys('')).toEqual([]);
    expect(parseConsoleHostKeys(`Cloud-init v. 22.4.2 finished\n${made.ed25519.pub}\n`)).toEqual([]);
    expect(parseConsoleHostKeys(`-----BEGIN SSH HOST KEY KEYS-----\n${made.ed25519.pub}\n`)).toEqual([]);
    expect(parseConsoleHostKeys(consoleLog(['no keys here']))).toEqual([]);
  });

  test('after a reboot the last complete block counts', () => {
    const log = `${consoleLog([made.rsa.pub])}\n${consoleLog([made.ed25519.pub])}\n-----BEGIN SSH HOST KEY KEYS-----\n${made.ecdsa.pub}\n`;
    expect(parseConsoleHostKeys(log)).toEqual([made.ed25519.key]);
  });

  test('fingerprints read as ssh-keygen -l shows them', () => {
    for (const m of Object.values(made)) {
      expect(m.keygen.replace(' root@guest', '')).toBe(describeHostKey(m.key));
    }
  });

  test('known_hosts lines name the host as OpenSSH does and read back', () => {
    const keys = [made.ed25519.key, made.rsa.key];
    expect(knownHostsText('10.0.0.5', 22, keys)).toBe(
      `10.0.0.5 ${made.ed25519.pub.split(' ').slice(0, 2).join(' ')}\n10.0.0.5 ${made.rsa.key.type} ${made.rsa.key.key}\n`,
    );
    const text = `# comment\n${knownHostsText('10.0.0.5', 2222, keys)}${knownHostsText('10.0.0.6', 2222, [made.ecdsa.key])}`;
    expect(text).toContain(`[10.0.0.5]:2222 ssh-ed25519 `);
    expect(knownHostKeys(text, '10.0.0.5', 2222)).toEqual(keys);
    expect(knownHostKeys(text, '10.0.0.5', 22)).toEqual([]);
  });

  test('the ssh command line pins the known_hosts file, with % and spaces in its path escaped for ssh', () => {
    const base = { ip: '10.0.0.5', username: 'debian', port: 22, privateKeyFile: '/k/id' };
    expect(sshCommandLine({ ...base, knownHostsFile: '/s/known_hosts' })).toBe(
      'ssh -o UserKnownHostsFile=/s/known_hosts -o StrictHostKeyChecking=yes -o PasswordAuthentication=no -i /k/id debian@10.0.0.5',
    );
    const odd = sshCommandLine({ ...base, knownHostsFile: '/s/100% sure/known_hosts' });
    const argv = execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${odd}`], { encoding: 'utf8' }).split('\n');
    expect(argv[2]).toBe('UserKnownHostsFile="/s/100%% sure/known_hosts"');
  });
});

describe('pinned connections to an instance on the emulator', () => {
  let vm: BootedInstance;
  let wrongKnownHosts: string;
  beforeAll(async () => {
    vm = await bootInstance('host-keys-vm');
    const ssh = vm.ctx.ssh!;
    wrongKnownHosts = path.join(vm.dir, 'known_hosts-wrong');
    fs.writeFileSync(wrongKnownHosts, knownHostsText(ssh.ip, ssh.port, [made.ed25519.key, made.ecdsa.key]), {
      mode: 0o600,
    });
  });
  afterAll(() => vm?.stop());

  test('an ssh2 session accepts the instance when it presents a pinned key', async () => {
    const s = await SshSession.connect(vm.ctx.ssh!);
    expect((await s.exec('hostname')).stdout.trim()).toBe('host-keys-vm');
    s.close();
  });

  test('an ssh2 session refuses an instance presenting another key, naming both fingerprints', async () => {
    const ssh = vm.ctx.ssh!;
    const err = await SshSession.connect({ ...ssh, knownHostsFile: wrongKnownHosts }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HostKeyMismatchError);
    const message = (err as Error).message;
    expect(message).toContain(`${ssh.ip}:${ssh.port}`);
    expect(message).toContain(describeHostKey(made.ed25519.key));
    expect(message).toMatch(/presented 256 SHA256:\S+ \((ED25519|ECDSA)\)/);
    expect((err as HostKeyMismatchError).exitCode).toBe(71);
  });

  test('an ssh entry fails with the mismatch when the instance presents another key', async () => {
    const file = script(path.join(vm.dir, 'ssh-tests', 'in-guest.sh'), '#!/bin/sh\ntrue\n');
    const ctx = { ...vm.ctx, ssh: { ...vm.ctx.ssh!, knownHostsFile: wrongKnownHosts } };
    const r = await runTestEntry({ kind: 'ssh', path: file, timeout: 30 }, ctx, { logDir: vm.logDir });
    expect(r.passed).toBe(false);
    expect(r.reason).toMatch(/^Host key mismatch: /);
  });

  test('$DIBCTL_SSH and the ssh_config reach the instance with the system ssh, and refuse another key', async () => {
    const suite = path.join(vm.dir, 'shell-pinned');
    script(
      path.join(suite, '10-pinned'),
      [
        '#!/bin/sh',
        'set -e',
        'test "$(timeout 30 $DIBCTL_SSH hostname)" = host-keys-vm',
        'test "$(timeout 30 ssh -F "$DIBCTL_SSH_CONFIG" "$DIBCTL_SSH_IP" hostname)" = host-keys-vm',
        'echo pinned ok',
        '',
      ].join('\n'),
    );
    const ok = await runTestEntry({ kind: 'shell', path: suite, timeout: 60 }, vm.ctx, { logDir: vm.logDir });
    expect(ok.outputTail).toContain('pinned ok');
    expect(ok.passed).toBe(true);

    const refusing = path.join(vm.dir, 'shell-refused');
    script(
      path.join(refusing, '10-refused'),
      [
        '#!/bin/sh',
        'if timeout 30 $DIBCTL_SSH true 2>"$0.err1"; then echo "DIBCTL_SSH connected"; exit 1; fi',
        'if timeout 30 ssh -F "$DIBCTL_SSH_CONFIG" "$DIBCTL_SSH_IP" true 2>"$0.err2"; then echo "ssh_config connected"; exit 1; fi',
        'cat "$0.err1" "$0.err2"',
        '',
      ].join('\n'),
    );
    const ctx = {
      ...vm.ctx,
      ssh: {
        ...vm.ctx.ssh!,
        knownHostsFile: wrongKnownHosts,
        configFile: path.join(vm.dir, 'ssh_config-wrong'),
        commandLine: sshCommandLine({ ...vm.ctx.ssh!, knownHostsFile: wrongKnownHosts }),
      },
    };
    const refused = await runTestEntry({ kind: 'shell', path: refusing, timeout: 60 }, ctx, { logDir: vm.logDir });
    expect(refused.passed).toBe(true);
    expect(refused.outputTail).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });
});
