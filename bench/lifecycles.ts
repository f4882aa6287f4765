/**
 * Many lifecycles on one worker: `count` image lifecycles (no build: the
 * configured file is the image; the test boots a server on the emulator,
 * which boots at once, waits for its SSH port and runs a shell test; the
 * publish uploads to one environment) are started at once against one real
 * `dibctl worker` process and a dev server. Figures: lifecycles finished per
 * minute, against one lifecycle run alone on the same worker, and the
 * worker's resident memory meanwhile.
 */
import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { targetOf } from '../activities/cloud-target';
import { DEFAULT_TASK_QUEUE, lifecycleChildren } from '../common/ids';
import { resolveCredentials } from '../config';
import { startDevServer } from '../temporal/dev-server';
import { localHostQueue } from '../worker/queues';
import type { LifecycleInput, LifecycleResult } from '../workflows';
import { configTree } from './configs';
import { startEmulatorProcess } from './emulator';
import { BenchRow } from './support';
import { memoryOf, startWorker, stopWorker, uploadYaml } from './worker';

/** An error and its causes, one per line. */
function failureChain(err: unknown): string {
  const lines: string[] = [];
  for (let e = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    const activity = (e as { activityType?: string }).activityType;
    lines.push(activity ? `${activity}: ${e.message}` : e.message);
  }
  return lines.join('\n  caused by: ');
}

function imagesYaml(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    lines.push(
      `img${i}:`,
      '  filename: image.raw',
      '  glance:',
      `    name: Bench Image ${i}`,
      '    disk_format: raw',
      '    container_format: bare',
      '    properties: { default_user: cirros }',
      '  tests:',
      '    environment_name: lab',
      '    ssh: { username: cirros }',
      '    wait_for_port: 22',
      '    port_wait_timeout: 60',
      '    tests_list:',
      '      - shell: tests/smoke.sh',
    );
  }
  return lines.join('\n') + '\n';
}

export async function lifecyclesBench(count: number): Promise<BenchRow[]> {
  const tree = configTree();
  const server = await startDevServer({ env: tree.env });
  const emu = await startEmulatorProcess();
  let worker: ChildProcess | undefined;
  const connection = await Connection.connect({ address: server.address });
  try {
    await emu.setFaults({ bootDelayMs: 0 });
    const dir = tree.dir;
    fs.writeFileSync(path.join(dir, 'image.raw'), randomBytes(1024 * 1024));
    fs.writeFileSync(path.join(dir, 'images.yaml'), imagesYaml(count));
    const u = emu.user;
    fs.writeFileSync(
      path.join(dir, 'test.yaml'),
      [
        'lab:',
        '  keystone:',
        `    auth_url: ${emu.authUrl}`,
        `    username: ${u.username}`,
        `    password: ${u.password}`,
        `    project_name: ${u.projectName}`,
        '    user_domain_name: Default',
        '    project_domain_name: Default',
        '  nova:',
        '    flavor: m1.tiny',
        '    nics:',
        `      - net_id: ${emu.networks.RegionOne.id}`,
        '    main_nic_regexp: "^private$"',
        '    active_timeout: 120',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(dir, 'upload.yaml'), uploadYaml(emu));
    const env = { ...tree.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace };
    worker = await startWorker(env, dir);
    const pid = worker.pid!;
    const client = new Client({ connection, namespace: server.namespace });
    const config = { cwd: dir };
    const target = targetOf(resolveCredentials('upload', 'bench', { ...config, env: tree.env }).auth);
    const input = (label: string): LifecycleInput => ({
      label,
      uploadEnvironments: ['bench'],
      config,
      hostQueue: localHostQueue(DEFAULT_TASK_QUEUE),
      build: false,
      test: true,
      targets: { bench: target },
    });
    /** The activities that timed out in a lifecycle's test and publish children, by type. */
    const timedOut = async (workflowId: string): Promise<string[]> => {
      const out: string[] = [];
      for (const id of [lifecycleChildren.test(workflowId), lifecycleChildren.publish(workflowId, 'bench')]) {
        const history = await client.workflow
          .getHandle(id)
          .fetchHistory()
          .catch(() => undefined);
        const types = new Map<string, string>();
        for (const e of history?.events ?? []) {
          const scheduled = e.activityTaskScheduledEventAttributes;
          if (scheduled) types.set(String(e.eventId), scheduled.activityType?.name ?? '?');
          const t = e.activityTaskTimedOutEventAttributes;
          if (t) out.push(`${types.get(String(t.scheduledEventId)) ?? '?'} ${t.failure?.message ?? 'timed out'}`);
        }
      }
      return out;
    };
    const runAll = async (labels: string[]): Promise<{ seconds: number; ok: number; failures: string }> => {
      const t = process.hrtime.bigint();
      const handles = await Promise.all(
        labels.map((label) =>
          client.workflow.start('imageLifecycleWorkflow', {
            args: [input(label)],
            taskQueue: DEFAULT_TASK_QUEUE,
            workflowId: `bench-lifecycle-${label}-${process.pid}`,
          }),
        ),
      );
      const results = await Promise.allSettled(handles.map((h) => h.result() as Promise<LifecycleResult>));
      const seconds = Number(process.hrtime.bigint() - t) / 1e9;
      const kinds = new Map<string, number>();
      const count = (k: string) => kinds.set(k, (kinds.get(k) ?? 0) + 1);
      let ok = 0;
      for (const [i, r] of results.entries()) {
        if (r.status === 'fulfilled' && !r.value.failed.length) ok++;
        else if (r.status === 'fulfilled') count(`region failed: ${JSON.stringify(r.value.regions)}`);
        else {
          const timeouts = await timedOut(handles[i].workflowId);
          if (timeouts.length) timeouts.forEach(count);
          else count(failureChain(r.reason).split('\n').pop()!.trim());
        }
      }
      return { seconds, ok, failures: [...kinds].map(([k, n]) => `${n} × ${k}`).join('; ') };
    };

    // one alone first (it also warms the worker), then all the others at once
    const alone = await runAll(['img0']);
    const before = memoryOf(pid);
    let sampled = before.rss;
    const sampler = setInterval(() => (sampled = Math.max(sampled, memoryOf(pid).rss)), 200);
    let many: Awaited<ReturnType<typeof runAll>>;
    try {
      many = await runAll(Array.from({ length: count - 1 }, (_, i) => `img${i + 1}`));
    } finally {
      clearInterval(sampler);
    }
    const after = memoryOf(pid);
    if (!alone.ok) throw new Error(`one lifecycle alone failed: ${alone.failures}`);
    const n = count - 1;
    return [
      {
        bench: `${n} lifecycles started at once on one worker (test on the emulator, upload 1 MiB)`,
        figure: (many.ok / many.seconds) * 60,
        unit: '/min',
        reference: 'one lifecycle alone, same worker',
        referenceFigure: 60 / alone.seconds,
        note: `${many.ok} of ${n} finished well in ${many.seconds.toFixed(1)} s${many.failures ? ` (failed: ${many.failures})` : ''} (one alone ${alone.seconds.toFixed(1)} s); worker VmRSS ${before.rss.toFixed(0)} MB before, peak ${Math.max(sampled, after.rss).toFixed(0)} MB, VmHWM ${after.peak.toFixed(0)} MB`,
      },
    ];
  } finally {
    await stopWorker(worker);
    await connection.close();
    await emu.stop();
    await server.stop();
    tree.remove();
  }
}
