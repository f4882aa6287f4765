/**
 * The side effects of an image test: an SSH keypair made on the worker, the
 * test instance, the wait for its port, the tests, and the cleanups. Every
 * create looks for what an earlier attempt made (by the deterministic name
 * `DIBCTL-<uuid>`) before making anything; every cleanup finds its objects the
 * same way, so a create whose answer was lost is still undone.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cancellationSignal, heartbeat } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { loadImageEntry, loadTestEnvironment, loadTestPlan } from '../config';
import type { Nic, SshKeyType } from '../config';
import { DEFAULTS } from '../config/defaults';
import { DibctlError, ExitCode } from '../errors';
import { Cloud, OpenStackHttpError, Server } from '../openstack';
import { CloudDeps, CloudRef, ConfigLocation, retryTransient, withCloud } from './cloud';
import { capture } from './process';
import { createHostKeyActivities } from './host-key-pinning';
import { stageActivities } from './stage-failure';
import { runTestEntry, sshCommandLine, sshConfigText } from './test-runners';
import type { TestEntrySpec } from './test-runners';
import type { FlavorInfo, InstanceTestContext, InterfaceInfo, TestEntryResult } from './test-runners/types';

interface ImageTestDeps extends CloudDeps {
  env?: NodeJS.ProcessEnv;
}

/** The port did not accept connections in time (exit 71). */
class PortWaitTimeoutError extends DibctlError {
  constructor(
    readonly ip: string,
    readonly port: number,
    readonly seconds: number,
  ) {
    super(`Instance is not accepting connection on ${ip}:${port} after ${seconds} s`, ExitCode.PORT_TIMEOUT);
  }
}

/** The id of the image a server was booted from; none for a server booted from a volume. */
function serverImageId(server: Record<string, unknown>): string | undefined {
  const image = server.image;
  if (image && typeof image === 'object' && typeof (image as { id?: unknown }).id === 'string')
    return (image as { id: string }).id;
  return undefined;
}

/** The server's addresses do not give one main IP. */
class MainIpError extends DibctlError {}

/** Where this worker keeps per-workflow files (keys, ssh_config, test logs). */
function instanceDir(workflowId: string, env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.DIBCTL_STATE_DIR || path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'dibctl');
  return path.join(base, 'instances', workflowId.replace(/[^A-Za-z0-9._-]+/g, '_'));
}

export interface KeypairFiles {
  dir: string;
  privateKeyFile: string;
  publicKey: string;
}

interface BootRequest {
  cloud: CloudRef;
  name: string;
  imageId: string;
  flavor?: string;
  flavorId?: string;
  nics: Nic[];
  keyName?: string;
  configDrive?: boolean;
  availabilityZone?: string;
  /** Sent by older workflows, never used: the user data is read from the config on this host. */
  userdata?: string;
  userdataFile?: string;
  /** Limit of the create request itself (nova.create_timeout). */
  createTimeoutSeconds: number;
}

/** What the tests and the operator learn about the booted instance. */
export interface InstanceFacts {
  server: Record<string, unknown> & { id: string; name: string };
  flavor: FlavorInfo;
  ips: string[];
  ipsV4: string[];
  ipsV6: string[];
  mainIp: string;
  interfaces: InterfaceInfo[];
}

interface TestRunRequest {
  cloud: CloudRef;
  workflowId: string;
  facts: InstanceFacts;
  /** The image under test; none for an existing instance, whose own image is then described. */
  imageId?: string;
  imageConfig: Record<string, unknown>;
  imageFile?: string;
  ssh?: { username: string; port: number };
  privateKeyFile?: string;
  /** The instance's known_hosts (from pinHostKeys); absent: host keys are not checked. */
  knownHostsFile?: string;
  portWait?: { port: number; timeout: number; waited: number };
  /** Sent by older workflows, never used: the variables and tests are read from the config on this host. */
  environmentVariables?: Record<string, string>;
  tests?: TestEntrySpec[];
  externalTests?: string[];
  testEnvironment: string;
  config: ConfigLocation;
}

interface TestRunResult {
  passed: boolean;
  results: TestEntryResult[];
  logDir: string;
}

/** Heartbeat details of long steps: counts and short status, never output that could hold secrets. */
export interface StepHeartbeat {
  step: string;
  detail?: string;
  lines?: number;
  /** Where the test logs are written on this host. */
  logDir?: string;
}

function flavorInfo(
  server: Server,
  extra: { id: string; name: string; ram: number; vcpus: number; disk: number; extraSpecs: Record<string, string> },
): FlavorInfo {
  return { ...extra, id: extra.id || String(server.flavor.id ?? '') };
}

/** dibctl's rule: the addresses of the networks matching main_nic_regexp; exactly one network must match. */
export function chooseMainIp(addresses: Server['addresses'], mainNicRegexp?: string): string {
  const networks = Object.keys(addresses);
  let candidates = networks;
  if (mainNicRegexp) {
    const re = new RegExp(mainNicRegexp);
    candidates = networks.filter((n) => re.test(n));
    if (candidates.length === 0)
      throw new MainIpError(
        `No network of the instance matches main_nic_regexp '${mainNicRegexp}' (networks: ${networks.join(', ') || 'none'})`,
      );
    if (candidates.length > 1)
      throw new MainIpError(
        `Several networks of the instance match main_nic_regexp '${mainNicRegexp}': ${candidates.join(', ')}`,
      );
  } else if (networks.length > 1) {
    throw new MainIpError(
      `The instance is on several networks (${networks.join(', ')}) and the test environment has no nova.main_nic_regexp: set it to the network dibctl reaches the instance on, e.g. main_nic_regexp: '^${networks[0]}$'`,
    );
  }
  const addr = candidates.flatMap((n) => addresses[n] ?? [])[0];
  if (!addr)
    throw new MainIpError(
      `The instance has no address${mainNicRegexp ? ` on a network matching '${mainNicRegexp}'` : ''}`,
    );
  return addr.addr;
}

/** Fields of a Nova server record that may hold secrets: user data (shown to admins) and the admin password. */
const SERVER_FIELDS_KEPT_ON_THE_CLOUD = ['OS-EXT-SRV-ATTR:user_data', 'adminPass'];

async function facts(cloud: Cloud, server: Server, mainNicRegexp?: string): Promise<InstanceFacts> {
  const flavorId = String(server.flavor.id ?? server.flavor.original_name ?? '');
  let flavor: FlavorInfo;
  try {
    const f = await cloud.compute.findFlavor(flavorId, { extraSpecs: true });
    flavor = flavorInfo(server, {
      id: f.id,
      name: f.name,
      ram: f.ram,
      vcpus: f.vcpus,
      disk: f.disk,
      extraSpecs: f.extra_specs ?? {},
    });
  } catch {
    const f = server.flavor;
    flavor = flavorInfo(server, {
      id: flavorId,
      name: String(f.original_name ?? flavorId),
      ram: Number(f.ram ?? 0),
      vcpus: Number(f.vcpus ?? 0),
      disk: Number(f.disk ?? 0),
      extraSpecs: f.extra_specs ?? {},
    });
  }
  const all = Object.values(server.addresses ?? {}).flat();
  // the record goes into history: not the user data Nova shows an admin, nor a generated password
  const record = JSON.parse(JSON.stringify(server)) as InstanceFacts['server'];
  for (const key of SERVER_FIELDS_KEPT_ON_THE_CLOUD) delete record[key];
  return {
    server: record,
    flavor,
    ips: all.map((a) => a.addr),
    ipsV4: all.filter((a) => a.version === 4).map((a) => a.addr),
    ipsV6: all.filter((a) => a.version === 6).map((a) => a.addr),
    mainIp: chooseMainIp(server.addresses ?? {}, mainNicRegexp),
    interfaces: Object.entries(server.addresses ?? {}).map(([network, addresses]) => ({
      network,
      addresses: addresses as unknown as Array<Record<string, unknown>>,
    })),
  };
}

/**
 * RSA test keys have 3072 bits: what ssh-keygen makes by default since OpenSSH
 * 8.0, about 128-bit strength (NIST SP 800-57), accepted by every sshd that
 * speaks RSA; 4096 bits would add nothing a throw-away key needs, and cost
 * more to make and at every signature on a busy worker.
 */
const RSA_KEY_BITS = 3072;
const KEY_FILES: Record<SshKeyType, string> = { rsa: 'id_rsa', ed25519: 'id_ed25519' };
const KEY_TYPES = Object.keys(KEY_FILES) as SshKeyType[];

/** Statuses with which a cloud refuses to list a server's interfaces: no such API (nova-network), or a policy. */
const INTERFACES_REFUSED = [400, 403, 404, 501];

/**
 * The instance's interfaces as dibctl's tests saw them: Nova's interface
 * records in Nova's order, each with its network's name and the addresses of
 * its port (matched by MAC, else by fixed IP) from the server record. A cloud
 * that refuses the listing gets `byNetwork`, one entry per network.
 */
async function interfaceRecords(cloud: Cloud, serverId: string, byNetwork: InterfaceInfo[]): Promise<InterfaceInfo[]> {
  let attachments: Awaited<ReturnType<Cloud['compute']['interfaces']>>;
  try {
    attachments = await cloud.compute.interfaces(serverId);
  } catch (err) {
    if (err instanceof OpenStackHttpError && INTERFACES_REFUSED.includes(err.status)) return byNetwork;
    throw err;
  }
  if (attachments.length === 0) return byNetwork;
  return attachments.map((a) => {
    const fixed = new Set((a.fixed_ips ?? []).map((f) => f.ip_address));
    const ofPort = (addr: Record<string, unknown>) => {
      const mac = addr['OS-EXT-IPS-MAC:mac_addr'];
      return typeof mac === 'string' && a.mac_addr
        ? mac.toLowerCase() === a.mac_addr.toLowerCase()
        : fixed.has(String(addr.addr));
    };
    const networks = byNetwork.filter((n) => n.addresses.some(ofPort));
    return {
      ...a,
      ...(networks.length ? { network: networks[0].network } : {}),
      addresses: networks.flatMap((n) => n.addresses.filter(ofPort)),
    };
  });
}

function tcpOpen(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: ip, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createImageTestActivities(deps: ImageTestDeps = {}) {
  const env = deps.env ?? process.env;

  /**
   * The test keypair in this workflow's directory on this host, of
   * tests.ssh.key_type (RSA unless the image asks for ed25519). Made once: a
   * later attempt reuses the key an earlier one made, whatever its type, since
   * that key may already be imported under the keypair's name.
   */
  async function prepareKeypair(input: {
    workflowId: string;
    name: string;
    keyType?: SshKeyType;
  }): Promise<KeypairFiles> {
    const dir = instanceDir(input.workflowId, env);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const wanted = input.keyType ?? DEFAULTS['tests.ssh.key_type'];
    const exists = (file: string) =>
      fs.access(file).then(
        () => true,
        () => false,
      );
    let privateKeyFile = path.join(dir, KEY_FILES[wanted]);
    const earlier = KEY_TYPES.map((t) => path.join(dir, KEY_FILES[t]));
    for (const file of earlier) {
      if (await exists(`${file}.pub`)) {
        privateKeyFile = file;
        break;
      }
    }
    const pub = `${privateKeyFile}.pub`;
    if (!(await exists(pub))) {
      await fs.rm(privateKeyFile, { force: true });
      const typeArgs = wanted === 'rsa' ? ['-t', 'rsa', '-b', String(RSA_KEY_BITS)] : ['-t', 'ed25519'];
      const r = await capture('ssh-keygen', ['-q', ...typeArgs, '-N', '', '-C', input.name, '-f', privateKeyFile], {
        env,
      });
      if (r.code !== 0) throw new DibctlError(`ssh-keygen failed: ${r.error ?? r.stderr.trim()}`);
    }
    await fs.chmod(privateKeyFile, 0o600);
    return { dir, privateKeyFile, publicKey: (await fs.readFile(pub, 'utf8')).trim() };
  }

  /** Imports the public key under the name; importing the same key again is a no-op. */
  async function importKeypair(input: {
    cloud: CloudRef;
    name: string;
    publicKey: string;
  }): Promise<{ name: string; fingerprint: string }> {
    return withCloud(input.cloud, deps, async (cloud) => {
      const k = await cloud.compute.importKeypair(input.name, input.publicKey);
      return { name: k.name, fingerprint: k.fingerprint };
    });
  }

  /** Glance's record of an image (exit 50 when it does not exist). */
  async function describeImage(input: {
    cloud: CloudRef;
    imageId: string;
  }): Promise<{ id: string; name: string | null; status: string; minDisk: number; minRam: number }> {
    return withCloud(input.cloud, deps, async (cloud) => {
      const img = await cloud.image.getImage(input.imageId);
      return { id: img.id, name: img.name, status: img.status, minDisk: img.min_disk, minRam: img.min_ram };
    });
  }

  /**
   * nova.userdata or nova.userdata_file of the test environment, read from the
   * config on this host (user data often holds passwords: it never travels in
   * a workflow's input).
   */
  async function userDataOf(ref: CloudRef): Promise<string | Buffer | undefined> {
    if (ref.kind !== 'test') return undefined;
    const nova = loadTestEnvironment(ref.environment, { ...ref.config, env }).nova;
    return nova.userdataFile !== undefined ? fs.readFile(nova.userdataFile) : nova.userdata;
  }

  /** Boots the test instance, or returns the one an earlier attempt booted under the same name. */
  async function bootInstance(input: BootRequest): Promise<{ serverId: string; reused: boolean }> {
    return withCloud(input.cloud, deps, async (cloud) => {
      const existing = await cloud.compute.findServersByName(input.name);
      if (existing.length > 0) return { serverId: existing[0].id, reused: true };
      const flavor = input.flavorId
        ? await cloud.compute.getFlavor(input.flavorId)
        : await cloud.compute.findFlavor(input.flavor ?? '');
      const userData = await userDataOf(input.cloud);
      const created = cloud.compute.createServer({
        name: input.name,
        imageRef: input.imageId,
        flavorRef: flavor.id,
        key_name: input.keyName,
        networks: input.nics.map((n) => ({
          ...(n.portId ? { port: n.portId } : { uuid: n.netId }),
          ...(n.v4FixedIp || n.v6FixedIp ? { fixed_ip: n.v4FixedIp ?? n.v6FixedIp } : {}),
          ...(n.tag ? { tag: n.tag } : {}),
        })),
        ...(userData !== undefined ? { user_data: userData } : {}),
        ...(input.configDrive ? { config_drive: true } : {}),
        ...(input.availabilityZone ? { availability_zone: input.availabilityZone } : {}),
      });
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new DibctlError(
                `Nova did not answer the create request for ${input.name} within ${input.createTimeoutSeconds} s (nova.create_timeout)`,
              ),
            ),
          input.createTimeoutSeconds * 1000,
        );
      });
      try {
        const r = await Promise.race([created, limit]);
        return { serverId: r.id, reused: false };
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** Waits for ACTIVE (ERROR/DELETED: exit 70 with Nova's fault) and returns what tests need to know. */
  async function waitInstanceActive(input: {
    cloud: CloudRef;
    serverId: string;
    timeoutSeconds: number;
    mainNicRegexp?: string;
  }): Promise<InstanceFacts> {
    return withCloud(input.cloud, deps, async (cloud) => {
      const server = await cloud.compute.waitForServerStatus(input.serverId, 'ACTIVE', {
        timeoutMs: input.timeoutSeconds * 1000,
        pollMs: 500,
        onPoll: (s) => heartbeat({ step: 'waiting for ACTIVE', detail: s.status } satisfies StepHeartbeat),
      });
      return facts(cloud, server, input.mainNicRegexp);
    });
  }

  /** The facts of an instance given on the command line (never created nor removed by dibctl). */
  async function describeInstance(input: {
    cloud: CloudRef;
    serverId: string;
    mainNicRegexp?: string;
  }): Promise<InstanceFacts> {
    return withCloud(input.cloud, deps, async (cloud) =>
      facts(cloud, await cloud.compute.getServer(input.serverId), input.mainNicRegexp),
    );
  }

  /** Waits until the port accepts TCP connections (exit 71 after the limit). */
  async function waitForPort(input: { ip: string; port: number; timeoutSeconds: number }): Promise<{ waited: number }> {
    const started = Date.now();
    const deadline = started + input.timeoutSeconds * 1000;
    const signal = cancellationSignal();
    let tries = 0;
    for (;;) {
      tries += 1;
      heartbeat({
        step: 'waiting for port',
        detail: `${input.ip}:${input.port}`,
        lines: tries,
      } satisfies StepHeartbeat);
      if (await tcpOpen(input.ip, input.port, Math.max(Math.min(2_000, deadline - Date.now()), 200))) {
        return { waited: Math.round((Date.now() - started) / 100) / 10 };
      }
      if (Date.now() >= deadline) throw new PortWaitTimeoutError(input.ip, input.port, input.timeoutSeconds);
      if (signal.aborted) throw new DibctlError('Port wait cancelled');
      await sleep(Math.min(1_000, Math.max(deadline - Date.now(), 0)));
    }
  }

  /** Runs external_tests and tests_list in order, stopping at the first failure. */
  async function runImageTests(input: TestRunRequest): Promise<TestRunResult> {
    const plan = loadTestPlan(String(input.imageConfig.label), {
      ...input.config,
      env,
      environment: input.testEnvironment,
    });
    const imageEntry = loadImageEntry(plan.image.label, { ...input.config, env });
    const dir = instanceDir(input.workflowId, env);
    const logDir = path.join(dir, 'logs');
    await fs.mkdir(logDir, { recursive: true, mode: 0o700 });
    let lines = 0;
    let current = 'reading the instance and its image';
    const beat = () => heartbeat({ step: 'running tests', detail: current, lines, logDir } satisfies StepHeartbeat);
    // alive from the start: the cloud may be slow to answer before the first test runs
    const ticker = setInterval(beat, 2_000);
    try {
      return await runEntries();
    } finally {
      clearInterval(ticker);
    }

    async function runEntries(): Promise<TestRunResult> {
      const { imageInfo, interfaces } = await retryTransient(
        () =>
          withCloud(input.cloud, deps, async (cloud) => {
            // read now, as dibctl did when it set up the tests' environment
            const interfaces = await interfaceRecords(cloud, input.facts.server.id, input.facts.interfaces);
            if (input.imageId) return { imageInfo: await cloud.image.getImage(input.imageId), interfaces };
            // an existing instance: its own image, when Glance still shows it to this project
            const own = serverImageId(input.facts.server);
            return { imageInfo: (own && (await cloud.image.findImage(own))) || { id: own ?? '' }, interfaces };
          }),
        {
          withinMs: 120_000,
          beat: () => heartbeat(),
          signal: cancellationSignal(),
        },
      );
      let ssh: InstanceTestContext['ssh'];
      if (input.ssh && input.privateKeyFile) {
        const base = {
          ip: input.facts.mainIp,
          username: input.ssh.username,
          port: input.ssh.port,
          privateKeyFile: input.privateKeyFile,
          ...(input.knownHostsFile ? { knownHostsFile: input.knownHostsFile } : {}),
        };
        const configFile = path.join(dir, 'ssh_config');
        const access = { ...base, configFile, commandLine: sshCommandLine(base) };
        await fs.writeFile(configFile, sshConfigText(access), { mode: 0o600 });
        ssh = access;
      }
      const ctx: InstanceTestContext = {
        instance: input.facts.server,
        flavor: input.facts.flavor,
        ips: input.facts.ips,
        ipsV4: input.facts.ipsV4,
        ipsV6: input.facts.ipsV6,
        mainIp: input.facts.mainIp,
        interfaces,
        ...(ssh ? { ssh } : {}),
        ...(input.portWait ? { portWait: { ip: input.facts.mainIp, ...input.portWait } } : {}),
        environmentVariables: plan.environmentVariables,
        passEnvironment: plan.passEnvironment,
        imageInfo: imageInfo as InstanceTestContext['imageInfo'],
        imageConfig: plan.image as unknown as Record<string, unknown>,
        imageEntry,
        ...(input.imageFile ? { imageFile: input.imageFile } : {}),
        testEnvironment: input.testEnvironment,
        configOptions: input.config,
      };
      // what runs comes from the config on this host, not from the input
      const specs: TestEntrySpec[] = [
        ...plan.image.externalTests.map((cmdline) => ({ kind: 'external' as const, cmdline })),
        ...plan.image.tests.testsList,
      ];
      const results: TestEntryResult[] = [];
      const signal = cancellationSignal();
      for (const spec of specs) {
        current = spec.kind === 'external' ? `external: ${spec.cmdline}` : `${spec.kind}: ${spec.path}`;
        beat();
        const r = await runTestEntry(spec, ctx, { signal, logDir, env, onOutput: () => void (lines += 1) });
        results.push(r);
        if (!r.passed || signal.aborted) break;
      }
      if (signal.aborted)
        throw signal.reason instanceof CancelledFailure
          ? signal.reason
          : new CancelledFailure('tests cancelled; their process groups were killed');
      return { passed: results.length === specs.length && results.every((r) => r.passed), results, logDir };
    }
  }

  /** Deletes every server with this name and waits until Nova forgets them; returns their ids. */
  async function deleteInstancesByName(input: {
    cloud: CloudRef;
    name: string;
    timeoutSeconds: number;
  }): Promise<string[]> {
    return withCloud(input.cloud, deps, async (cloud) => {
      const servers = await cloud.compute.findServersByName(input.name);
      for (const s of servers) await cloud.compute.deleteServer(s.id, { ignoreMissing: true });
      for (const s of servers)
        await cloud.compute.waitForServerDeleted(s.id, { timeoutMs: input.timeoutSeconds * 1000, pollMs: 500 });
      return servers.map((s) => s.id);
    });
  }

  /** Deletes the keypair by name; false when it was already gone. */
  async function deleteKeypairByName(input: { cloud: CloudRef; name: string }): Promise<boolean> {
    return withCloud(input.cloud, deps, (cloud) => cloud.compute.deleteKeypair(input.name, { ignoreMissing: true }));
  }

  /** Removes this workflow's private key, ssh_config and known_hosts from this host (test logs stay). */
  async function removeInstanceFiles(input: { workflowId: string }): Promise<void> {
    const dir = instanceDir(input.workflowId, env);
    const files = [
      ...Object.values(KEY_FILES).flatMap((f) => [f, `${f}.pub`]),
      'ssh_config',
      'known_hosts',
      'known_hosts.tmp',
    ];
    for (const f of files) await fs.rm(path.join(dir, f), { force: true });
    const left = await fs.readdir(dir).catch(() => []);
    if (left.length === 0) await fs.rm(dir, { recursive: true, force: true });
  }

  return stageActivities(
    {
      prepareKeypair,
      importKeypair,
      describeImage,
      bootInstance,
      waitInstanceActive,
      describeInstance,
      waitForPort,
      runImageTests,
      deleteInstancesByName,
      deleteKeypairByName,
      removeInstanceFiles,
      ...createHostKeyActivities(deps, (workflowId) => instanceDir(workflowId, env)),
    },
    { reportsProgress: ['waitInstanceActive', 'waitForPort', 'runImageTests'] },
  );
}
