/**
 * `ssh:` tests: a script copied to the instance and run there as the image's
 * SSH user (with `sudo -n` when the entry says `sudo: true`); its exit code
 * decides. tests.environment_variables are set for it (DIBCTL_<NAME> and as
 * named). The script is removed afterwards; on the time limit, its processes
 * on the instance are killed.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { RunOptions, errorText, limitMs, openLog, result } from './entry';
import { variableName } from './environment';
import { SshSession, shellQuote } from './ssh-session';
import type { InstanceTestContext, TestEntryResult } from './types';

interface SshSpec {
  path: string;
  timeout: number;
  sudo?: boolean;
}

export async function runSsh(spec: SshSpec, ctx: InstanceTestContext, opts: RunOptions): Promise<TestEntryResult> {
  const name = `ssh: ${spec.path}`;
  const started = Date.now();
  const log = openLog('ssh', spec.path, opts);
  const fail = (reason: string, exitCode?: number | null) =>
    result(name, 'ssh', started, log, { passed: false, reason, ...(exitCode !== undefined ? { exitCode } : {}) });
  if (!ctx.ssh) return fail('the image has no tests.ssh section: no SSH access to the instance');
  if (!fs.existsSync(spec.path) || !fs.statSync(spec.path).isFile()) return fail(`${spec.path} is not a file`);
  const limit = limitMs(spec.timeout);
  const remote = `/tmp/dibctl-test-${randomUUID()}-${path.basename(spec.path).replace(/[^A-Za-z0-9._-]/g, '_')}`;
  let session: SshSession | undefined;
  try {
    session = await SshSession.connect(ctx.ssh, { readyTimeoutMs: Math.min(limit ?? 30_000, 30_000) });
    await session.upload({ file: spec.path }, remote, { mode: 0o755 });
    const vars: Record<string, string> = {
      DIBCTL_INSTANCE_UUID: ctx.instance.id,
      DIBCTL_INSTANCE_NAME: ctx.instance.name.toLowerCase(),
      DIBCTL_MAIN_IP: ctx.mainIp,
    };
    for (const [k, v] of Object.entries(ctx.environmentVariables ?? {})) {
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) vars[k] = v;
      vars[`DIBCTL_${variableName(k)}`] = v;
    }
    // the values go in a file only the user can read, never on a command line other users see in ps
    const envFile = shellQuote(`${remote}.env`);
    const assignments = Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}\n`);
    await session.upload(assignments.join(''), `${remote}.env`, { mode: 0o600 });
    // the shell records its pid, reads and removes the variables, then becomes the script: sshd made it a process group leader
    const command = `echo $$ > ${shellQuote(`${remote}.pid`)}; set -a; . ${envFile}; set +a; rm -f ${envFile}; exec ${remote}`;
    log.note(`dibctl: running ${remote} on ${ctx.ssh.username}@${ctx.ssh.ip}${spec.sudo ? ' with sudo' : ''}`);
    const remaining = limit !== undefined ? Math.max(1, started + limit - Date.now()) : undefined;
    const pidFile = shellQuote(`${remote}.pid`);
    // kill the script's process group (and children) on the instance while it still runs, then cut the channel
    const kill = `p=$(cat ${pidFile} 2>/dev/null); if [ -n "$p" ]; then kill -KILL -- -$p 2>/dev/null; pkill -KILL -P $p 2>/dev/null; kill -KILL $p 2>/dev/null; fi; rm -f ${shellQuote(remote)} ${pidFile} ${envFile}`;
    const cut = new AbortController();
    let stopping: 'time' | 'cancel' | undefined;
    const stop = (why: 'time' | 'cancel') => {
      if (stopping) return;
      stopping = why;
      log.note(
        why === 'time'
          ? `dibctl: time limit of ${spec.timeout} s reached, killing the script on the instance`
          : 'dibctl: cancelled, killing the script on the instance',
      );
      void session!
        .exec(kill, { sudo: spec.sudo, timeoutMs: 10_000 })
        .catch(() => undefined)
        .finally(() => setTimeout(() => cut.abort(), 1_000).unref());
    };
    const timer = remaining !== undefined ? setTimeout(() => stop('time'), remaining) : undefined;
    const onAbort = () => stop('cancel');
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const r = await session
      .exec(command, {
        sudo: spec.sudo,
        signal: cut.signal,
        onStdout: (d) => log.write(d, 'stdout'),
        onStderr: (d) => log.write(d, 'stderr'),
      })
      .finally(() => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      });
    if (stopping) {
      return fail(
        stopping === 'time'
          ? `time limit of ${spec.timeout} s exceeded; the script was killed on the instance`
          : 'cancelled; the script was killed on the instance',
        null,
      );
    }
    await session
      .exec(`rm -f ${shellQuote(remote)} ${shellQuote(`${remote}.pid`)} ${envFile}`, {
        sudo: spec.sudo,
        timeoutMs: 10_000,
      })
      .catch(() => undefined);
    if (r.code === 0) return result(name, 'ssh', started, log, { passed: true, exitCode: 0 });
    if (
      spec.sudo &&
      r.code === 1 &&
      /sudo: (a password is required|.*not in the sudoers|a terminal is required)/.test(r.stderr)
    ) {
      return fail(`sudo refused on the instance: ${r.stderr.trim().split('\n')[0]}`, r.code);
    }
    return fail(
      r.code === null ? `killed by ${r.signal ?? 'a signal'} on the instance` : `exit code ${r.code} on the instance`,
      r.code,
    );
  } catch (err) {
    return fail(errorText(err));
  } finally {
    session?.close();
  }
}
