/**
 * A server's way to ACTIVE or ERROR: after `bootDelayMs` in BUILD (or REBUILD,
 * REBOOT, powering on) its SSH endpoint starts and it becomes ACTIVE with a
 * console log, or it ends in ERROR with a fault. The timers live only while the
 * process runs; `resume` picks up boots a previous process left unfinished.
 */
import { CONSOLE_KEYS_BEGIN, CONSOLE_KEYS_END, describeHostKey, hostKeyFromLine } from '../common/ssh-host-keys';
import { nowIso } from './http';
import { NovaRegion } from './nova-api';
import { Server, ServerAddress } from './state';

/** The host keys as cloud-init's keys_to_console prints them: fingerprints through logger (`ec2:`), then the keys. */
const hostKeyLines = (s: Server, publicKeys: string[]) => {
  if (publicKeys.length === 0) return [];
  const comment = `root@${s.hostname}`;
  const rule = '#############################################################';
  const fingerprints = publicKeys.map((line) => {
    const k = hostKeyFromLine(line);
    return k ? describeHostKey(k).replace(' (', ` ${comment} (`) : line;
  });
  return [
    `ec2: ${rule}`,
    'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
    ...fingerprints.map((f) => `ec2: ${f}`),
    'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
    `ec2: ${rule}`,
    CONSOLE_KEYS_BEGIN,
    ...publicKeys.map((line) => `${line} ${comment}`),
    CONSOLE_KEYS_END,
  ];
};

const consoleLines = (s: Server, addresses: ServerAddress[], publicKeys: string[]) => [
  `[    0.000000] Linux version 6.1.0-emulated (emulator@openstack) #1 SMP`,
  `[    1.204511] Run /sbin/init as init process`,
  `Cloud-init v. 22.4.2 running 'init' at ${new Date().toUTCString()}. Up 3.21 seconds.`,
  ...addresses.map((a) => `ci-info: |  eth0  | True |  ${a.ip}  | 255.255.255.0 | global | ${a.mac} |`),
  `Cloud-init v. 22.4.2 running 'modules:config' at ${new Date().toUTCString()}.`,
  `${s.hostname} login: `,
  `Cloud-init v. 22.4.2 running 'modules:final' at ${new Date().toUTCString()}. Up 9.12 seconds.`,
  ...hostKeyLines(s, publicKeys),
  `Cloud-init v. 22.4.2 finished at ${new Date().toUTCString()}. Datasource DataSourceOpenStackLocal. Up 9.87 seconds`,
];

/** State that lives only while the process runs: pending boot timers (and late console lines). */
interface Pending {
  timer?: NodeJS.Timeout;
}

export class Boots {
  private readonly pending = new Map<string, Pending>();
  /** Timers that print cloud-init's final stage on an ACTIVE server's console. */
  private readonly lateConsole = new Map<string, NodeJS.Timeout>();

  constructor(private readonly nova: NovaRegion) {}

  /** Brings a server from BUILD (or REBUILD/REBOOT) to ACTIVE, or to ERROR when told to. */
  finish(s: Server, failBoot: boolean): void {
    const { cloud, region, hooks } = this.nova;
    const p: Pending = this.pending.get(s.id) ?? {};
    this.pending.set(s.id, p);
    p.timer = setTimeout(() => {
      this.pending.delete(s.id);
      if (!this.nova.rs().servers.includes(s)) return;
      const fail = (message: string, details: string) => {
        s.status = 'ERROR';
        s.vm_state = 'error';
        s.task_state = null;
        s.power_state = 0;
        s.fault = { code: 500, message, details, created: nowIso() };
        s.updated = nowIso();
        cloud.changed();
      };
      if (failBoot) {
        fail(
          cloud.faults.get('bootErrorMessage'),
          'Traceback (most recent call last):\n  File "nova/conductor/manager.py", in schedule_and_build_instances\nnova.exception.NoValidHost',
        );
        return;
      }
      const activate = () => {
        s.status = 'ACTIVE';
        s.vm_state = 'active';
        s.task_state = null;
        s.power_state = 1;
        s.launched_at ??= nowIso(true).replace('Z', '');
        s.updated = nowIso();
        if (hooks.console) {
          // a real guest writes its own console
          s.console_log = [];
          cloud.changed();
          cloud.onServerChange(region, s.id, 'active');
          return;
        }
        const keys = cloud.faults.get('consoleOmitsHostKeys') ? [] : hooks.hostKeys(region, s);
        const lines = consoleLines(s, s.addresses, keys);
        const delay = cloud.faults.get('consoleHostKeysDelayMs');
        const final = lines.findIndex((l) => l.includes("running 'modules:final'"));
        if (delay > 0 && final > 0) {
          // cloud-init's final stage comes later: the SSH server answers before the keys are printed
          const early = lines.slice(0, final);
          s.console_log = early;
          this.lateConsole.set(
            s.id,
            setTimeout(() => {
              this.lateConsole.delete(s.id);
              if (!this.nova.rs().servers.includes(s) || s.console_log !== early) return;
              s.console_log = lines;
              cloud.changed();
            }, delay),
          );
        } else {
          s.console_log = lines;
        }
        cloud.changed();
        cloud.onServerChange(region, s.id, 'active');
      };
      if (s.ssh_disabled || !s.addresses.length) return activate();
      hooks
        .startGuest(region, s)
        .then(activate, (err: Error) =>
          fail(`Build of instance ${s.id} aborted: ${err.message}`, String(err.stack ?? err.message)),
        );
    }, cloud.faults.get('bootDelayMs'));
  }

  /** Forgets a boot in progress (the server is going away). */
  cancel(serverId: string): void {
    const p = this.pending.get(serverId);
    if (p?.timer) clearTimeout(p.timer);
    this.pending.delete(serverId);
    clearTimeout(this.lateConsole.get(serverId));
    this.lateConsole.delete(serverId);
  }

  /** Servers that were mid-boot when a previous process stopped finish booting now. */
  resume(): void {
    for (const s of this.nova.rs().servers) {
      if (
        ['BUILD', 'REBUILD', 'REBOOT', 'HARD_REBOOT'].includes(s.status) ||
        (s.status === 'SHUTOFF' && s.task_state === 'powering-on')
      )
        this.finish(s, false);
    }
  }

  stopTimers(): void {
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    this.pending.clear();
    for (const t of this.lateConsole.values()) clearTimeout(t);
    this.lateConsole.clear();
  }
}
