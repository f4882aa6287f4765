/**
 * dibctl's shell test environment: the DIBCTL_* variables every shell test
 * (and external test command) receives, and the ssh_config file they point to.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSafeWord } from '../../common/shell';
import { sshCommandLine, sshOptionPath } from '../../common/ssh-command';
import { isSecretName } from '../process/scrub';
import type { InstanceTestContext, SshAccess } from './types';

/** Upper-cases a name and turns characters a shell variable cannot hold into `_`. */
export function variableName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

/** Upper case as dibctl's Python 2 `str.upper()` made it: ASCII letters only, nothing else changed. */
function asciiUpper(name: string): string {
  return name.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/** An ssh_config argument: double-quoted when it holds a space (ssh_config's own quoting). */
function configWord(word: string): string {
  return /[\s"]/.test(word) ? `"${word.replace(/"/g, '')}"` : word;
}

/**
 * The ssh_config text for the instance, as DIBCTL_SSH: key only, host keys
 * checked against the instance's known_hosts (not checked without one).
 */
export function sshConfigText(ssh: Omit<SshAccess, 'commandLine' | 'configFile'>): string {
  const hostKeys = ssh.knownHostsFile
    ? [`    UserKnownHostsFile ${sshOptionPath(ssh.knownHostsFile)}`, '    StrictHostKeyChecking yes']
    : ['    StrictHostKeyChecking no', '    UserKnownHostsFile /dev/null'];
  return [
    `Host ${ssh.ip}`,
    `    HostName ${ssh.ip}`,
    `    User ${ssh.username}`,
    `    Port ${ssh.port}`,
    `    IdentityFile ${configWord(ssh.privateKeyFile)}`,
    '    IdentitiesOnly yes',
    ...hostKeys,
    '    PasswordAuthentication no',
    '    LogLevel ERROR',
    '',
  ].join('\n');
}

export { sshCommandLine };

/**
 * Where a copy of the private key can live so that its path needs no quoting:
 * `dir` when its path is plain, else a private directory in the system's
 * temporary directory; undefined when neither is plain.
 */
function plainKeyDir(dir: string): string | undefined {
  if (isSafeWord(dir)) return dir;
  const tmp = path.join(os.tmpdir(), `dibctl-keys-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
  return isSafeWord(tmp) ? tmp : undefined;
}

/** A 0600 copy of `file` in `keyDir`, named after a hash of its path. */
function plainCopy(file: string, keyDir: string, prefix: string): string {
  const hash = createHash('sha256').update(file).digest('hex').slice(0, 16);
  const copy = path.join(keyDir, `${prefix}-${hash}`);
  fs.mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  fs.rmSync(copy, { force: true });
  fs.copyFileSync(file, copy);
  fs.chmodSync(copy, 0o600);
  return copy;
}

/**
 * The instance's access as shell tests see it. `$DIBCTL_SSH uname -a` relies
 * on word splitting, which cannot keep a quoted word together: when the key's
 * path (or the known_hosts file's) is not plain (a space, a quote, `$`...),
 * the file is copied (0600) to a plain path (`dir`, or the temporary
 * directory) and DIBCTL_SSH names the copy. Should no plain place exist, the
 * path stays quoted in DIBCTL_SSH, which then works through
 * `eval "$DIBCTL_SSH" ...` and `%(ssh)s` only.
 */
function plainSshAccess(ssh: SshAccess, dir: string): SshAccess {
  const plainKey = isSafeWord(ssh.privateKeyFile);
  const plainKnownHosts = !ssh.knownHostsFile || isSafeWord(ssh.knownHostsFile);
  if (plainKey && plainKnownHosts) return ssh;
  const keyDir = plainKeyDir(dir);
  if (!keyDir) return { ...ssh, commandLine: sshCommandLine(ssh) };
  const access = {
    ...ssh,
    ...(plainKey ? {} : { privateKeyFile: plainCopy(ssh.privateKeyFile, keyDir, 'ssh-key') }),
    ...(plainKnownHosts || !ssh.knownHostsFile
      ? {}
      : { knownHostsFile: plainCopy(ssh.knownHostsFile, keyDir, 'known_hosts') }),
  };
  return { ...access, commandLine: sshCommandLine(access) };
}

/**
 * The path of the instance's ssh_config file: the context's own when it exists,
 * otherwise written (0600) at the context's path, or in `fallbackDir` when the
 * context names none.
 */
export function ensureSshConfig(ssh: SshAccess, fallbackDir: string): string {
  if (ssh.configFile && fs.existsSync(ssh.configFile)) return ssh.configFile;
  const file = ssh.configFile || path.join(fallbackDir, `ssh_config-${ssh.ip}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, sshConfigText(ssh), { mode: 0o600 });
  return file;
}

/**
 * Variables dibctl sets for shell tests. `sshConfigFile` is the ssh_config to
 * announce (see ensureSshConfig).
 */
function dibctlVariables(ctx: InstanceTestContext, sshConfigFile?: string, keyDir?: string): Record<string, string> {
  const v: Record<string, string> = {
    DIBCTL_INSTANCE_UUID: ctx.instance.id,
    DIBCTL_INSTANCE_NAME: ctx.instance.name.toLowerCase(),
    DIBCTL_MAIN_IP: ctx.mainIp,
    DIBCTL_FLAVOR_ID: String(ctx.flavor.id),
    DIBCTL_FLAVOR_NAME: ctx.flavor.name,
    DIBCTL_FLAVOR_RAM: String(ctx.flavor.ram),
    DIBCTL_FLAVOR_VCPUS: String(ctx.flavor.vcpus),
    DIBCTL_FLAVOR_DISK: String(ctx.flavor.disk),
  };
  ctx.ips.forEach((ip, i) => (v[`DIBCTL_IP_${i + 1}`] = ip));
  ctx.interfaces.forEach((iface, i) => (v[`DIBCTL_IFACE_${i + 1}_INFO`] = JSON.stringify(iface)));
  for (const [k, val] of Object.entries(ctx.flavor.extraSpecs ?? {})) {
    // dibctl's name (DIBCTL_FLAVOR_META_HW:CPU_POLICY), the key as Nova spells it
    // (hw:cpu_policy), and a name a shell can expand (hw_cpu_policy)
    v[`DIBCTL_FLAVOR_META_${asciiUpper(k)}`] = String(val);
    v[`DIBCTL_FLAVOR_META_${k}`] = String(val);
    v[`DIBCTL_FLAVOR_META_${k.replace(/[^A-Za-z0-9_]/g, '_')}`] = String(val);
  }
  if (ctx.ssh) {
    const ssh = keyDir ? plainSshAccess(ctx.ssh, keyDir) : ctx.ssh;
    v.DIBCTL_SSH_IP = ssh.ip;
    v.DIBCTL_SSH_USERNAME = ssh.username;
    v.DIBCTL_SSH_PORT = String(ssh.port);
    v.DIBCTL_SSH_PRIVATE_KEY = ssh.privateKeyFile;
    v.DIBCTL_SSH = sshCommandLine(ssh);
    if (ssh.knownHostsFile) v.DIBCTL_SSH_KNOWN_HOSTS = ssh.knownHostsFile;
    const config = sshConfigFile ?? ctx.ssh.configFile;
    if (config) v.DIBCTL_SSH_CONFIG = config;
  }
  for (const [k, val] of Object.entries(ctx.environmentVariables ?? {})) {
    // dibctl's name (MY-VAR: DIBCTL_MY-VAR), and one a shell can expand (DIBCTL_MY_VAR)
    v[`DIBCTL_${asciiUpper(k)}`] = val;
    v[`DIBCTL_${variableName(k)}`] = val;
  }
  return v;
}

/** What every test gets of the worker's environment: what programs need to run, nothing that grants access. */
const ALWAYS_PASSED = new Set(['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM']);

/** dibctl's own connection and encryption settings: never passed to a test, whatever the config says. */
function isDibctlOwn(name: string): boolean {
  return name.startsWith('TEMPORAL_') || name.startsWith('DIBCTL_PAYLOAD_KEY');
}

/**
 * Variables that give access — cloud credentials, secret-named values, the
 * ssh agent: passed only when tests.pass_environment names them exactly,
 * never through a `*` pattern.
 */
function grantsAccess(name: string): boolean {
  return name.startsWith('OS_') || name === 'SSH_AUTH_SOCK' || isSecretName(name);
}

function passedBy(name: string, patterns: string[]): boolean {
  if (ALWAYS_PASSED.has(name) || name.startsWith('LC_')) return true;
  if (patterns.includes(name)) return true;
  if (grantsAccess(name)) return false;
  return patterns.some((p) => p.endsWith('*') && name.startsWith(p.slice(0, -1)));
}

/**
 * The part of the worker's environment a test process sees: the locale,
 * PATH, HOME and the like, plus what tests.pass_environment names (`NAME`,
 * `PREFIX*`, `*`). Cloud credentials and secret-named variables need their
 * exact name listed; Temporal settings and the payload key are never passed.
 */
export function passedEnvironment(base: NodeJS.ProcessEnv, patterns: string[] = []): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && !isDibctlOwn(name) && passedBy(name, patterns)) out[name] = value;
  }
  return out;
}

/**
 * The whole environment of a shell or external test: what passes of the
 * worker's environment (see passedEnvironment), tests.environment_variables
 * under their own names (over the worker's, as in dibctl), then the DIBCTL_*
 * variables. `keyDir`: where a copy of a private key whose path needs quoting
 * may go (see plainSshAccess).
 */
export function testProcessEnvironment(
  ctx: InstanceTestContext,
  sshConfigFile?: string,
  base: NodeJS.ProcessEnv = process.env,
  keyDir?: string,
): NodeJS.ProcessEnv {
  return {
    ...passedEnvironment(base, ctx.passEnvironment),
    ...(ctx.environmentVariables ?? {}),
    ...dibctlVariables(ctx, sshConfigFile, keyDir),
  };
}
