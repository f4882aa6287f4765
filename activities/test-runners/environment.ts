/**
 * dibctl's shell test environment: the DIBCTL_* variables every shell test
 * (and external test command) receives, and the ssh_config file they point to.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { InstanceTestContext, SshAccess } from './types';

/** Upper-cases a name and turns characters a shell variable cannot hold into `_`. */
export function variableName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

/** The ssh_config text for the instance: host key checks off, key only, as DIBCTL_SSH. */
export function sshConfigText(ssh: SshAccess): string {
  return [
    `Host ${ssh.ip}`,
    `    HostName ${ssh.ip}`,
    `    User ${ssh.username}`,
    `    Port ${ssh.port}`,
    `    IdentityFile ${ssh.privateKeyFile}`,
    '    IdentitiesOnly yes',
    '    StrictHostKeyChecking no',
    '    UserKnownHostsFile /dev/null',
    '    PasswordAuthentication no',
    '    LogLevel ERROR',
    '',
  ].join('\n');
}

/** The ssh command line dibctl gives tests (`-p` only when the port is not 22). */
export function sshCommandLine(ssh: Omit<SshAccess, 'commandLine' | 'configFile'>): string {
  const port = ssh.port && ssh.port !== 22 ? ` -p ${ssh.port}` : '';
  return `ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PasswordAuthentication=no -i ${ssh.privateKeyFile}${port} ${ssh.username}@${ssh.ip}`;
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
function dibctlVariables(ctx: InstanceTestContext, sshConfigFile?: string): Record<string, string> {
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
    // the key as Nova spells it (hw:cpu_policy), and a name a shell can expand
    v[`DIBCTL_FLAVOR_META_${k}`] = String(val);
    v[`DIBCTL_FLAVOR_META_${k.replace(/[^A-Za-z0-9_]/g, '_')}`] = String(val);
  }
  if (ctx.ssh) {
    v.DIBCTL_SSH_IP = ctx.ssh.ip;
    v.DIBCTL_SSH_USERNAME = ctx.ssh.username;
    v.DIBCTL_SSH_PORT = String(ctx.ssh.port);
    v.DIBCTL_SSH_PRIVATE_KEY = ctx.ssh.privateKeyFile;
    v.DIBCTL_SSH = ctx.ssh.commandLine || sshCommandLine(ctx.ssh);
    const config = sshConfigFile ?? ctx.ssh.configFile;
    if (config) v.DIBCTL_SSH_CONFIG = config;
  }
  for (const [k, val] of Object.entries(ctx.environmentVariables ?? {})) v[`DIBCTL_${variableName(k)}`] = val;
  return v;
}

/**
 * The whole environment of a shell or external test: the process environment,
 * tests.environment_variables under their own names (they override the process
 * environment, as in dibctl), then the DIBCTL_* variables.
 */
export function testProcessEnvironment(
  ctx: InstanceTestContext,
  sshConfigFile?: string,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  return { ...base, ...(ctx.environmentVariables ?? {}), ...dibctlVariables(ctx, sshConfigFile) };
}
