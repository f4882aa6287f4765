/**
 * `dibctl test` checks that the instance is who it says it is before sending
 * it any test: the SSH server at its address must present a host key its
 * console log prints (or, without any there, the key accepted on first use),
 * and every connection of the run is pinned to those keys.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImageOptions, StageProject } from './fixture';
import { NOTHING_LEFT, dibctlObjects, useStageCloud } from './cli-support';

/** Reaches the instance with $DIBCTL_SSH and prints the fingerprints its known_hosts pins. */
const PINNED = [
  'set -e',
  'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"',
  'case "$DIBCTL_SSH" in *"-o UserKnownHostsFile=$DIBCTL_SSH_KNOWN_HOSTS -o StrictHostKeyChecking=yes "*) ;; *) echo "not pinned: $DIBCTL_SSH"; exit 1 ;; esac',
  'ssh-keygen -l -f "$DIBCTL_SSH_KNOWN_HOSTS" | sed "s/^/pinned: /"',
].join('\n');

const FINGERPRINT = /\d+ SHA256:[A-Za-z0-9+/]{43} \((ED25519|ECDSA)\)/;

describe('dibctl test pins the instance SSH host key', () => {
  const stage = useStageCloud('dibctl-state-');
  const emu = () => stage.emu();
  async function project(image: ImageOptions, testBody: string): Promise<StageProject> {
    const p = await stage.project({ ...image, tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', testBody);
    return p;
  }

  const dibctl = stage.dibctl;

  /** The fingerprints the test printed from the known_hosts it was given. */
  const pinnedByTest = (stdout: string) => [...stdout.matchAll(/^pinned: \d+ (SHA256:\S+)/gm)].map((m) => m[1]);

  it('by default pins the keys the console log prints; the tests reach the instance through them', async () => {
    const p = await project({}, PINNED);
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const line = /^Host keys of (\S+) from its console log: (.*); (127\.[0-9.]+):22 presented (.*)$/m.exec(r.stdout);
    expect(line).not.toBeNull();
    const printed = line![2].split(', ');
    expect(printed).toHaveLength(2);
    for (const f of printed) expect(f).toMatch(FINGERPRINT);
    expect(printed).toContain(line![4]);
    expect(pinnedByTest(r.stdout).sort()).toEqual(printed.map((f) => f.split(' ')[1]).sort());
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('exits 71 when the server presents another key than its console log, sends no test and removes everything', async () => {
    const marker = path.join(os.tmpdir(), `dibctl-impostor-${process.pid}-${Date.now()}`);
    const p = await project({}, `touch ${marker}`);
    emu().faults.set({ sshWrongHostKey: true });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(71);
    const created = /Instance DIBCTL-\S+ created: (\S+)/.exec(r.stdout);
    expect(created).not.toBeNull();
    const message = new RegExp(
      `Host key mismatch: 127\\.[0-9.]+:22 \\(server ${created![1]}\\) presented ${FINGERPRINT.source}, ` +
        `but the host keys its console log lists are ${FINGERPRINT.source}, ${FINGERPRINT.source}; refusing to send tests there`,
    );
    expect(r.stderr).toMatch(message);
    await expect(fs.access(marker)).rejects.toThrow();
    expect(r.stdout).toMatch(/Removing instance/);
    expect(r.stdout).toMatch(/Removing ssh key/);
    expect(r.stdout).toMatch(/Removing image/);
    expect(r.stdout).toMatch(/Clearing done/);
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
    // nothing of the run stays on the worker host either
    const instances = path.join(stage.stateDir(), 'instances');
    const left = await fs.readdir(instances).catch(() => [] as string[]);
    for (const d of left) expect(await fs.readdir(path.join(instances, d))).not.toContain('known_hosts');
  });

  it('exits 71 when no SSH server answers to show its key (no wait_for_port), and removes everything', async () => {
    const p = await project({ waitForPort: null, portWaitTimeout: 2 }, PINNED);
    emu().faults.set({ sshNeverOpens: true });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(71);
    expect(r.stderr).toMatch(
      /No SSH server answered on 127\.[0-9.]+:22 \(server \S+\) within 2 s, so its host key could not be checked: /,
    );
    expect(r.stdout).toMatch(/Clearing done/);
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('first-use accepts the first key presented, prints its fingerprint and pins it for the run', async () => {
    const p = await project({ hostKeyCheck: 'first-use' }, PINNED);
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(0);
    const line = new RegExp(
      `^Host key of 127\\.[0-9.]+:22 accepted on first use: (${FINGERPRINT.source}); pinned for this run$`,
      'm',
    ).exec(r.stdout);
    expect(line).not.toBeNull();
    expect(r.stdout).not.toMatch(/from its console log/);
    expect(pinnedByTest(r.stdout)).toEqual([line![1].split(' ')[1]]);
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('a console log without host keys falls back to first use and says why', async () => {
    const p = await project({}, PINNED);
    emu().faults.set({ consoleOmitsHostKeys: true });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^No host keys in the console log of \S+ \(cloud-init finished without printing them\): accepting the first key presented$/m,
    );
    expect(r.stdout).toMatch(new RegExp(`accepted on first use: ${FINGERPRINT.source}; pinned for this run`));
    expect(pinnedByTest(r.stdout)).toHaveLength(1);
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('waits for keys printed late in boot, after the SSH port already answers', async () => {
    const p = await project({}, PINNED);
    emu().faults.set({ consoleHostKeysDelayMs: 4_000 });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(0);
    const port = /^Port 22 is open on \S+ \(after ([0-9.]+) s\)$/m.exec(r.stdout);
    expect(Number(port![1])).toBeLessThan(4);
    expect(r.stdout).toMatch(/^Host keys of \S+ from its console log: /m);
    expect(r.stdout).not.toMatch(/first use/);
    expect(pinnedByTest(r.stdout)).toHaveLength(2);
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('waits for the console no longer than port_wait_timeout, then accepts the first key', async () => {
    const p = await project({ portWaitTimeout: 3 }, PINNED);
    emu().faults.set({ consoleHostKeysDelayMs: 120_000 });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^No host keys in the console log of \S+ \(the console log does not show them yet after 3 s\): accepting the first key presented$/m,
    );
    expect(r.stdout).toMatch(/accepted on first use: /);
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('off (an unquoted YAML off) checks nothing and warns that the host is not verified', async () => {
    const p = await project(
      { hostKeyCheck: 'off' },
      [
        'set -e',
        'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"',
        'case "$DIBCTL_SSH" in "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "*) ;; *) exit 1 ;; esac',
        'test -z "$DIBCTL_SSH_KNOWN_HOSTS"',
      ].join('\n'),
    );
    emu().faults.set({ sshWrongHostKey: true });
    const r = await dibctl(p, ['test', 'cirros']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Warning: the host key of 127\.[0-9.]+:22 is not verified \(tests\.ssh\.host_key_check: off\): whoever answers there receives the tests$/m,
    );
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });
});
