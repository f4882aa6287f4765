/**
 * The host side of real guests' addresses: each fixed IP of a QEMU guest is
 * added to the loopback interface, so that connecting to the address Nova
 * reports reaches the guest's forwarded ports. The addresses carry a label
 * naming the process (`lo:dg<pid>`); a later process removes those of dead ones.
 */
import { spawnSync } from 'node:child_process';

function ip(args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, out: '', err: r.error.message };
  return { ok: r.status === 0, out: r.stdout, err: r.stderr.trim() };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

let swept = false;

/** Removes the addresses of processes that ended without removing them. */
function sweepStale(): void {
  if (swept) return;
  swept = true;
  const r = ip(['-o', '-4', 'addr', 'show', 'dev', 'lo']);
  if (!r.ok) return;
  for (const m of r.out.matchAll(/inet (\d+\.\d+\.\d+\.\d+\/32) .*\slo:dg(\d+)\b/g)) {
    if (alive(Number(m[2]))) continue;
    ip(['route', 'del', 'local', m[1].replace('/32', ''), 'dev', 'lo', 'table', 'local']);
    ip(['addr', 'del', m[1], 'dev', 'lo']);
  }
}

export class HostAddresses {
  private readonly label = `lo:dg${process.pid}`;
  private readonly held = new Set<string>();

  /** Makes `address` an address of this host; throws with what to do when the machine does not allow it. */
  add(address: string): void {
    if (this.held.has(address)) return;
    sweepStale();
    const r = ip(['addr', 'add', `${address}/32`, 'dev', 'lo', 'label', this.label]);
    if (!r.ok && !/exists/i.test(r.err))
      throw new Error(
        `cannot make ${address} an address of this host (ip addr add: ${r.err}); ` +
          'real guests need root (CAP_NET_ADMIN) and iproute2',
      );
    // Connections from this host to the address start from 127.0.0.1, not from the address itself:
    // QEMU's user network hands a guest connections from loopback as coming from its gateway, but
    // passes other sources through, and the guest drops packets that claim its own address.
    const route = ['local', address, 'dev', 'lo', 'table', 'local', 'proto', 'kernel', 'scope', 'host'];
    const src = ip(['route', 'replace', ...route, 'src', '127.0.0.1']);
    if (!src.ok) {
      ip(['addr', 'del', `${address}/32`, 'dev', 'lo']);
      throw new Error(`cannot route ${address} from 127.0.0.1 (ip route replace: ${src.err})`);
    }
    this.held.add(address);
  }

  remove(address: string): void {
    if (!this.held.delete(address)) return;
    ip(['route', 'del', 'local', address, 'dev', 'lo', 'table', 'local']);
    ip(['addr', 'del', `${address}/32`, 'dev', 'lo']);
  }

  /** Removes every address this object added. */
  close(): void {
    for (const a of [...this.held]) this.remove(a);
  }
}
