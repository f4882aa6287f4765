/**
 * external_tests: a command line with `%(name)s` placeholders, run by /bin/sh
 * beside the native tests with the same DIBCTL_* variables; exit 0 = pass.
 * Each value is shell-quoted for where it stands (see interpolateCommand).
 */
import { DEFAULTS } from '../../config/defaults';
import { CommandLine, interpolateCommand } from '../../common/shell';
import { RunOptions, errorText, limitMs, openLog, result, workingDirectory } from './entry';
import { ensureSshConfig, sshCommandLine, testProcessEnvironment } from './environment';
import { failureReason, runCommandLine } from '../process';
import type { InstanceTestContext, TestEntryResult } from './types';

interface ExternalSpec {
  cmdline: string;
  /** Seconds; 0 or absent: the default of a tests_list entry. */
  timeout?: number;
}

const EXTERNAL_DEFAULT_TIMEOUT = DEFAULTS['tests.tests_list[].timeout'];

/** The values `%(name)s` placeholders of an external test can name. */
function externalPlaceholders(ctx: InstanceTestContext, sshConfigFile?: string): Record<string, string | CommandLine> {
  const v: Record<string, string | CommandLine> = {
    filename: ctx.imageFile ?? '',
    label: String(ctx.imageConfig.label ?? ''),
    environment: ctx.testEnvironment,
    image_uuid: ctx.imageInfo.id,
    instance_uuid: ctx.instance.id,
    instance_name: ctx.instance.name.toLowerCase(),
    ip: ctx.mainIp,
    main_ip: ctx.mainIp,
    flavor_id: String(ctx.flavor.id),
    flavor_name: ctx.flavor.name,
  };
  if (ctx.ssh) {
    v.username = ctx.ssh.username;
    v.port = String(ctx.ssh.port);
    v.private_key_file = ctx.ssh.privateKeyFile;
    v.ssh_config = sshConfigFile ?? ctx.ssh.configFile;
    // a command line to run (`%(ssh)s uname -a`): its words are quoted already
    v.ssh = new CommandLine(sshCommandLine(ctx.ssh));
  }
  if (ctx.portWait) v.wait_for_port = String(ctx.portWait.port);
  return v;
}

export async function runExternal(
  spec: ExternalSpec,
  ctx: InstanceTestContext,
  opts: RunOptions,
): Promise<TestEntryResult> {
  const name = `external: ${spec.cmdline}`;
  const started = Date.now();
  const log = openLog('external', spec.cmdline.split(/\s+/)[0] ?? 'external', opts);
  const timeout = spec.timeout && spec.timeout > 0 ? spec.timeout : EXTERNAL_DEFAULT_TIMEOUT;
  let cmdline: string;
  let env: NodeJS.ProcessEnv;
  let cwd: string;
  try {
    cwd = workingDirectory(ctx);
    const sshConfig = ctx.ssh ? ensureSshConfig(ctx.ssh, opts.logDir) : undefined;
    cmdline = interpolateCommand(spec.cmdline, externalPlaceholders(ctx, sshConfig));
    env = testProcessEnvironment(ctx, sshConfig, opts.env, opts.logDir);
  } catch (err) {
    return result(name, 'external', started, log, { passed: false, reason: errorText(err) });
  }
  log.note(`dibctl: running ${cmdline}`);
  const outcome = await runCommandLine(cmdline, {
    cwd,
    env,
    timeoutMs: limitMs(timeout),
    signal: opts.signal,
    output: log,
  });
  const why = failureReason(outcome, timeout);
  return result(name, 'external', started, log, {
    passed: !why,
    exitCode: outcome.code,
    ...(why ? { reason: why } : {}),
  });
}
