/**
 * `dibctl run`: build (external_build) → image test on the emulator → publish
 * to two regions in parallel → obsolete → retirement. A failing test publishes
 * nothing; a region that is down does not undo the other.
 */
import { chmodSync, readFileSync } from 'node:fs';
import type { LifecycleResult } from '../../workflows';
import { recordHistory } from '../support/histories';
import { oneSuite } from '../support/junit';
import { testYaml } from '../stages/fixture';
import { IMAGES_YAML, usePublishFixture } from './fixture';
import { makeImage } from './images';
import { lifecycleChildren, retirementWorkflowId } from '../../common/ids';
import { retirementStatusQuery } from '../../workflows';

jest.setTimeout(180_000);

const f = usePublishFixture();
let firstRun: LifecycleResult | undefined;

/** Every byte string in a history, decoded: payloads, failures, heartbeat details, memos. */
function texts(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => texts(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => texts(v, out));
  return out;
}

const LIFE_IMAGES = (name: string, label: string, test: string) =>
  [
    `${label}:`,
    `  filename: ${label}.qcow2`,
    '  external_build:',
    `    - cmdline: "head -c 2097152 /dev/urandom > ${label}.qcow2"`,
    '  glance:',
    `    name: ${name}`,
    '  tests:',
    '    environment_name: emu',
    '    ssh: {username: cirros}',
    '    tests_list:',
    `      - shell: tests/${test}`,
  ].join('\n');

beforeAll(() => {
  const tree = f().tree;
  tree.write(
    'images.yaml',
    [
      IMAGES_YAML,
      LIFE_IMAGES('Life Image', 'life', 'pass.sh'),
      LIFE_IMAGES('Doomed Image', 'doomed', 'fail.sh'),
      LIFE_IMAGES('Changed Image', 'changed', 'change.sh'),
      '',
    ].join('\n'),
  );
  tree.write('test.yaml', testYaml(f().emu));
  chmodSync(tree.write('tests/pass.sh', '#!/bin/sh\necho "testing $DIBCTL_INSTANCE_NAME"\nexit 0\n'), 0o755);
  chmodSync(tree.write('tests/fail.sh', '#!/bin/sh\necho broken image >&2\nexit 1\n'), 0o755);
  // passes, but changes the image file after it was uploaded for the test
  chmodSync(tree.write('tests/change.sh', `#!/bin/sh\necho tampered >> '${tree.path('changed.qcow2')}'\n`), 0o755);
});

/** When (ms) each child's upload activity was scheduled and when it completed. */
async function uploadWindow(workflowId: string): Promise<[number, number]> {
  const history = await f().temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  const scheduled = history.events!.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'uploadImageFile',
  )!;
  const completed = history.events!.find(
    (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? '') === String(scheduled.eventId),
  )!;
  return [ms(scheduled.eventTime), ms(completed.eventTime)];
}

/** What a publish child gave its upload activity. */
async function uploadInput(workflowId: string): Promise<{ file: string; testedFile?: unknown }> {
  const history = await f().temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = history.events!.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'uploadImageFile',
  )!;
  const payload = scheduled.activityTaskScheduledEventAttributes!.input!.payloads![0];
  return JSON.parse(Buffer.from(payload.data!).toString('utf8')) as { file: string; testedFile?: unknown };
}

describe('dibctl run', () => {
  it('builds, tests, publishes to two regions in parallel and obsoletes the previous copies', async () => {
    const one = await f().cloud('admin', 'RegionOne');
    const two = await f().cloud('admin', 'RegionTwo');
    const oldOne = await makeImage(one, 'Life Image', { visibility: 'private' });
    const oldTwo = await makeImage(two, 'Life Image', { visibility: 'private' });
    f().emu.faults.set({ uploadBytesPerSecond: 1024 * 1024 });
    let r;
    try {
      r = await f().cli(['--json', 'run', 'life', '--upload-env', 'one', '--upload-env', 'two']);
    } finally {
      f().emu.faults.reset();
    }
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as LifecycleResult;
    firstRun = result;
    expect(result.built).toBe(true);
    expect(result.tested).toMatchObject({ passed: true, tests: 1 });
    expect(result.failed).toEqual([]);
    expect(result.regions.map((x) => [x.environment, x.ok])).toEqual([
      ['one', true],
      ['two', true],
    ]);
    expect(r.stderr).toContain('Stage: publishing to one, two');

    // each region got the new image and obsoleted its previous copy
    for (const [region, old, env] of [
      ['RegionOne', oldOne, 'one'],
      ['RegionTwo', oldTwo, 'two'],
    ] as const) {
      const published = result.regions.find((x) => x.environment === env)!.result!;
      expect(
        f()
          .images(region)
          .filter((i) => i.name === 'Life Image')
          .map((i) => i.id),
      ).toEqual([published.imageId]);
      expect(
        f()
          .images(region)
          .find((i) => i.id === old.id),
      ).toMatchObject({ name: 'Obsolete Life Image', properties: expect.objectContaining({ obsolete: 'true' }) });
      expect(published.obsoleted).toEqual([{ id: old.id, name: 'Obsolete Life Image', replacedBy: published.imageId }]);
      const held = await f().temporal.client.workflow.getHandle(retirementWorkflowId(env)).query(retirementStatusQuery);
      expect(held.held.map((h) => h.id)).toContain(old.id);
    }

    // the two uploads ran at the same time
    const [s1, e1] = await uploadWindow(lifecycleChildren.publish(result.workflowId, 'one'));
    const [s2, e2] = await uploadWindow(lifecycleChildren.publish(result.workflowId, 'two'));
    expect(s1).toBeLessThan(e2);
    expect(s2).toBeLessThan(e1);

    // the file was hashed once, by the tested-file check: each region's upload was checked against that
    for (const [region, env] of [
      ['RegionOne', 'one'],
      ['RegionTwo', 'two'],
    ] as const) {
      const upload = await uploadInput(lifecycleChildren.publish(result.workflowId, env));
      const image = f()
        .images(region)
        .find((i) => i.id === result.regions.find((x) => x.environment === env)!.result!.imageId)!;
      expect(upload.testedFile).toEqual({
        file: f().tree.path('life.qcow2'),
        bytes: 2097152,
        md5: image.checksum,
        sha512: image.os_hash_value,
      });
    }

    // no test server, keypair or test image left
    const state = f().emu.state();
    expect(state.regions.RegionOne.servers.filter((s) => s.name.startsWith('DIBCTL-'))).toEqual([]);
    expect(state.regions.RegionOne.images.filter((i) => (i.name ?? '').startsWith('DIBCTL-'))).toEqual([]);
  });

  it('keeps every password out of the histories of the lifecycle, its children and retirement', async () => {
    expect(firstRun).toBeDefined();
    const client = f().temporal.client;
    const ids = ['', '-build', '-test', '-publish-one', '-publish-two']
      .map((x) => `${firstRun!.workflowId}${x}`)
      .concat(['dibctl-retirement-one']);
    const secrets = [f().emu.admin.password, f().emu.user.password];
    for (const id of ids) {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const all = texts(history);
      expect(all.length).toBeGreaterThan(5);
      expect(all.some((t) => t.includes(f().tree.root))).toBe(true);
      for (const secret of secrets) expect(all.filter((t) => t.includes(secret))).toEqual([]);
    }
    await recordHistory(client.workflow.getHandle(firstRun!.workflowId), 'image-lifecycle');
    await recordHistory(client.workflow.getHandle(lifecycleChildren.publish(firstRun!.workflowId, 'one')), 'publish');
  });

  it('publishes nothing when the image test fails, exits with the test code and still writes the JUnit report', async () => {
    const r = await f().cli([
      'run',
      'doomed',
      '--upload-env',
      'one',
      '--upload-env',
      'two',
      '--junit-xml',
      'reports/doomed.xml',
    ]);
    expect(r.code).toBe(80);
    expect(r.stderr).toMatch(/Error: .*(tests failed|Some tests failed)/i);
    const suite = oneSuite(f().tree.path('reports/doomed.xml'));
    expect(suite).toMatchObject({ name: 'doomed', tests: 1, failures: 1, errors: 0 });
    expect(suite.cases[0]).toMatchObject({
      classname: 'doomed.shell',
      name: `shell: ${f().tree.path('tests/fail.sh')}`,
    });
    expect(suite.cases[0].failure).toMatchObject({ message: 'exit code 1', type: 'shell' });
    expect(suite.cases[0].failure!.text).toContain('broken image');
    expect(readFileSync(f().tree.path('reports/doomed.xml'), 'utf8')).not.toContain(f().emu.admin.password);
    expect(
      f()
        .images('RegionOne')
        .filter((i) => i.name === 'Doomed Image'),
    ).toEqual([]);
    expect(
      f()
        .images('RegionTwo')
        .filter((i) => i.name === 'Doomed Image'),
    ).toEqual([]);
  });

  it('publishes nothing when the file changed after it was tested', async () => {
    const r = await f().cli(['run', 'changed', '--upload-env', 'one']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /changed\.qcow2 changed after it was tested \(md5 [0-9a-f]{32} tested, [0-9a-f]{32} now\): nothing was published/,
    );
    expect(
      f()
        .images('RegionOne')
        .filter((i) => i.name === 'Changed Image'),
    ).toEqual([]);
  });

  it('when one region is down the other still publishes; the result says per region and the exit code is not 0', async () => {
    const before = f()
      .images('RegionOne')
      .filter((i) => i.name === 'Life Image')
      .map((i) => i.id);
    f().emu.faults.set({ failingRegions: ['RegionTwo'] });
    let r;
    try {
      r = await f().cli(['run', 'life', '--no-build', '--no-test', '--upload-env', 'one', '--upload-env', 'two']);
    } finally {
      f().emu.faults.reset();
    }
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^one: image \S+ 'Life Image' uploaded/m);
    expect(r.stdout).toMatch(/^two: FAILED: Glance answered 503/m);
    expect(r.stderr).toContain('Error: publishing failed in two');
    expect(r.stderr).toMatch(/^Next step: .*'dibctl upload life two -i \S+' publishes the tested image there$/m);
    const now = f()
      .images('RegionOne')
      .filter((i) => i.name === 'Life Image')
      .map((i) => i.id);
    expect(now).toHaveLength(1);
    expect(now).not.toEqual(before);
  });

  it('refuses an unknown upload environment before starting anything (exit 11)', async () => {
    const r = await f().cli(['run', 'life', '--upload-env', 'nowhere']);
    expect(r.code).toBe(11);
  });
});
