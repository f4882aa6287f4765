/**
 * The operator's view: `dibctl status ID` shows a lifecycle (or an image test)
 * as a tree of its steps with state, duration, held resources and the next
 * command to run; `--json` has the same facts; `dibctl list` filters by label,
 * upload environment and state. Real dev server, real workers, the emulator.
 */
import { chmodSync } from 'node:fs';
import { testYaml } from '../stages/fixture';
import { dibctlObjects, workflowIdOf } from '../stages/cli-support';
import { IMAGES_YAML, usePublishFixture } from './fixture';
import { makeImage } from './images';
import { lifecycleChildren } from '../../common/ids';

jest.setTimeout(180_000);

const f = usePublishFixture();

const IMAGE = (label: string, name: string, test: string) =>
  [
    `${label}:`,
    `  filename: ${label}.qcow2`,
    '  external_build:',
    `    - cmdline: "head -c 1048576 /dev/urandom > ${label}.qcow2"`,
    '  glance:',
    `    name: ${name}`,
    '  tests:',
    '    environment_name: emu',
    '    ssh: {username: cirros}',
    '    tests_list:',
    `      - shell: tests/${test}`,
  ].join('\n');

interface Node {
  step: string;
  workflowId?: string;
  type?: string;
  status?: string;
  state: string;
  stage?: string;
  durationMs?: number;
  closed?: string;
  failure?: { message: string; exitCode: number };
  held?: { image?: string; instance?: string; keypair?: string; images?: string[] };
  notes?: string[];
  next?: string[];
  children?: Node[];
}

/** Visibility (what list reads) follows a workflow's close a moment later. */
async function eventually(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const child = (n: Node, step: string): Node => {
  const c = n.children?.find((x) => x.step === step);
  if (!c) throw new Error(`no step '${step}' under '${n.step}': ${JSON.stringify(n.children?.map((x) => x.step))}`);
  return c;
};

interface Row {
  workflowId: string;
  label: string;
  environments: string;
  status: string;
}

let good: string;
let doomed: string;
let oldOne: string;
/** The lifecycle the running-status test starts (it publishes to region two only). */
let slow: string | undefined;

beforeAll(async () => {
  const tree = f().tree;
  tree.write(
    'images.yaml',
    [IMAGES_YAML, IMAGE('seen', 'Seen Image', 'pass.sh'), IMAGE('broken', 'Broken Image', 'fail.sh'), ''].join('\n'),
  );
  tree.write('test.yaml', testYaml(f().emu));
  chmodSync(tree.write('tests/pass.sh', '#!/bin/sh\nexit 0\n'), 0o755);
  chmodSync(tree.write('tests/fail.sh', '#!/bin/sh\necho broken image >&2\nexit 1\n'), 0o755);
  oldOne = (await makeImage(await f().cloud('admin', 'RegionOne'), 'Seen Image', { visibility: 'private' })).id;

  const r = await f().cli(['--json', 'run', 'seen', '--upload-env', 'one', '--upload-env', 'two']);
  expect(r.code).toBe(0);
  good = JSON.parse(r.stdout).workflowId;
  const d = await f().cli(['run', 'broken', '--upload-env', 'one']);
  expect(d.code).toBe(80);
  let rows: Row[] = [];
  await eventually('the failed lifecycle is listed', async () => {
    rows = JSON.parse((await f().cli(['--json', 'list', '--label', 'broken'])).stdout) as Row[];
    return rows.length > 0;
  });
  expect(rows).toHaveLength(1);
  doomed = rows[0].workflowId;
});

describe('dibctl status', () => {
  it('shows a finished lifecycle as a tree: build, test and its cleanup, publish per region, retirement hand-off', async () => {
    const r = await f().cli(['status', good]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^lifecycle seen  completed  [\\d.]+(ms|s)  \\(${good}\\)$`));
    expect(r.stdout).toMatch(new RegExp(`^├─ build  completed  \\S+  \\(${lifecycleChildren.build(good)}\\)$`, 'm'));
    expect(r.stdout).toMatch(/^├─ test  completed {2}\S+ {2}\(\S+-test\)$/m);
    expect(r.stdout).toMatch(/^│ {2}└─ cleanup  done/m);
    expect(r.stdout).toMatch(/^├─ publish one  completed/m);
    expect(r.stdout).toMatch(/^└─ publish two  completed/m);
    // region one had an older copy: it went to retirement, and the tree says how to follow it
    expect(r.stdout).toMatch(/^│ {2}└─ retirement one  running/m);
    expect(r.stdout).toContain(`holds images ${oldOne}`);
    expect(r.stdout).toContain('next: dibctl retirement one');
    const published = f()
      .images('RegionOne')
      .find((i) => i.name === 'Seen Image')!.id;
    expect(r.stdout).toMatch(new RegExp(`^│ {2}│ {2}holds image ${published}$`, 'm'));
  });

  it('--json has the same facts as a tree of steps', async () => {
    const r = await f().cli(['--json', 'status', good]);
    expect(r.code).toBe(0);
    const tree = JSON.parse(r.stdout) as Node;
    expect(tree).toMatchObject({
      step: 'lifecycle seen',
      workflowId: good,
      type: 'imageLifecycleWorkflow',
      status: 'COMPLETED',
      state: 'completed',
    });
    expect(tree.durationMs).toBeGreaterThan(0);
    expect(tree.children!.map((c) => c.step)).toEqual(['build', 'test', 'publish one', 'publish two']);
    expect(child(tree, 'build')).toMatchObject({ state: 'completed', workflowId: lifecycleChildren.build(good) });
    const test = child(tree, 'test');
    expect(test).toMatchObject({ state: 'completed', workflowId: lifecycleChildren.test(good) });
    const cleanup = child(test, 'cleanup');
    expect(cleanup.state).toBe('done');
    expect(cleanup.held).toBeUndefined();
    expect(cleanup.durationMs).toBeGreaterThanOrEqual(0);
    const one = child(tree, 'publish one');
    expect(one.held?.image).toMatch(/^[0-9a-f-]{36}$/);
    expect(child(one, 'retirement one')).toMatchObject({
      workflowId: 'dibctl-retirement-one',
      state: 'running',
      held: { images: [oldOne] },
      next: ['dibctl retirement one'],
    });
    // nothing was obsoleted in region two: no hand-off
    expect(child(tree, 'publish two').children).toBeUndefined();
  });

  it('shows a lifecycle whose test failed: the failure with its exit code, nothing published', async () => {
    const r = await f().cli(['--json', 'status', doomed]);
    expect(r.code).toBe(0);
    const tree = JSON.parse(r.stdout) as Node;
    expect(tree).toMatchObject({ step: 'lifecycle broken', state: 'failed', failure: { exitCode: 80 } });
    const test = child(tree, 'test');
    expect(test.state).toBe('failed');
    expect(test.failure).toMatchObject({ exitCode: 80 });
    expect(test.failure!.message).toMatch(/tests failed/i);
    expect(child(test, 'cleanup').state).toBe('done');
    expect(child(tree, 'publish one')).toMatchObject({ state: 'skipped' });
    const text = await f().cli(['status', doomed]);
    expect(text.stdout).toMatch(/^lifecycle broken  failed/m);
    expect(text.stdout).toMatch(/failed \(exit 80\): .*tests failed/i);
    expect(text.stdout).toMatch(/^└─ publish one  skipped/m);
  });

  it('shows a failed test that holds its instance, with keep and discard as the next step', async () => {
    const t = await f().cli(['test', 'broken', '--keep-failed-instance']);
    expect(t.code).toBe(80);
    const id = workflowIdOf(t.stderr);
    const held = dibctlObjects(f().emu);
    expect(held.servers).toHaveLength(1);
    try {
      const r = await f().cli(['status', id]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^test  running — holding for keep or discard  \\S+  \\(${id}\\)$`, 'm'));
      expect(r.stdout).toMatch(/^└─ cleanup  held$/m);
      expect(r.stdout).toContain(`instance ${held.servers[0]}`);
      expect(r.stdout).toContain(`next: dibctl keep ${id} | dibctl discard ${id}`);
      const j = JSON.parse((await f().cli(['--json', 'status', id])).stdout) as Node;
      expect(j).toMatchObject({ step: 'test', state: 'running', stage: 'holding for keep or discard' });
      expect(j.held).toMatchObject({ instance: held.servers[0], keypair: held.keypairs[0] });
      expect(child(j, 'cleanup')).toMatchObject({
        state: 'held',
        held: { instance: held.servers[0] },
        next: [`dibctl keep ${id}`, `dibctl discard ${id}`],
      });
    } finally {
      expect((await f().cli(['discard', id])).code).toBe(0);
    }
    const after = JSON.parse((await f().cli(['--json', 'status', id])).stdout) as Node;
    expect(after).toMatchObject({ state: 'failed', failure: { exitCode: 80 } });
    expect(child(after, 'cleanup')).toMatchObject({ state: 'done' });
    expect(child(after, 'cleanup').held).toBeUndefined();
  });

  it('shows a running lifecycle: finished steps with their times, the running publish with its stage', async () => {
    f().emu.faults.set({ uploadBytesPerSecond: 128 * 1024 });
    try {
      const run = f().cli(['--json', 'run', 'seen', '--upload-env', 'two']);
      let seen: Node | undefined;
      const deadline = Date.now() + 90_000;
      while (!seen && Date.now() < deadline) {
        const rows = JSON.parse(
          (await f().cli(['--json', 'list', '--label', 'seen', '--state', 'running'])).stdout,
        ) as Row[];
        if (rows.length) {
          const tree = JSON.parse((await f().cli(['--json', 'status', rows[0].workflowId])).stdout) as Node;
          if (tree.children?.find((c) => c.step === 'publish two')?.state === 'running') seen = tree;
        }
        if (!seen) await new Promise((r) => setTimeout(r, 300));
      }
      expect(seen).toBeDefined();
      expect(seen).toMatchObject({ step: 'lifecycle seen', state: 'running', stage: 'publishing to two' });
      expect(seen!.closed).toBeUndefined();
      expect(child(seen!, 'build')).toMatchObject({ state: 'completed' });
      expect(child(seen!, 'test')).toMatchObject({ state: 'completed' });
      expect(child(seen!, 'publish two').stage).toMatch(/^uploading /);
      slow = seen!.workflowId;
      expect((await run).code).toBe(0);
    } finally {
      f().emu.faults.reset();
    }
  });

  it('shows a retirement workflow with the images it holds and why, and how to look closer', async () => {
    const r = await f().cli(['--json', 'status', 'dibctl-retirement-one']);
    expect(r.code).toBe(0);
    const tree = JSON.parse(r.stdout) as Node;
    expect(tree).toMatchObject({ step: 'retirement', state: 'running', next: ['dibctl retirement one'] });
    expect(tree.held?.images).toContain(oldOne);
    expect(tree.notes!.find((n) => n.startsWith(`image ${oldOne} Obsolete Seen Image: `))).toBeDefined();
  });

  it('shows a publish of its own (dibctl upload) with the image it made and its hand-off', async () => {
    const u = await f().cli(['--json', 'upload', 'seen', 'one']);
    expect(u.code).toBe(0);
    const { workflowId, imageId } = JSON.parse(u.stdout) as { workflowId: string; imageId: string };
    const r = await f().cli(['--json', 'status', workflowId]);
    expect(r.code).toBe(0);
    const tree = JSON.parse(r.stdout) as Node;
    expect(tree).toMatchObject({ step: 'publish', state: 'completed', held: { image: imageId } });
    // the lifecycle's copy was current until now: it is handed to retirement
    expect(child(tree, 'retirement one')).toMatchObject({ state: 'running', next: ['dibctl retirement one'] });
    expect(child(tree, 'retirement one').held?.images).toHaveLength(1);
  });

  it('an unknown id exits 1 naming it', async () => {
    const r = await f().cli(['status', 'no-such-lifecycle']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: No workflow with id 'no-such-lifecycle' in namespace /);
  });
});

describe('dibctl list', () => {
  const ids = async (args: string[]) => {
    const r = await f().cli(['--json', 'list', ...args]);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as Row[]).map((x) => x.workflowId);
  };

  it('filters by label, upload environment and state', async () => {
    // newest first; the lifecycle of the running-status test counts when it ran
    const later = slow ? [slow] : [];
    await eventually('every lifecycle is listed in its final state', async () => {
      const failed = await ids(['--state', 'failed']);
      const completed = await ids(['--state', 'completed']);
      return failed.includes(doomed) && [...later, good].every((id) => completed.includes(id));
    });
    expect(await ids(['--label', 'seen'])).toEqual([...later, good]);
    expect(await ids(['--state', 'completed'])).toContain(good);
    expect(await ids(['--state', 'completed'])).not.toContain(doomed);
    expect(await ids(['--state', 'failed'])).toEqual([doomed]);
    expect(await ids(['--environment', 'two'])).toEqual([...later, good]);
    expect(await ids(['--environment', 'one', '--label', 'seen'])).toEqual([good]);
    expect(await ids(['--environment', 'one', '--state', 'failed'])).toEqual([doomed]);
    expect(await ids(['--state', 'running'])).toEqual([]);
    expect(await ids(['--state', 'terminated'])).toEqual([]);
    const text = await f().cli(['list', '--state', 'cancelled']);
    expect(text.stdout).toContain('No image lifecycles found.');
  });

  it('refuses an unknown state or limit, and --running with --state, exit 2', async () => {
    const r = await f().cli(['list', '--state', 'sleeping']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must be one of running, completed, failed, cancelled, terminated/);
    const l = await f().cli(['list', '--limit', 'many']);
    expect(l.code).toBe(2);
    expect(l.stderr).toMatch(/must be a positive whole number/);
    const both = await f().cli(['list', '--running', '--state', 'failed']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/'--running' cannot be used with option '--state/);
  });
});
