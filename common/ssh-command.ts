/**
 * The ssh command line dibctl shows and hands out for the test instance
 * (`DIBCTL_SSH`, `%(ssh)s`, the shell of `dibctl shell`, "to reach it: ...").
 * With a known_hosts file the host key is checked against it
 * (`StrictHostKeyChecking=yes`); without one (`tests.ssh.host_key_check: off`)
 * it is not checked at all, as dibctl did.
 *
 * Plain code without Node built-ins: the image-test workflow builds the line too.
 */
import { shellQuote } from './shell';

interface SshCommandTarget {
  ip: string;
  username: string;
  port: number;
  privateKeyFile: string;
  /** known_hosts pinning the instance's host keys; absent: host keys are not checked. */
  knownHostsFile?: string;
}

/**
 * A path as the value of an ssh option: ssh expands `%` tokens in
 * UserKnownHostsFile (so `%` is doubled) and splits its value at spaces
 * (so a path with spaces is double-quoted, which ssh's option parser honours).
 */
export function sshOptionPath(file: string): string {
  const escaped = file.replace(/%/g, '%%');
  return /[\s"]/.test(escaped) ? `"${escaped.replace(/"/g, '')}"` : escaped;
}

/** The `-o` options about host keys: pinned to the known_hosts file, or not checked. */
function hostKeyOptions(knownHostsFile?: string): string[] {
  return knownHostsFile
    ? ['-o', `UserKnownHostsFile=${sshOptionPath(knownHostsFile)}`, '-o', 'StrictHostKeyChecking=yes']
    : ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
}

/**
 * The words of `ssh -o UserKnownHostsFile=FILE -o StrictHostKeyChecking=yes -o
 * PasswordAuthentication=no -i KEY [-p PORT] user@ip`, unquoted: a list a
 * program runs without a shell (the pytest `ssh` fixture's `command_line`).
 */
export function sshCommandWords(ssh: SshCommandTarget): string[] {
  return [
    'ssh',
    ...hostKeyOptions(ssh.knownHostsFile),
    '-o',
    'PasswordAuthentication=no',
    '-i',
    ssh.privateKeyFile,
    ...(ssh.port && ssh.port !== 22 ? ['-p', String(ssh.port)] : []),
    `${ssh.username}@${ssh.ip}`,
  ];
}

/** The same command line for a shell: each word shell-quoted. */
export function sshCommandLine(ssh: SshCommandTarget): string {
  return sshCommandWords(ssh).map(shellQuote).join(' ');
}
