/**
 * Making sure the test instance is who it says it is before any test is sent
 * to it: its SSH host keys are read from its console log (where cloud-init
 * prints them late in boot), or accepted on first use when it prints none;
 * the SSH server at its address must present one of them, and they are pinned
 * in a known_hosts file (0600) in the instance's directory on the worker host,
 * which every later connection (ssh2 sessions, `DIBCTL_SSH`, the ssh_config,
 * pytest, the operator's shell) checks. Both steps keep alive through
 * stageActivities (their waits are bounded by the port wait's limit).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cancellationSignal } from '@temporalio/activity';
import { DibctlError, ExitCode, HostKeyMismatchError, describeError } from '../errors';
import {
  HostKey,
  cloudInitFinished,
  describeHostKey,
  knownHostsText,
  parseConsoleHostKeys,
} from '../common/ssh-host-keys';
import { CloudDeps, CloudRef, withCloud } from './cloud';
import { isTransient } from './stage-failure';
import { checkableHostKey, probeHostKey } from './test-runners/host-keys';

/** How often the console log is read while waiting for the keys. */
const CONSOLE_POLL_MS = 2_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ConsoleHostKeys {
  /** The keys of the console's last `SSH HOST KEY KEYS` block that dibctl can check; empty when there are none. */
  keys: HostKey[];
  /** Why there are none: what the console showed when dibctl stopped waiting. */
  missing?: string;
  /** Seconds dibctl waited for them. */
  waited: number;
}

interface PinnedHostKeys {
  /** The known_hosts file on the worker host. */
  knownHostsFile: string;
  /** Where the pinned keys come from. */
  source: 'console' | 'first-use';
  /** `256 SHA256:... (ED25519)` of every pinned key. */
  fingerprints: string[];
  /** The key the SSH server presented (one of those pinned). */
  presented: string;
}

/** The SSH server never answered, so there is no key to accept or check (exit 71, as an unreachable port). */
class HostKeyUnavailableError extends DibctlError {
  constructor(message: string) {
    super(message, ExitCode.PORT_TIMEOUT);
  }
}

export function createHostKeyActivities(deps: CloudDeps, instanceDir: (workflowId: string) => string) {
  /**
   * Reads the server's console log until it holds the host keys, cloud-init
   * says it finished without printing them, or `timeoutSeconds` pass. A cloud
   * that refuses console output (policy, an unsupported hypervisor) ends the
   * wait at once.
   */
  async function consoleHostKeys(input: {
    cloud: CloudRef;
    serverId: string;
    timeoutSeconds: number;
  }): Promise<ConsoleHostKeys> {
    const started = Date.now();
    const deadline = started + input.timeoutSeconds * 1000;
    const signal = cancellationSignal();
    const waited = () => Math.round((Date.now() - started) / 100) / 10;
    return withCloud(input.cloud, deps, async (cloud) => {
      let last = 'the console log was never read';
      for (;;) {
        try {
          const log = await cloud.compute.consoleOutput(input.serverId);
          const printed = parseConsoleHostKeys(log);
          const keys = printed.filter(checkableHostKey);
          if (keys.length > 0) return { keys, waited: waited() };
          if (printed.length > 0)
            return {
              keys: [],
              missing: `it prints only host key types dibctl cannot check: ${[...new Set(printed.map((k) => k.type))].join(', ')}`,
              waited: waited(),
            };
          if (cloudInitFinished(log))
            return { keys: [], missing: 'cloud-init finished without printing them', waited: waited() };
          last = log.trim() ? 'the console log does not show them yet' : 'the console log is empty';
        } catch (err) {
          if (!isTransient(err))
            return { keys: [], missing: `the console log is not available: ${describeError(err)}`, waited: waited() };
          last = `reading the console log failed: ${describeError(err)}`;
        }
        if (Date.now() >= deadline || signal.aborted)
          return { keys: [], missing: `${last} after ${input.timeoutSeconds} s`, waited: waited() };
        await sleep(Math.min(CONSOLE_POLL_MS, Math.max(deadline - Date.now(), 0)));
      }
    });
  }

  /**
   * Connects to the instance's SSH server and pins its host keys in the
   * instance's known_hosts: the console's keys when there are any (the server
   * must present one of them, else HostKeyMismatchError, exit 71), otherwise
   * the key it presents (first use). Keeps trying to reach the server for
   * `timeoutSeconds`.
   */
  async function pinHostKeys(input: {
    workflowId: string;
    serverId: string;
    ip: string;
    port: number;
    consoleKeys: HostKey[];
    timeoutSeconds: number;
  }): Promise<PinnedHostKeys> {
    const target = { ip: input.ip, port: input.port, serverId: input.serverId };
    const expected = input.consoleKeys.length > 0 ? input.consoleKeys : undefined;
    const deadline = Date.now() + input.timeoutSeconds * 1000;
    const signal = cancellationSignal();
    let probe: Awaited<ReturnType<typeof probeHostKey>> | undefined;
    while (!probe) {
      try {
        probe = await probeHostKey(target, {
          ...(expected ? { expected } : {}),
          timeoutMs: Math.max(Math.min(20_000, deadline - Date.now()), 2_000),
        });
      } catch (err) {
        if (Date.now() >= deadline || signal.aborted)
          throw new HostKeyUnavailableError(
            `No SSH server answered on ${input.ip}:${input.port} (server ${input.serverId}) within ${input.timeoutSeconds} s, ` +
              `so its host key could not be ${expected ? 'checked' : 'learned'}: ${describeError(err)}`,
          );
        await sleep(Math.min(1_000, Math.max(deadline - Date.now(), 0)));
      }
    }
    if (!probe.matches)
      throw new HostKeyMismatchError(
        target,
        input.consoleKeys.map(describeHostKey),
        describeHostKey(probe.presented),
        'the host keys its console log lists',
      );
    const keys = expected ?? [probe.presented];
    const dir = instanceDir(input.workflowId);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const knownHostsFile = path.join(dir, 'known_hosts');
    await fs.writeFile(`${knownHostsFile}.tmp`, knownHostsText(input.ip, input.port, keys), { mode: 0o600 });
    await fs.chmod(`${knownHostsFile}.tmp`, 0o600);
    await fs.rename(`${knownHostsFile}.tmp`, knownHostsFile);
    return {
      knownHostsFile,
      source: expected ? 'console' : 'first-use',
      fingerprints: keys.map(describeHostKey),
      presented: describeHostKey(probe.presented),
    };
  }

  return { consoleHostKeys, pinHostKeys };
}
