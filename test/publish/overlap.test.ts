/**
 * Overlapping publishes of one image name in one project — two or three
 * uploads at once, `run` to two environments that reach the same project —
 * leave exactly one current image, the one whose publish completed last; every
 * other copy is obsolete and held by retirement, and nothing is lost.
 */
import { PUBLISHED_AT_PROPERTY } from '../../common/image-properties';
import { retirementWorkflowId } from '../../common/ids';
import { retirementStatusQuery } from '../../workflows';
import type { PublishResult } from '../../workflows';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { IMAGES_YAML, environmentEntry, usePublishFixture } from './fixture';

jest.setTimeout(180_000);

const f = usePublishFixture();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => {
  // a second environment in the same project and region as `one`
  f().writeUploadConfig(environmentEntry(f().emu, 'same', 'admin', 'RegionOne'));
  // a larger file published under the same Glance name
  f().tree.write('images.yaml', `${IMAGES_YAML}big:\n  filename: big.qcow2\n  glance:\n    name: Base Image\n`);
  writeFileSync(f().tree.path('big.qcow2'), randomBytes(16 * 1024 * 1024));
});

afterEach(() => f().emu.faults.reset());

function byName(name: string) {
  return f()
    .images()
    .filter((i) => i.name === name || i.name === `Obsolete ${name}`);
}

/** The images of the name that are not obsolete. */
function current(name: string) {
  return byName(name).filter((i) => i.name === name && i.properties.obsolete !== 'true');
}

async function held(environment: string): Promise<string[]> {
  const h = f().temporal.client.workflow.getHandle(retirementWorkflowId(environment));
  return (await h.query(retirementStatusQuery)).held.map((x) => x.id);
}

/** Starts `upload base ENV` every `gapMs`, all running at once, and returns their results. */
async function overlappingUploads(environments: string[], gapMs: number): Promise<PublishResult[]> {
  const runs: Promise<PublishResult>[] = [];
  for (const env of environments) {
    runs.push(
      f()
        .cli(['--json', 'upload', 'base', env])
        .then((r) => {
          if (r.code !== 0) throw new Error(`upload to ${env} exited ${r.code}: ${r.stderr}`);
          return JSON.parse(r.stdout) as PublishResult;
        }),
    );
    await sleep(gapMs);
  }
  return Promise.all(runs);
}

/** Exactly one current image: the one whose publish completed last; every other copy obsolete. */
function expectOneCurrent(results: PublishResult[], seeded: string[]): string {
  const now = current('Base Image');
  expect(now).toHaveLength(1);
  const stamps = results.map((r) => {
    const img = byName('Base Image').find((i) => i.id === r.imageId)!;
    expect(img).toBeDefined();
    return { id: r.imageId!, at: Number(img.properties[PUBLISHED_AT_PROPERTY]) };
  });
  const last = stamps.reduce((a, b) => (b.at > a.at || (b.at === a.at && b.id > a.id) ? b : a));
  expect(now[0].id).toBe(last.id);
  for (const id of [...seeded, ...results.map((r) => r.imageId!)]) {
    if (id === last.id) continue;
    const img = f()
      .images()
      .find((i) => i.id === id);
    expect(img).toMatchObject({
      name: 'Obsolete Base Image',
      properties: expect.objectContaining({ obsolete: 'true' }),
    });
  }
  // the earlier publishes say they were replaced
  for (const r of results) {
    if (r.imageId === last.id) expect(r.supersededBy).toBeUndefined();
  }
  return last.id;
}

describe('overlapping publishes of one name', () => {
  it('two uploads at once leave one current image, the last completed, and hand every older copy to retirement', async () => {
    const seed = await f().cli(['--json', 'upload', 'base', 'one']);
    expect(seed.code).toBe(0);
    const seeded = (JSON.parse(seed.stdout) as PublishResult).imageId!;
    // 3 MiB at 1 MiB/s: each upload takes about 3 s, the second starts while the first sends
    f().emu.faults.set({ uploadBytesPerSecond: 1024 * 1024 });
    const results = await overlappingUploads(['one', 'one'], 1_500);
    const last = expectOneCurrent(results, [seeded]);
    const retired = await held('one');
    for (const id of [seeded, ...results.map((r) => r.imageId!)].filter((id) => id !== last)) {
      expect(retired).toContain(id);
    }
  });

  it('three overlapping uploads through two environments of one project end with one current image', async () => {
    const before = byName('Base Image').map((i) => i.id);
    f().emu.faults.set({ uploadBytesPerSecond: 1024 * 1024 });
    const results = await overlappingUploads(['one', 'same', 'one'], 700);
    const last = expectOneCurrent(results, before);
    const retired = [...(await held('one')), ...(await held('same').catch(() => []))];
    for (const id of [...before, ...results.map((r) => r.imageId!)].filter((id) => id !== last)) {
      expect(retired).toContain(id);
    }
  });

  it('run to two environments that reach the same project publishes twice and keeps one current image', async () => {
    const before = byName('Base Image').map((i) => i.id);
    f().emu.faults.set({ uploadBytesPerSecond: 2 * 1024 * 1024 });
    const r = await f().cli([
      '--json',
      'run',
      'base',
      '--no-build',
      '--no-test',
      '--upload-env',
      'one',
      '--upload-env',
      'same',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { regions: { environment: string; result: PublishResult }[] };
    const publishes = result.regions.map((x) => x.result);
    expect(publishes).toHaveLength(2);
    const last = expectOneCurrent(publishes, before);
    // whichever step saw both obsoleted the earlier one in favour of the last, and said so
    const loser = publishes.find((p) => p.imageId !== last)!;
    const reported = publishes.flatMap((p) => p.obsoleted).find((o) => o.id === loser.imageId);
    expect(reported).toMatchObject({ replacedBy: last });
    if (reported && publishes.find((p) => p.obsoleted.includes(reported)) === loser)
      expect(loser.supersededBy).toBe(last);
  });

  it('a copy still uploading is not obsoleted by a publish of the name that completes meanwhile', async () => {
    const before = byName('Base Image').map((i) => i.id);
    // 16 MiB and 3 MiB at 2 MiB/s: the big upload starts first and completes last
    f().emu.faults.set({ uploadBytesPerSecond: 2 * 1024 * 1024 });
    const slow = f().cli(['--json', 'upload', 'big', 'one']);
    await sleep(1_000);
    const fast = await f().cli(['--json', 'upload', 'base', 'same']);
    expect(fast.code).toBe(0);
    const fastResult = JSON.parse(fast.stdout) as PublishResult;
    // the slow copy is still pending and was left alone
    const pending = byName('Base Image').filter((i) => i.properties[PUBLISHED_AT_PROPERTY] === 'pending');
    for (const img of pending) expect(img.name).toBe('Base Image');
    const slowRun = await slow;
    expect(slowRun.code).toBe(0);
    const slowResult = JSON.parse(slowRun.stdout) as PublishResult;
    const last = expectOneCurrent([fastResult, slowResult], before);
    expect(last).toBe(slowResult.imageId);
    expect(fastResult.imageId).not.toBe(last);
  });
});
