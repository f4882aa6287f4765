/**
 * The production topology: the real Temporal server on PostgreSQL, run from
 * deploy/ with the compose file's settings, and two `dibctl worker` processes on
 * two hosts (their own state directories and DIBCTL_HOSTNAME, so each polls the
 * shared queue and its own host queue) against the OpenStack emulator. One
 * cluster serves every test, in order: what a test leaves (published images, the
 * retirement workflow, listed lifecycles) is what the next one builds on, as in
 * a deployment that keeps running.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { Emulator, startEmulator } from '../../emulator';
import { Cloud, connectCloud } from '../../openstack';
import { locateTemporalCli } from '../../temporal/cli';
import { lifecycleChildren, publishBuildId, retirementWorkflowId } from '../../common/ids';
import { retirementStatusQuery, retirementWorkflow } from '../../workflows';
import type { Image } from '../../emulator/state';
import { WorkerProcesses, runEnv } from '../chaos/processes';
import { runDibctl } from '../support/cli';
import { startDibctl } from '../stages/cli-support';
import { Cluster, TEMPORAL_SERVER_VERSION, missingParts, startCluster } from './cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const missing = missingParts();
const describeIf = missing ? describe.skip : describe;
if (missing) process.stderr.write(`cluster tier skipped: ${missing}\n`);

const LABEL = 'cluster';
const IMAGE_NAME = 'Cluster Image';
const HOSTS = ['host-a', 'host-b'] as const;
type Host = (typeof HOSTS)[number];
const SOURCE_BYTES = 512 * 1024;

/** Waits until `fn` holds, polling; fails naming `what`. */
async function eventually(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(300);
  }
}

/** One activity of a workflow's history: its type, the queue it was scheduled on, and who ran its last attempt. */
interface ActivityRun {
  workflowId: string;
  type: string;
  queue: string;
  identity: string;
}

function activityRuns(workflowId: string, events: temporal.api.history.v1.IHistoryEvent[]): ActivityRun[] {
  const scheduled = new Map<string, { type: string; queue: string }>();
  const runs: ActivityRun[] = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      const of = scheduled.get(String(st.scheduledEventId));
      if (of) runs.push({ workflowId, ...of, identity: st.identity ?? '' });
    }
  }
  return runs;
}

function imagesYaml(): string {
  const tests = (script: string) => [
    '  tests:',
    '    environment_name: emu',
    '    ssh: { username: cirros }',
    '    wait_for_port: 22',
    '    port_wait_timeout: 30',
    '    tests_list:',
    `      - shell: tests/${script}`,
    '        timeout: 60',
  ];
  return [
    `${LABEL}:`,
    '  filename: cluster.qcow2',
    '  dib: { elements: [vm] }',
    '  glance:',
    `    name: ${IMAGE_NAME}`,
    '    properties: { default_user: "cirros", os_distro: "cirros" }',
    ...tests('check'),
    'failing:',
    '  filename: failing.qcow2',
    '  glance:',
    '    name: Failing Image',
    '    properties: { default_user: "cirros", os_distro: "cirros" }',
    ...tests('fail'),
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
    [
      ['one', 'RegionOne'],
      ['two', 'RegionTwo'],
    ]
      .flatMap(([env, region]) => [
        `${env}:`,
        ...keystone(emu, 'admin', region),
        '  retire:',
        '    check_every: 1h',
        '    delete_after: 0s',
        '    keep: 0',
      ])
      .join('\n') + '\n'
  );
}

describeIf('dibctl on the Temporal server on PostgreSQL with worker processes on two hosts', () => {
  let dir: string;
  let project: string;
  let cluster: Cluster;
  let emu: Emulator;
  let connection: Connection;
  let client: Client;
  const workers = {} as Record<Host, WorkerProcesses>;
  const stateDir = (host: Host) => path.join(dir, `state-${host}`);
  let checksum: string;
  let olderCopy: string;

  const envOf = (host: Host): NodeJS.ProcessEnv =>
    runEnv(cluster.address, stateDir(host), {
      TEMPORAL_NAMESPACE: cluster.namespace,
      DIBCTL_HOSTNAME: host,
      PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
      CLUSTER_SOURCE_IMAGE: path.join(dir, 'source.img'),
    });
  /** `dibctl` as an operator on `host` runs it, in the project directory, never with a worker of its own. */
  const dibctl = (host: Host, args: string[], timeoutMs = 150_000) =>
    runDibctl(args, { cwd: project, env: envOf(host), timeoutMs });

  /** Every activity of a lifecycle and its children, with the worker that ran it. */
  async function lifecycleActivities(id: string, environments: string[]): Promise<ActivityRun[]> {
    const ids = [
      id,
      lifecycleChildren.build(id),
      lifecycleChildren.test(id),
      ...environments.map((e) => lifecycleChildren.publish(id, e)),
    ];
    const runs: ActivityRun[] = [];
    for (const wid of ids) {
      const history = await client.workflow
        .getHandle(wid)
        .fetchHistory()
        .catch(() => undefined);
      if (history) runs.push(...activityRuns(wid, history.events ?? []));
    }
    return runs;
  }

  /** Images of the name that are current (not obsolete) in a region. */
  const current = (region: string): Image[] =>
    emu
      .state()
      .regions[region].images.filter(
        (i) => i.name === IMAGE_NAME && i.properties.obsolete !== 'true' && i.status === 'active',
      );
  const testObjects = (region = 'RegionOne') => {
    const r = emu.state().regions[region];
    return {
      servers: r.servers.filter((s) => (s.name ?? '').startsWith('DIBCTL-')).length,
      keypairs: r.keypairs.length,
      images: r.images.filter((i) => (i.name ?? '').startsWith('DIBCTL-')).length,
    };
  };

  beforeAll(async () => {
    const cli = await locateTemporalCli();
    if (!cli) throw new Error('no Temporal CLI: node scripts/temporal-cli.js builds it');
    ({ cluster, dir } = await startCluster(cli.path));
    project = path.join(dir, 'project');
    fs.mkdirSync(path.join(project, 'tests'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'bin'));
    emu = await startEmulator({ regions: ['RegionOne', 'RegionTwo'], dataDir: path.join(dir, 'cloud-data') });

    const source = randomBytes(SOURCE_BYTES);
    checksum = createHash('md5').update(source).digest('hex');
    fs.writeFileSync(path.join(dir, 'source.img'), source);
    fs.writeFileSync(path.join(project, 'failing.qcow2'), randomBytes(64 * 1024));
    // a stand-in disk-image-create: the build writes the source image where diskimage-builder would
    fs.writeFileSync(
      path.join(dir, 'bin', 'disk-image-create'),
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo 3.31.0; exit 0; fi\nout=""\nwhile [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done\ncp "$CLUSTER_SOURCE_IMAGE" "$out.$$.part" && mv "$out.$$.part" "$out"\necho "Image file $out created..."\n',
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(project, 'images.yaml'), imagesYaml());
    fs.writeFileSync(path.join(project, 'test.yaml'), testYaml(emu));
    fs.writeFileSync(path.join(project, 'upload.yaml'), uploadYaml(emu));
    fs.writeFileSync(
      path.join(project, 'tests', 'check'),
      '#!/bin/sh\ntest "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"\n',
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(project, 'tests', 'fail'), '#!/bin/sh\necho "the image is broken"\nexit 1\n', {
      mode: 0o755,
    });

    // an older copy of the image in RegionOne, unused: the first publish there obsoletes it
    const a = emu.admin;
    const cloud: Cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: a.username,
      password: a.password,
      projectName: a.projectName,
      userDomainName: a.userDomainName,
      projectDomainName: a.projectDomainName,
      regionName: 'RegionOne',
    });
    try {
      const img = await cloud.image.createImage({
        name: IMAGE_NAME,
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'private',
      });
      const old = path.join(dir, 'old.img');
      fs.writeFileSync(old, randomBytes(16 * 1024));
      await cloud.image.uploadImage(img.id, old);
      olderCopy = img.id;
    } finally {
      cloud.close();
    }

    for (const host of HOSTS) {
      fs.mkdirSync(stateDir(host));
      workers[host] = new WorkerProcesses({
        cwd: project,
        logDir: stateDir(host),
        env: () => envOf(host),
      });
      await workers[host].start();
    }
    connection = await Connection.connect({ address: cluster.address });
    client = new Client({ connection, namespace: cluster.namespace });
  }, 240_000);

  afterAll(async () => {
    for (const host of HOSTS) await workers[host]?.stop();
    await connection?.close();
    await cluster?.stop();
    await emu?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("serves the compose file's namespace with its search attributes, and each host polls its own queue", async () => {
    const info = await client.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBe(TEMPORAL_SERVER_VERSION);
    const attributes = await cluster.searchAttributes();
    expect(attributes).toMatchObject(cluster.compose.searchAttributes);
    expect(attributes).toMatchObject({ DibctlLabel: 'Keyword', DibctlEnvironments: 'KeywordList' });
    const pollers = async (queue: string) =>
      (
        await client.workflowService.describeTaskQueue({
          namespace: cluster.namespace,
          taskQueue: { name: queue },
          taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
        })
      ).pollers?.map((p) => p.identity ?? '') ?? [];
    await eventually('both hosts poll the shared queue', async () => {
      const ids = await pollers('dibctl');
      return ids.some((i) => i.includes('@host-a:')) && ids.some((i) => i.includes('@host-b:'));
    });
    for (const host of HOSTS) {
      const ids = await pollers(`dibctl@${host}`);
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.every((i) => i.includes(`@${host}:`))).toBe(true);
    }
  });

  let firstLifecycle: string;

  it('builds on host A, tests and publishes to two regions, and every step that reads the file runs on host A', async () => {
    // the retirement of `one` continues as new after every check (as a long-lived one does once its history is large)
    await client.workflow.start(retirementWorkflow, {
      workflowId: retirementWorkflowId('one'),
      taskQueue: 'dibctl',
      args: [
        {
          environment: 'one',
          config: { cwd: project, uploadConfig: path.join(project, 'upload.yaml') },
          checksPerRun: 1,
        },
      ],
      searchAttributes: { DibctlEnvironments: ['one'] },
    });
    const r = await dibctl('host-a', ['--no-local-worker', 'run', LABEL, '--upload-env', 'one', '--upload-env', 'two']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    firstLifecycle = /Image lifecycle (\S+)/.exec(r.stderr)![1];
    expect(r.stdout).toMatch(/one: /);
    expect(r.stdout).toMatch(/two: /);

    const runs = await lifecycleActivities(firstLifecycle, ['one', 'two']);
    const onHostA = runs.filter((a) => a.queue === 'dibctl@host-a');
    expect(new Set(onHostA.map((a) => a.workflowId))).toEqual(
      new Set([
        firstLifecycle,
        lifecycleChildren.build(firstLifecycle),
        lifecycleChildren.test(firstLifecycle),
        lifecycleChildren.publish(firstLifecycle, 'one'),
        lifecycleChildren.publish(firstLifecycle, 'two'),
      ]),
    );
    expect(onHostA.filter((a) => a.type === 'buildImage').map((a) => a.workflowId)).toEqual([
      lifecycleChildren.build(firstLifecycle),
    ]);
    // the test's upload and the two publishes' read the file: all on host A
    expect(onHostA.filter((a) => a.type === 'uploadImageFile').map((a) => a.workflowId)).toEqual(
      expect.arrayContaining([
        lifecycleChildren.test(firstLifecycle),
        lifecycleChildren.publish(firstLifecycle, 'one'),
        lifecycleChildren.publish(firstLifecycle, 'two'),
      ]),
    );
    expect(onHostA.filter((a) => !a.identity.includes('@host-a:'))).toEqual([]);
    expect(runs.filter((a) => a.queue === 'dibctl@host-b')).toEqual([]);
    expect(runs.filter((a) => a.queue === 'dibctl').length).toBeGreaterThan(0);

    for (const region of ['RegionOne', 'RegionTwo']) {
      const now = current(region);
      expect(now).toHaveLength(1);
      expect(now[0].checksum).toBe(checksum);
    }
    const old = emu.state().regions.RegionOne.images.find((i) => i.id === olderCopy);
    expect(old?.properties.obsolete).toBe('true');
    expect(testObjects()).toEqual({ servers: 0, keypairs: 0, images: 0 });
  });

  it('retirement deletes the obsoleted copy and continues as new with what it holds', async () => {
    const handle = client.workflow.getHandle<typeof retirementWorkflow>(retirementWorkflowId('one'));
    const firstRun = (await handle.describe()).runId;
    await eventually('the publish handed the older copy to retirement', async () =>
      (await handle.query(retirementStatusQuery)).held.some((h) => h.id === olderCopy),
    );
    const r = await dibctl('host-b', ['--json', 'retirement', 'one', '--check-now']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ checks: 1, held: [], lastCheck: { deleted: [olderCopy] } });
    expect(emu.state().regions.RegionOne.images.find((i) => i.id === olderCopy)).toBeUndefined();
    await eventually('it continued as new', async () => (await handle.describe()).runId !== firstRun);
    expect((await client.workflow.getHandle(retirementWorkflowId('one'), firstRun).describe()).status.name).toBe(
      'CONTINUED_AS_NEW',
    );
    const carried = await handle.query(retirementStatusQuery);
    expect(carried.checks).toBe(1);
    expect(carried.lastCheck?.deleted).toEqual([olderCopy]);
  });

  let scheduledLifecycle: string;

  it('a schedule created on host B fires, and its lifecycle keeps the file on host B', async () => {
    const created = await dibctl('host-b', [
      '--no-local-worker',
      'schedule',
      'create',
      LABEL,
      '--upload-env',
      'two',
      '--no-test',
      '--every',
      '10s',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const schedule = client.schedule.getHandle(`dibctl-${LABEL}`);
    await eventually(
      'the schedule started a lifecycle',
      async () => (await schedule.describe()).info.recentActions.length > 0,
      30_000,
    );
    const action = (await schedule.describe()).info.recentActions[0].action;
    scheduledLifecycle = action.workflow.workflowId;
    expect((await dibctl('host-b', ['schedule', 'delete', `dibctl-${LABEL}`])).code).toBe(0);
    expect(scheduledLifecycle).toMatch(new RegExp(`^dibctl-run-${LABEL}-`));
    const result = await client.workflow.getHandle(scheduledLifecycle).result();
    expect(result).toMatchObject({ built: true, failed: [] });

    const runs = await lifecycleActivities(scheduledLifecycle, ['two']);
    const onHostB = runs.filter((a) => a.queue === 'dibctl@host-b');
    expect(onHostB.filter((a) => a.type === 'buildImage')).toHaveLength(1);
    expect(onHostB.filter((a) => a.type === 'uploadImageFile')).toHaveLength(1);
    expect(onHostB.filter((a) => !a.identity.includes('@host-b:'))).toEqual([]);
    expect(runs.filter((a) => a.queue === 'dibctl@host-a')).toEqual([]);
    expect(current('RegionTwo')).toHaveLength(1);
  });

  it('dibctl list finds lifecycles by label and upload environment (search attributes in PostgreSQL visibility)', async () => {
    const list = async (args: string[]) => {
      const r = await dibctl('host-a', ['--json', 'list', ...args]);
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as Array<{ workflowId: string; environments: string; status: string }>).map(
        (w) => w.workflowId,
      );
    };
    await eventually('visibility lists both lifecycles', async () => (await list(['--label', LABEL])).length === 2);
    expect(new Set(await list(['--label', LABEL, '--environment', 'two']))).toEqual(
      new Set([firstLifecycle, scheduledLifecycle]),
    );
    expect(await list(['--label', LABEL, '--environment', 'one'])).toEqual([firstLifecycle]);
    expect(await list(['--label', 'failing'])).toEqual([]);
  });

  it('a failed test held on host A is discarded from host B: the instance, keypair and key file are removed', async () => {
    const r = await dibctl('host-a', ['--no-local-worker', 'test', 'failing', '--keep-failed-instance']);
    expect(r.code).toBe(80);
    const id = /Image test workflow (\S+)/.exec(r.stderr)![1];
    const key = /Private key: (\S+)/.exec(r.stderr)![1];
    expect(key.startsWith(stateDir('host-a'))).toBe(true);
    expect(fs.existsSync(key)).toBe(true);
    expect(testObjects()).toMatchObject({ servers: 1, keypairs: 1 });

    const d = await dibctl('host-b', ['--no-local-worker', 'discard', id]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/Removing instance[^]*Removing ssh key[^]*Clearing done/);
    await eventually(
      'the held test ended',
      async () => (await client.workflow.getHandle(id).describe()).status.name !== 'RUNNING',
    );
    expect(testObjects()).toEqual({ servers: 0, keypairs: 0, images: 0 });
    // the key file lives on host A: host A's worker removed it
    expect(fs.existsSync(key)).toBe(false);
    const runs = activityRuns(id, (await client.workflow.getHandle(id).fetchHistory()).events ?? []);
    expect(runs.filter((a) => a.queue === 'dibctl@host-a').length).toBeGreaterThan(0);
    expect(runs.filter((a) => a.queue === 'dibctl@host-a' && !a.identity.includes('@host-a:'))).toEqual([]);
  });

  it('kill -9 of the host uploading the file: host B serves the shared queue meanwhile, never the upload, and host A finishes it when back', async () => {
    // uploads of about 8 s: the kill falls in the middle of them
    emu.faults.set({ uploadBytesPerSecond: SOURCE_BYTES / 8 });
    const live = startDibctl(['--no-local-worker', 'run', LABEL, '--upload-env', 'one', '--no-build', '--no-test'], {
      cwd: project,
      env: envOf('host-a'),
    });
    try {
      await live.waitFor(/Image lifecycle (\S+)/);
      const id = /Image lifecycle (\S+)/.exec(live.stderr())![1];
      const publish = client.workflow.getHandle(lifecycleChildren.publish(id, 'one'));
      type Pending = {
        activityType?: { name?: string | null } | null;
        state?: number | null;
        attempt?: number | null;
        lastWorkerIdentity?: string | null;
      };
      const upload = async (): Promise<Pending | undefined> =>
        ((await publish.describe().catch(() => undefined))?.raw.pendingActivities ?? []).find(
          (a) => a.activityType?.name === 'uploadImageFile',
        );
      await eventually('the upload runs on host A', async () => {
        const u = await upload();
        return Boolean(u && u.state === 2 && u.lastWorkerIdentity?.includes('@host-a:'));
      });
      await sleep(1_000);
      const killedPid = workers['host-a'].pid;
      await workers['host-a'].kill9();

      // the attempt times out on its heartbeat and waits on host A's queue, which host B does not poll
      await eventually('the upload attempt on the dead host timed out', async () => {
        const u = await upload();
        return Boolean(u && (u.attempt ?? 1) >= 2 && u.state === 1);
      });
      await sleep(3_000);
      const waiting = await upload();
      expect(waiting?.state).toBe(1); // SCHEDULED: nobody took it
      expect(waiting?.lastWorkerIdentity).toContain(`@host-a:${killedPid}`);

      // meanwhile host B serves the shared queue: the lifecycle answers, and a workflow runs there
      const status = await dibctl('host-b', ['status', id]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/publishing/);
      const doctor = await dibctl('host-b', ['--json', '--no-local-worker', 'doctor']);
      expect(doctor.code).toBe(0);
      expect(JSON.parse(doctor.stdout).host.pid).toBe(workers['host-b'].pid);

      await workers['host-a'].start();
      expect(await live.exited).toBe(0);
      const runs = await lifecycleActivities(id, ['one']);
      const uploads = runs.filter((a) => a.type === 'uploadImageFile');
      expect(uploads).toHaveLength(1);
      expect(uploads[0].identity).toContain(`@host-a:${workers['host-a'].pid}`);
      const buildId = publishBuildId(lifecycleChildren.publish(id, 'one'), 'one');
      const made = emu.state().regions.RegionOne.images.filter((i) => i.properties.dibctl_build_id === buildId);
      expect(made.map((i) => i.status)).toEqual(['active']);
      expect(current('RegionOne').map((i) => i.id)).toEqual(made.map((i) => i.id));
    } finally {
      emu.faults.reset();
      if (live.child.exitCode === null) live.child.kill('SIGKILL');
    }
  });

  it('a restart of the Temporal server mid-lifecycle loses nothing', async () => {
    const before = await client.workflow.count(`DibctlLabel = '${LABEL}'`);
    const live = startDibctl(['--no-local-worker', 'run', LABEL, '--upload-env', 'one', '--upload-env', 'two'], {
      cwd: project,
      env: envOf('host-a'),
    });
    let id = '';
    try {
      await live.waitFor(/Stage: testing/, 90_000);
      id = /Image lifecycle (\S+)/.exec(live.stderr())![1];
      const oldPid = cluster.serverPid;
      await cluster.restartServer(3_000);
      expect(cluster.serverPid).not.toBe(oldPid);
      expect(await live.exited).toBe(0);
    } finally {
      if (live.child.exitCode === null) live.child.kill('SIGKILL');
    }
    const handle: WorkflowHandle = client.workflow.getHandle(id);
    let result: unknown;
    await eventually('the lifecycle result is readable after the restart', async () => {
      result = await handle.result().catch(() => undefined);
      return result !== undefined;
    });
    expect(result).toMatchObject({ failed: [], tested: { passed: true } });
    for (const region of ['RegionOne', 'RegionTwo']) expect(current(region)).toHaveLength(1);
    expect(testObjects()).toEqual({ servers: 0, keypairs: 0, images: 0 });
    // every earlier lifecycle is still there, and the retirement still holds its state
    expect((await client.workflow.count(`DibctlLabel = '${LABEL}'`)).count).toBe(before.count + 1);
    const retirement = await client.workflow
      .getHandle<typeof retirementWorkflow>(retirementWorkflowId('one'))
      .query(retirementStatusQuery);
    expect(retirement.checks).toBeGreaterThanOrEqual(1);
  });
});
