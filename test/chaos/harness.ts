/**
 * One chaos run: a fresh emulator (two regions, state file), a dev server
 * persisted in a db file, and `dibctl worker` processes; an image lifecycle
 * (test, then publish to both regions, obsolete the older copies, retirement)
 * runs while the faults the seed chose happen; then the cloud is audited.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  Client,
  Connection,
  Workflow,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowHandle,
  WorkflowNotFoundError,
  WorkflowStartOptions,
  ChildWorkflowFailure,
} from '@temporalio/client';
import { prepareTestInput } from '../../client/commands/test';
import { Emulator, FaultSettings, startEmulator } from '../../emulator';
import { Cloud, connectCloud } from '../../openstack';
import { freePort } from '../../temporal/free-port';
import { localHostQueue } from '../../worker/worker';
import { AuditCounts, AuditResult, RegionSeed, auditCloud, zeroCounts } from './audit';
import { rng } from './prng';
import { PersistentTemporal, WorkerProcesses, runEnv } from './processes';
import { retirementWorkflowId } from '../../common/ids';
import {
  checkNowUpdate,
  imageLifecycleWorkflow,
  imageTestWorkflow,
  publishWorkflow,
  retirementStatusQuery,
  retirementWorkflow,
} from '../../workflows';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const REGIONS = ['RegionOne', 'RegionTwo'] as const;
const UPLOAD_ENVS: Record<string, (typeof REGIONS)[number]> = { one: 'RegionOne', two: 'RegionTwo' };
const IMAGE_LABEL = 'chaos';
const IMAGE_NAME = 'Chaos Image';
const TASK_QUEUE = 'dibctl';

type Service = 'identity' | 'image' | 'compute' | 'network';

type ChaosAction =
  | { kind: 'kill-worker'; atMs: number; downMs: number }
  | { kind: 'restart-server'; atMs: number; downMs: number }
  | { kind: 'cloud-errors'; atMs: number; forMs: number; rate: number; services: Service[] }
  | { kind: 'latency'; atMs: number; forMs: number; ms: number }
  | { kind: 'fail-region'; atMs: number; forMs: number; region: string };

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function describeAction(a: ChaosAction): string {
  switch (a.kind) {
    case 'kill-worker':
      return `kill -9 worker @${s1(a.atMs)} (new one after ${s1(a.downMs)})`;
    case 'restart-server':
      return `restart Temporal @${s1(a.atMs)} (down ${s1(a.downMs)})`;
    case 'cloud-errors':
      return `5xx ${Math.round(a.rate * 100)}% of ${a.services.length ? a.services.join('+') : 'all'} @${s1(a.atMs)} for ${s1(a.forMs)}`;
    case 'latency':
      return `latency ${a.ms}ms @${s1(a.atMs)} for ${s1(a.forMs)}`;
    case 'fail-region':
      return `fail ${a.region} @${s1(a.atMs)} for ${s1(a.forMs)}`;
  }
}

/**
 * How long the lifecycle takes on an idle machine with the pacing below (a build
 * of 1 s, uploads of 1 s, a boot of 2 s, a test of 2 s): the faults fall within it.
 */
const DEFAULT_WINDOW_MS = 9_000;

/** The faults of a seed: one to three actions at random points of the first `windowMs` of the lifecycle. */
function chaosPlan(seed: number, windowMs: number): ChaosAction[] {
  const r = rng(seed);
  const n = 1 + (r.chance(0.5) ? 1 : 0) + (r.chance(0.25) ? 1 : 0);
  const kinds = ['kill-worker', 'restart-server', 'cloud-errors', 'latency', 'fail-region'] as const;
  const plan: ChaosAction[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r.pick(kinds);
    const atMs = Math.round(r.between(300, windowMs));
    switch (kind) {
      case 'kill-worker':
        plan.push({ kind, atMs, downMs: Math.round(r.between(0, 4000)) });
        break;
      case 'restart-server':
        plan.push({ kind, atMs, downMs: Math.round(r.between(0, 3000)) });
        break;
      case 'cloud-errors': {
        const services = r.chance(0.4)
          ? []
          : (['identity', 'image', 'compute', 'network'] as Service[]).filter(() => r.chance(0.5));
        plan.push({
          kind,
          atMs,
          forMs: Math.round(r.between(3000, 15000)),
          rate: Math.round(r.between(0.05, 0.35) * 100) / 100,
          services,
        });
        break;
      }
      case 'latency':
        plan.push({ kind, atMs, forMs: Math.round(r.between(3000, 15000)), ms: r.int(50, 500) });
        break;
      case 'fail-region':
        plan.push({ kind, atMs, forMs: Math.round(r.between(2000, 10000)), region: r.pick(REGIONS) });
        break;
    }
  }
  return plan.sort((a, b) => a.atMs - b.atMs);
}

interface RunOptions {
  seed: number;
  /** Where the run's files go (a temporary directory by default; kept when the run is not clean). */
  baseDir?: string;
  /** Time from the start of the lifecycle within which faults happen. */
  windowMs?: number;
  /** How long the lifecycle may take before it is cancelled (it then still must clean up). */
  boundMs?: number;
  log?: (line: string) => void;
}

export interface RunReport {
  seed: number;
  plan: ChaosAction[];
  /** Actions that happened (the lifecycle may end before a late one). */
  done: string[];
  scenario: string;
  outcome: 'completed' | 'failed' | 'unfinished' | 'harness-error';
  failure?: string;
  correct: boolean;
  /** Why a completed run is not correct. */
  problems: string[];
  counts: AuditCounts;
  audit?: AuditResult;
  /** Regions whose unused older copy retirement deleted. */
  retired: number;
  /** From the start of the lifecycle to its end (faults included). */
  lifecycleMs: number;
  durationMs: number;
  dir: string;
}

/** Merges the fault windows that are open now into one set of knobs. */
class FaultWindows {
  private open = new Map<number, Partial<FaultSettings>>();
  private timers = new Set<NodeJS.Timeout>();
  private next = 0;

  constructor(private readonly emu: Emulator) {}

  add(f: Partial<FaultSettings>, forMs: number): void {
    const id = this.next++;
    this.open.set(id, f);
    this.apply();
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.open.delete(id);
      this.apply();
    }, forMs);
    this.timers.add(t);
  }

  private apply(): void {
    const all = [...this.open.values()];
    const rates = all.filter((f) => f.errorRate);
    const failing = new Set(all.flatMap((f) => f.failingRegions ?? []));
    this.emu.faults.set({
      errorRate: Math.max(0, ...rates.map((f) => f.errorRate ?? 0)),
      errorServices: rates.some((f) => !f.errorServices?.length)
        ? []
        : [...new Set(rates.flatMap((f) => f.errorServices ?? []))],
      latencyMs: Math.max(0, ...all.map((f) => f.latencyMs ?? 0)),
      failingRegions: [...failing],
    });
  }

  closeAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.open.clear();
    this.apply();
  }
}

function imagesYaml(): string {
  return [
    `${IMAGE_LABEL}:`,
    '  filename: chaos.qcow2',
    '  dib: { elements: [vm] }',
    '  glance:',
    `    name: ${IMAGE_NAME}`,
    '    properties: { default_user: "cirros", os_distro: "cirros" }',
    '  tests:',
    '    environment_name: emu',
    '    ssh: { username: cirros }',
    '    wait_for_port: 22',
    '    port_wait_timeout: 30',
    '    tests_list:',
    '      - shell: tests/check',
    '        timeout: 60',
    '',
  ].join('\n');
}

function keystone(emu: Emulator, who: 'admin' | 'user', region: string): string[] {
  const c = emu[who];
  return [
    '  keystone:',
    `    auth_url: ${emu.authUrl}`,
    `    username: ${c.username}`,
    `    password: ${c.password}`,
    `    project_name: ${c.projectName}`,
    `    user_domain_name: ${c.userDomainName}`,
    `    project_domain_name: ${c.projectDomainName}`,
    `    region_name: ${region}`,
  ];
}

function testYaml(emu: Emulator): string {
  return [
    'emu:',
    ...keystone(emu, 'user', 'RegionOne'),
    '  nova:',
    '    flavor: m1.tiny',
    '    nics:',
    `      - net_id: ${emu.networks.RegionOne.id}`,
    '    main_nic_regexp: "^private$"',
    '    create_timeout: 20',
    '    active_timeout: 60',
    '    cleanup_timeout: 30',
    '',
  ].join('\n');
}

function uploadYaml(emu: Emulator): string {
  return (
    Object.entries(UPLOAD_ENVS)
      .flatMap(([env, region]) => [
        `${env}:`,
        ...keystone(emu, 'admin', region),
        '  retire:',
        '    check_every: 1m',
        '    delete_after: 0s',
        '    keep: 0',
      ])
      .join('\n') + '\n'
  );
}

/** Older copies of the image in a region: one a server uses, one protected, one unused. */
async function seedRegion(emu: Emulator, region: string, dir: string): Promise<RegionSeed> {
  const c = emu.admin;
  const cloud: Cloud = await connectCloud({
    authUrl: emu.authUrl,
    username: c.username,
    password: c.password,
    projectName: c.projectName,
    userDomainName: c.userDomainName,
    projectDomainName: c.projectDomainName,
    regionName: region,
  });
  try {
    const file = path.join(dir, `old-${region}.img`);
    fs.writeFileSync(file, randomBytes(64 * 1024));
    const make = async (protect: boolean) => {
      const img = await cloud.image.createImage({
        name: IMAGE_NAME,
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'private',
        properties: { default_user: 'cirros' },
      });
      await cloud.image.uploadImage(img.id, file);
      if (protect) await cloud.image.updateImage(img.id, { protected: true });
      return img.id;
    };
    const usedImage = await make(false);
    const protectedImage = await make(true);
    const unusedImage = await make(false);
    const flavor = await cloud.compute.findFlavor('m1.tiny');
    const server = await cloud.compute.createServer({
      name: `in-use-${region}`,
      imageRef: usedImage,
      flavorRef: flavor.id,
      networks: [{ uuid: emu.networks[region].id }],
    });
    await cloud.compute.waitForServerStatus(server.id, 'ACTIVE', { timeoutMs: 30_000, pollMs: 200 });
    return { region, usedImage, protectedImage, unusedImage, server: server.id };
  } finally {
    cloud.close();
  }
}

/** Retries a Temporal call across a server restart until the deadline. */
async function persist<T>(fn: () => Promise<T>, deadline: number): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      // an answer, not an unreachable server: no use asking again
      if (err instanceof WorkflowNotFoundError || Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

/** The deepest message of a failure chain, after the steps it went through (child workflows, activities). */
function innermost(err: unknown): string {
  let cur: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  const steps: string[] = [];
  for (let i = 0; cur && i < 8; i++) {
    if (cur instanceof Error && cur.message) message = cur.message;
    const step =
      (cur as { activityType?: string; workflowType?: string }).activityType ??
      (cur instanceof ChildWorkflowFailure ? cur.workflowType : undefined);
    if (step) steps.push(step);
    cur = (cur as { cause?: unknown }).cause;
  }
  return steps.length ? `${steps.join(' > ')}: ${message}` : message;
}

interface Ctx {
  client: Client;
  seed: number;
  dir: string;
  env: NodeJS.ProcessEnv;
  deadline: number;
  started: WorkflowHandle[];
}

async function startWorkflow<W extends Workflow>(
  ctx: Ctx,
  type: W,
  workflowId: string,
  args: Parameters<W>,
): Promise<WorkflowHandle> {
  await persist(async () => {
    try {
      await ctx.client.workflow.start<W>(type, {
        taskQueue: TASK_QUEUE,
        workflowId,
        args,
      } as unknown as WorkflowStartOptions<W>);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }, ctx.deadline);
  const h = ctx.client.workflow.getHandle(workflowId);
  ctx.started.push(h);
  return h;
}

/** Waits until the workflow is closed (polling, so a server restart in between does no harm). */
async function settle(
  ctx: Ctx,
  h: WorkflowHandle,
  deadline: number,
): Promise<{ ok: true; value: unknown } | { ok: false; error: string } | { ok: 'running' }> {
  for (;;) {
    let status: string | undefined;
    try {
      status = (await h.describe()).status.name;
    } catch {
      status = undefined;
    }
    if (status && status !== 'RUNNING') break;
    if (Date.now() > deadline) return { ok: 'running' };
    await sleep(500);
  }
  // the result, retried only while the server is unreachable (a failed workflow answers at once)
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      return { ok: true, value: await h.result() };
    } catch (err) {
      if (err instanceof WorkflowFailedError || Date.now() > until) return { ok: false, error: innermost(err) };
      await sleep(500);
    }
  }
}

type ScenarioResult = { ok: true } | { ok: false; error: string } | { ok: 'running' };

/** Which lifecycle runs: dibctl's lifecycle workflow when the worker has it, else the test and publish workflows one after the other. */
export function scenarioName(): 'lifecycle' | 'test-then-publish' {
  if (process.env.CHAOS_SCENARIO === 'test-then-publish') return 'test-then-publish';
  return fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'workflows', 'lifecycle.js'))
    ? 'lifecycle'
    : 'test-then-publish';
}

/**
 * Whether a seed runs two lifecycles of the image at once (every other ten
 * seeds: 110–119, 130–139, …), and how far apart they start.
 */
function overlapOf(seed: number): { gapMs: number } | undefined {
  return Math.floor(seed / 10) % 2 === 1 ? { gapMs: (seed * 7919) % 3000 } : undefined;
}

/**
 * Two `dibctl run chaos` at once, the second started `gapMs` after the first
 * (a schedule firing during a manual run): both build, test and publish the
 * same image name to both regions; the fence must leave one current image per
 * region and hand every other copy to retirement.
 */
async function overlappingLifecycles(ctx: Ctx, gapMs: number): Promise<ScenarioResult> {
  const first = lifecycle(ctx);
  await sleep(gapMs);
  const second = lifecycle(ctx, `chaos-${ctx.seed}-again`);
  const results = await Promise.all([first, second]);
  if (results.some((r) => r.ok === 'running')) return { ok: 'running' };
  const failed = results.map((r, i) => (r.ok === false ? `lifecycle ${i + 1}: ${r.error}` : '')).filter(Boolean);
  return failed.length ? { ok: false, error: failed.join('; ') } : { ok: true };
}

/** `dibctl run chaos --upload-env one --upload-env two`: build (stand-in disk-image-create), test, publish to both regions in parallel, obsolete, retirement. */
async function lifecycle(ctx: Ctx, workflowId = `chaos-${ctx.seed}`): Promise<ScenarioResult> {
  const config = {
    cwd: ctx.dir,
    imagesConfig: path.join(ctx.dir, 'images.yaml'),
    testConfig: path.join(ctx.dir, 'test.yaml'),
    uploadConfig: path.join(ctx.dir, 'upload.yaml'),
  };
  const input = {
    label: IMAGE_LABEL,
    uploadEnvironments: Object.keys(UPLOAD_ENVS),
    config,
    hostQueue: localHostQueue(TASK_QUEUE),
    build: true,
    test: true,
  };
  const h = await startWorkflow(ctx, imageLifecycleWorkflow, workflowId, [input]);
  const r = await settle(ctx, h, ctx.deadline);
  return r.ok === true ? { ok: true } : r;
}

/** Test the image, then publish it to both upload environments in parallel (each obsoletes the older copies and hands them to retirement). */
async function testThenPublish(ctx: Ctx): Promise<ScenarioResult> {
  const config = {
    cwd: ctx.dir,
    imagesConfig: path.join(ctx.dir, 'images.yaml'),
    testConfig: path.join(ctx.dir, 'test.yaml'),
  };
  const input = prepareTestInput(IMAGE_LABEL, config, TASK_QUEUE, 'test', ctx.env);
  const test = await startWorkflow(ctx, imageTestWorkflow, `chaos-${ctx.seed}-test`, [input]);
  const t = await settle(ctx, test, ctx.deadline);
  if (t.ok !== true) return t.ok === 'running' ? t : { ok: false, error: `test: ${t.error}` };
  const publishConfig = {
    cwd: ctx.dir,
    imagesConfig: config.imagesConfig,
    uploadConfig: path.join(ctx.dir, 'upload.yaml'),
  };
  const handles = await Promise.all(
    Object.keys(UPLOAD_ENVS).map((environment) =>
      startWorkflow(ctx, publishWorkflow, `chaos-${ctx.seed}-publish-${environment}`, [
        { imageLabel: IMAGE_LABEL, environment, config: publishConfig, fileQueue: localHostQueue(TASK_QUEUE) },
      ]),
    ),
  );
  const results = await Promise.all(handles.map((h) => settle(ctx, h, ctx.deadline)));
  if (results.some((r) => r.ok === 'running')) return { ok: 'running' };
  const failed = results
    .map((r, i) => (r.ok === false ? `publish to ${Object.keys(UPLOAD_ENVS)[i]}: ${r.error}` : ''))
    .filter(Boolean);
  return failed.length ? { ok: false, error: failed.join('; ') } : { ok: true };
}

/** Asks each environment's retirement to check now and waits for that check to finish. */
async function retireNow(ctx: Ctx, log: (l: string) => void): Promise<void> {
  for (const environment of Object.keys(UPLOAD_ENVS)) {
    const h = ctx.client.workflow.getHandle<typeof retirementWorkflow>(retirementWorkflowId(environment));
    const deadline = Date.now() + 60_000;
    let running = false;
    try {
      running = (await persist(() => h.describe(), Date.now() + 20_000)).status.name === 'RUNNING';
    } catch {
      running = false;
    }
    if (!running) continue;
    type Status = { checks: number; lastCheck?: { at: number } };
    const before: Status = await persist(() => h.query(retirementStatusQuery), deadline);
    // a check already under way when asked may have met the faults: wait for one that started after
    const asked = Date.now();
    await persist(() => h.executeUpdate(checkNowUpdate), deadline);
    for (;;) {
      const now: Status | undefined = await persist(() => h.query(retirementStatusQuery), deadline).catch(
        () => undefined,
      );
      if (now && now.checks > before.checks && (now.lastCheck?.at ?? 0) >= asked) break;
      if (Date.now() > deadline) {
        log(`retirement of ${environment} did not finish a check within 60 s`);
        break;
      }
      await sleep(300);
    }
  }
}

export async function chaosRun(opts: RunOptions): Promise<RunReport> {
  const log = opts.log ?? (() => undefined);
  const windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
  const boundMs = opts.boundMs ?? 300_000;
  const plan = chaosPlan(opts.seed, windowMs);
  const dir = fs.mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), `dibctl-chaos-${opts.seed}-`));
  const stateDir = path.join(dir, 'state');
  fs.mkdirSync(path.join(dir, 'tests'), { recursive: true });
  fs.mkdirSync(stateDir, { recursive: true });
  const startedAt = Date.now();
  const report: RunReport = {
    seed: opts.seed,
    plan,
    done: [],
    scenario: '',
    outcome: 'harness-error',
    correct: false,
    problems: [],
    counts: zeroCounts(),
    retired: 0,
    lifecycleMs: 0,
    durationMs: 0,
    dir,
  };

  let emu: Emulator | undefined;
  let temporal: PersistentTemporal | undefined;
  let workers: WorkerProcesses | undefined;
  let connection: Connection | undefined;
  let windows: FaultWindows | undefined;
  try {
    emu = await startEmulator({
      regions: [...REGIONS],
      stateFile: path.join(dir, 'cloud.json'),
      dataDir: path.join(dir, 'cloud-data'),
    });
    const image = randomBytes(512 * 1024 + (opts.seed % 4096));
    const checksum = createHash('md5').update(image).digest('hex');
    // the lifecycle builds the file with a stand-in disk-image-create that copies this source; the other scenario starts from the file
    const scenarioKind = scenarioName();
    fs.writeFileSync(path.join(dir, scenarioKind === 'lifecycle' ? 'source.img' : 'chaos.qcow2'), image);
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(
      path.join(dir, 'bin', 'disk-image-create'),
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 3.31.0; exit 0; fi\nout=""\nwhile [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done\nsleep 1\ncp "$CHAOS_SOURCE_IMAGE" "$out.$$.part" && mv "$out.$$.part" "$out"\necho "Image file $out created..."\n',
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(dir, 'images.yaml'), imagesYaml());
    fs.writeFileSync(path.join(dir, 'test.yaml'), testYaml(emu));
    fs.writeFileSync(path.join(dir, 'upload.yaml'), uploadYaml(emu));
    fs.writeFileSync(
      path.join(dir, 'tests', 'check'),
      '#!/bin/sh\nsleep 2\ntest "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"\n',
      { mode: 0o755 },
    );
    const seeds = await Promise.all(REGIONS.map((r) => seedRegion(emu!, r, dir)));
    // pace the lifecycle like a small real cloud, so that the faults meet every stage: uploads of
    // about a second, boots of two (an idle machine otherwise runs the whole lifecycle in 2 s)
    emu.faults.set({ uploadBytesPerSecond: image.length, bootDelayMs: 2_000 });

    const port = await freePort();
    temporal = await PersistentTemporal.start(path.join(dir, 'temporal.db'), port, path.join(dir, 'temporal.log'));
    const env = runEnv(temporal.address, stateDir, {
      PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
      CHAOS_SOURCE_IMAGE: path.join(dir, 'source.img'),
    });
    workers = new WorkerProcesses({ cwd: dir, logDir: dir, env: () => env });
    await workers.start();
    connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection, namespace: 'default' });
    const ctx: Ctx = { client, seed: opts.seed, dir, env, deadline: Date.now() + boundMs, started: [] };

    // the lifecycle and the faults, side by side
    windows = new FaultWindows(emu);
    const t0 = Date.now();
    let finished = false;
    report.scenario =
      scenarioKind === 'lifecycle'
        ? 'lifecycle: build, test, publish to 2 regions, retirement'
        : 'test, then publish to 2 regions, retirement';
    const overlap = scenarioKind === 'lifecycle' ? overlapOf(opts.seed) : undefined;
    if (overlap)
      report.scenario = `two lifecycles ${overlap.gapMs} ms apart: build, test, publish to 2 regions, retirement`;
    const scenario = (
      overlap
        ? overlappingLifecycles(ctx, overlap.gapMs)
        : scenarioKind === 'lifecycle'
          ? lifecycle(ctx)
          : testThenPublish(ctx)
    ).finally(() => {
      finished = true;
    });
    const chaos = (async () => {
      for (const a of plan) {
        while (!finished && Date.now() < t0 + a.atMs) await sleep(50);
        if (finished) break;
        report.done.push(describeAction(a));
        log(`  ${describeAction(a)}`);
        switch (a.kind) {
          case 'kill-worker':
            await workers!.kill9();
            await sleep(a.downMs);
            await workers!.start();
            break;
          case 'restart-server':
            await temporal!.restart(a.downMs);
            break;
          case 'cloud-errors':
            windows!.add({ errorRate: a.rate, errorServices: a.services }, a.forMs);
            break;
          case 'latency':
            windows!.add({ latencyMs: a.ms }, a.forMs);
            break;
          case 'fail-region':
            windows!.add({ failingRegions: [a.region] }, a.forMs);
            break;
        }
      }
    })();
    let result = await scenario;
    report.lifecycleMs = Date.now() - t0;
    await chaos;
    if (result.ok === 'running') {
      // past the bound: cancel, and the cleanup must still happen
      windows.closeAll();
      for (const h of ctx.started) await h.cancel().catch(() => undefined);
      const graceEnd = Date.now() + 120_000;
      for (const h of ctx.started) await settle(ctx, h, graceEnd);
      result = { ok: 'running' };
    }
    windows.closeAll();
    report.outcome = result.ok === true ? 'completed' : result.ok === false ? 'failed' : 'unfinished';
    if (result.ok === false) report.failure = result.error;

    await retireNow(ctx, log);
    const audit = auditCloud({ state: emu.state(), seeds, imageName: IMAGE_NAME, checksum, stateDir });
    report.audit = audit;
    report.counts = audit.counts;
    report.retired = audit.regions.filter((r) => r.retired).length;
    if (report.outcome === 'completed') {
      for (const r of audit.regions) {
        if (r.published.length !== 1)
          report.problems.push(`${r.region}: ${r.published.length} current active images with the file's checksum`);
        if (r.obsoleted < 2) report.problems.push(`${r.region}: older copies not marked obsolete`);
        if (!r.retired) {
          const environment = Object.keys(UPLOAD_ENVS).find((e) => UPLOAD_ENVS[e] === r.region) ?? r.region;
          const status = await ctx.client.workflow
            .getHandle(retirementWorkflowId(environment))
            .query(retirementStatusQuery)
            .catch((err: unknown) => `no status: ${String(err)}`);
          report.problems.push(
            `${r.region}: the unused older copy was not deleted by a retirement check after the faults (retirement: ${JSON.stringify(status)})`,
          );
        }
      }
    } else {
      report.problems.push(
        report.outcome === 'failed' ? `lifecycle failed: ${report.failure}` : 'lifecycle did not end in time',
      );
    }
    report.correct =
      report.outcome === 'completed' &&
      report.problems.length === 0 &&
      Object.values(report.counts).every((n) => n === 0);
  } catch (err) {
    report.outcome = 'harness-error';
    report.failure = err instanceof Error ? (err.stack ?? err.message) : String(err);
    report.problems.push(`harness error: ${innermost(err)}`);
  } finally {
    windows?.closeAll();
    await workers?.stop().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await temporal?.stop().catch(() => undefined);
    await emu?.stop().catch(() => undefined);
    report.durationMs = Date.now() - startedAt;
  }
  const clean =
    Object.values(report.counts).every((n) => n === 0) &&
    report.outcome !== 'harness-error' &&
    report.outcome !== 'unfinished';
  if (clean) fs.rmSync(dir, { recursive: true, force: true });
  return report;
}
