/**
 * Tests written for dibctl, run by `dibctl test` against the emulator: a
 * directory of shell tests with subdirectories, scripts that read files
 * relative to where dibctl was started, dibctl's variable names and shapes,
 * and the test keypair of each type reaching the instance over real SSH.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';
import { StageProject, stageProject } from './fixture';
import { NOTHING_LEFT, configArgs, dibctlEnv, dibctlObjects } from './cli-support';

/** Appends the script's name to order.log, relative to where the script runs. */
const RECORD = 'echo "$(basename "$0")" >> order.log';

/** Checks DIBCTL_IFACE_1_INFO against Nova's interface record shape, and the address fields kept beside it. */
const IFACE_CHECK = `python3 - <<'EOF'
import json, os, re, sys
i = json.loads(os.environ["DIBCTL_IFACE_1_INFO"])
uuid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
main_ip = os.environ["DIBCTL_MAIN_IP"]
problems = []
if not uuid.match(i.get("port_id", "")): problems.append("port_id")
if i.get("net_id") != os.environ["EXPECTED_NET_ID"]: problems.append("net_id")
if not re.match(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", i.get("mac_addr", "")): problems.append("mac_addr")
if i.get("port_state") != "ACTIVE": problems.append("port_state")
if [f.get("ip_address") for f in i.get("fixed_ips", [])] != [main_ip]: problems.append("fixed_ips")
if not uuid.match(i["fixed_ips"][0].get("subnet_id", "")): problems.append("subnet_id")
if i.get("network") != "private": problems.append("network")
if [a.get("addr") for a in i.get("addresses", [])] != [main_ip]: problems.append("addresses")
if "DIBCTL_IFACE_2_INFO" in os.environ: problems.append("a second interface")
if problems:
    sys.exit("DIBCTL_IFACE_1_INFO is not Nova's interface record: %s in %s" % (", ".join(problems), json.dumps(i)))
EOF`;

describe('tests written for dibctl, run by dibctl test against the emulator', () => {
  const temporal = useTemporal();
  let emu: Emulator;
  let stateDir: string;
  const projects: StageProject[] = [];

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], faults: { bootDelayMs: 200 } });
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-state-'));
    await temporal().startWorkers('dibctl', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterEach(() => emu.faults.reset());
  afterAll(async () => {
    for (const p of projects) await p.remove();
    await emu?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  async function script(p: StageProject, rel: string, body: string, shell = '/bin/sh'): Promise<void> {
    const file = path.join(p.dir, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, `#!${shell}\nset -e\n${RECORD}\n${body}\n`, { mode: 0o755 });
  }

  const dibctl = (p: StageProject, args: string[]) =>
    runDibctl([...args, ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir),
      timeoutMs: 120_000,
    });

  it("runs a dibctl test directory unchanged: subdirectories in dibctl's order, in the project directory, with dibctl's variables and an RSA key", async () => {
    const p = await stageProject(
      emu,
      'legacy',
      // the ssh entry reaches the instance through ssh2, not the ssh command
      {
        tests: [
          { shell: 'tests', timeout: 120 },
          { ssh: 'guest/check.sh', timeout: 60 },
        ],
      },
      { flavor: 'm1.medium' },
    );
    projects.push(p);
    // an external test that reads a file relative to the project, and the network the iface check expects
    const netId = emu.networks[emu.regions[0]].id;
    const images = (await fs.readFile(p.imagesConfig, 'utf8')).replace(
      'environment_variables: { GREETING: "hello" }',
      `environment_variables: { GREETING: "hello", EXPECTED_NET_ID: "${netId}" }`,
    );
    await fs.writeFile(
      p.imagesConfig,
      `${images}  external_tests:\n    - cmdline: "test -f data/motd && echo external >> order.log"\n`,
    );
    await fs.mkdir(path.join(p.dir, 'guest'));
    await fs.writeFile(
      path.join(p.dir, 'guest', 'check.sh'),
      '#!/bin/sh\necho "in the guest as $DIBCTL_INSTANCE_NAME"\ntest "$(hostname)" = "$DIBCTL_INSTANCE_NAME"\n',
    );
    await fs.mkdir(path.join(p.dir, 'data'));
    await fs.writeFile(path.join(p.dir, 'data', 'motd'), 'cirros\n');

    await script(
      p,
      'tests/10-ssh',
      [
        // the default test key is RSA, 3072 bits, and the instance accepts it
        'ssh-keygen -l -f "$DIBCTL_SSH_PRIVATE_KEY" | grep -q "^3072 .*(RSA)$"',
        'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"',
        'test "$(timeout 20 ssh -F "$DIBCTL_SSH_CONFIG" "$DIBCTL_SSH_IP" hostname)" = "$DIBCTL_INSTANCE_NAME"',
        'test "$(cat data/motd)" = cirros',
      ].join('\n'),
    );
    await script(p, 'tests/20-network/10-iface', IFACE_CHECK);
    await script(
      p,
      'tests/20-network/20-flavor',
      [
        'test "$(printenv DIBCTL_FLAVOR_META_HW:CPU_POLICY)" = shared',
        'test "$(printenv DIBCTL_FLAVOR_META_HW_RNG:ALLOWED)" = True',
        'test "$DIBCTL_FLAVOR_META_hw_cpu_policy" = shared',
        'test "$DIBCTL_GREETING" = hello',
      ].join('\n'),
      // dash, Debian's /bin/sh, drops variables whose name holds a ':' before its children see them
      '/bin/bash',
    );
    // the project directory, the parent of tests/, is where every script runs
    await script(p, 'tests/20-network.sh', 'test "$(pwd -P)" = "$(cd "$(dirname "$0")/.." && pwd -P)"');
    await script(p, 'tests/30-last', 'test -f images.yaml && test -f test.yaml');
    await fs.writeFile(path.join(p.dir, 'tests', '25-notes.txt'), 'not a test\n');

    const r = await dibctl(p, ['test', 'legacy']);
    expect(r.stdout + r.stderr).toMatch(/All tests passed successfully/);
    expect(r.stdout + r.stderr).toMatch(/in the guest as dibctl-/);
    expect(r.code).toBe(0);
    expect((await fs.readFile(path.join(p.dir, 'order.log'), 'utf8')).split('\n').filter(Boolean)).toEqual([
      'external',
      '10-ssh',
      '10-iface',
      '20-flavor',
      '20-network.sh',
      '30-last',
    ]);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('a cloud that refuses to list interfaces still runs the tests, with one {network, addresses} per network', async () => {
    const p = await stageProject(emu, 'no-os-interface', { tests: [{ shell: 'tests', timeout: 60 }] });
    projects.push(p);
    await script(
      p,
      'tests/check',
      `python3 - <<'EOF'
import json, os, sys
i = json.loads(os.environ["DIBCTL_IFACE_1_INFO"])
if i.get("network") != "private" or [a.get("addr") for a in i["addresses"]] != [os.environ["DIBCTL_MAIN_IP"]] or "port_id" in i:
    sys.exit("unexpected DIBCTL_IFACE_1_INFO: %s" % json.dumps(i))
EOF`,
    );
    emu.faults.set({ interfaceListForbidden: true });
    const r = await dibctl(p, ['test', 'no-os-interface']);
    expect(r.stdout + r.stderr).toMatch(/All tests passed successfully/);
    expect(r.code).toBe(0);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('tests.ssh.key_type: ed25519 makes an ed25519 test key that reaches the instance', async () => {
    const p = await stageProject(emu, 'modern', { tests: [{ shell: 'tests', timeout: 60 }], sshKeyType: 'ed25519' });
    projects.push(p);
    await script(
      p,
      'tests/check',
      [
        'ssh-keygen -l -f "$DIBCTL_SSH_PRIVATE_KEY" | grep -q "(ED25519)$"',
        'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"',
      ].join('\n'),
    );
    const r = await dibctl(p, ['test', 'modern']);
    expect(r.stdout + r.stderr).toMatch(/All tests passed successfully/);
    expect(r.code).toBe(0);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('tests.ssh.key_type: rsa written out is the default key, and a failing test still exits 80', async () => {
    const p = await stageProject(emu, 'explicit', { tests: [{ shell: 'tests', timeout: 60 }], sshKeyType: 'rsa' });
    projects.push(p);
    await script(
      p,
      'tests/check',
      ['ssh-keygen -l -f "$DIBCTL_SSH_PRIVATE_KEY" | grep -q "^3072 .*(RSA)$"', 'timeout 20 $DIBCTL_SSH "exit 3"'].join(
        '\n',
      ),
    );
    const r = await dibctl(p, ['test', 'explicit']);
    expect(r.stdout + r.stderr).toMatch(/Some tests failed/);
    expect(r.stdout + r.stderr).toMatch(/check: exit code 3/);
    expect(r.code).toBe(80);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });
});
