/**
 * A retirement workflow that holds tens of thousands of images still continues
 * as new: it hands them on in a compact form (each configs, target, name,
 * reason and time once), far below Temporal's 2 MB payload limit, and the next
 * run checks every image with the configs of the publish that handed it over.
 * A run handed the list of an earlier version (each image with its own configs)
 * reads it and hands it on compactly. The status lists the first images and
 * counts them all.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { ConfigLocation } from '../../activities';
import { retirementWorkflowId } from '../../common/ids';
import { recordHistory } from '../support/histories';
import { addImagesSignal, checkNowUpdate, retirementStatusQuery, retirementWorkflow } from '../../workflows';
import type { RetirementStatus } from '../../workflows';
import { environmentEntry, usePublishFixture } from './fixture';

jest.setTimeout(300_000);

const f = usePublishFixture();

/** Temporal refuses a payload above this (the server's default blob size limit). */
const PAYLOAD_LIMIT = 2 * 1024 * 1024;

/** A held image as the status lists it, the form runs of earlier versions handed on. */
type ListedImage = RetirementStatus['held'][number];
/** Where a hand-over came from. */
type HandOver = Required<Pick<ListedImage, 'config'>> & Pick<ListedImage, 'target'>;

type Input = Parameters<typeof retirementWorkflow>[0];

/** The first payload of a history event's input, as JSON, and its size in bytes. */
function payloadOf(input: temporal.api.common.v1.IPayloads | null | undefined): { value: Input; bytes: number } {
  const data = input?.payloads?.[0]?.data;
  if (!data) throw new Error('no input payload');
  return { value: JSON.parse(Buffer.from(data).toString('utf8')) as Input, bytes: data.length };
}

/** The `[value, count, ...]` runs of the compact form as one value per image. */
function valuesOf(runs: number[], length: number): number[] {
  const values: number[] = [];
  for (let i = 0; i < runs.length; i += 2) for (let n = 0; n < runs[i + 1]; n++) values.push(runs[i]);
  expect(values).toHaveLength(length);
  return values;
}

/** The held images a run handed on, in the list form earlier versions wrote (what the compact form saves). */
function listed(input: Input): ListedImage[] {
  const h = input.holding!;
  const n = h.ids.length;
  const [origin, name, reason, heldSince] = [h.origin, h.name, h.reason, h.heldSince].map((r) => valuesOf(r, n));
  return h.ids.map((id, i) => ({
    id,
    name: h.names[name[i]],
    heldSince: h.times[heldSince[i]],
    reason: h.reasons[reason[i]],
    ...(origin[i] >= 0 ? h.origins[origin[i]] : {}),
  }));
}

/** What a run that continued as new handed on: the input of its continue-as-new. */
async function handedOn(handle: WorkflowHandle, runId: string): Promise<{ value: Input; bytes: number }> {
  const events = (await f().temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
  const e = events.find((x) => x.workflowExecutionContinuedAsNewEventAttributes);
  if (!e) throw new Error(`run ${runId} did not continue as new`);
  return payloadOf(e.workflowExecutionContinuedAsNewEventAttributes!.input);
}

/** The images each survey of a run was asked to check, with the configs and target it was given. */
async function surveys(handle: WorkflowHandle, runId: string): Promise<Array<HandOver & { ids: string[] }>> {
  const events = (await f().temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
  return events
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'surveyObsoleteImages')
    .map((a) => payloadOf(a!.input).value as unknown as HandOver & { ids: string[] });
}

async function eventually(what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Checks now and waits for the run after the continue-as-new that check leads to (checksPerRun: 1). */
async function checkAndContinue(handle: WorkflowHandle): Promise<{ before: string; after: string }> {
  const before = (await handle.describe()).runId!;
  await handle.executeUpdate(checkNowUpdate);
  let after = before;
  await eventually('it continued as new', async () => {
    after = (await handle.describe()).runId!;
    return after !== before;
  });
  return { before, after };
}

let elsewhere: string;

beforeAll(() => {
  // the operator's configs name the environment; the workflow itself was started elsewhere
  f().writeUploadConfig(environmentEntry(f().emu, 'many', 'admin', 'RegionOne', '  retire: {check_every: 1h}'));
  // no configs here: every survey fails, so the check keeps every image ("cannot check now") and hands it on
  elsewhere = mkdtempSync(path.join(os.tmpdir(), 'dibctl-no-config-'));
});

afterAll(() => {
  rmSync(elsewhere, { recursive: true, force: true });
});

describe('a retirement workflow holding many images', () => {
  it('continues as new with 10,000 and then 20,000 held images, each checked with the configs it was handed over with', async () => {
    const client = f().temporal.client;
    const origins: Array<HandOver | undefined> = [
      { config: { cwd: elsewhere, uploadConfig: 'a.yaml' } },
      {
        config: { cwd: elsewhere, uploadConfig: 'b.yaml' },
        target: { authUrl: 'https://keystone.example.net/v3', region: 'RegionB', project: 'images' },
      },
      // handed over without configs: checked with the workflow's own
      undefined,
    ];
    const key = (o: HandOver | undefined) => JSON.stringify(o ? [o.config, o.target ?? null] : null);
    const originOf = new Map<string, string>();
    const handle = await client.workflow.start(retirementWorkflow, {
      workflowId: retirementWorkflowId('many'),
      taskQueue: 'dibctl',
      args: [{ environment: 'many', config: { cwd: elsewhere }, checksPerRun: 1 }],
    });
    /** Hands over `count` more images in batches of 500 as publishes do, each batch from the next origin. */
    const handOver = async (count: number) => {
      for (let batch = 0; batch < count / 500; batch++) {
        const from = origins[(originOf.size / 500) % origins.length];
        const images = Array.from({ length: 500 }, (_, i) => ({
          id: randomUUID(),
          name: `Obsolete App ${(originOf.size + i) % 40}`,
        }));
        for (const img of images) originOf.set(img.id, key(from));
        await handle.signal(addImagesSignal, images, ...(from ? [from] : []));
      }
    };

    const sizes: Record<string, { compact: number; listed: number }> = {};
    let after = '';
    for (const total of [10_000, 20_000]) {
      await handOver(10_000);
      const runs = await checkAndContinue(handle);
      after = runs.after;
      const { value, bytes } = await handedOn(handle, runs.before);
      expect(value.held).toBeUndefined();
      const images = listed(value);
      // every image is handed on once, with the configs and target it was handed over with
      expect(images).toHaveLength(total);
      expect(images.map((i) => i.id).sort()).toEqual([...originOf.keys()].sort());
      for (const img of images) {
        expect(
          key(img.config ? { config: img.config, ...(img.target ? { target: img.target } : {}) } : undefined),
        ).toBe(originOf.get(img.id));
      }
      expect(images.every((i) => i.reason.startsWith('cannot check now: '))).toBe(true);
      // the list form of earlier versions, for comparison
      const { holding: _compact, ...rest } = value;
      sizes[total] = { compact: bytes, listed: Buffer.byteLength(JSON.stringify({ ...rest, held: images })) };
      expect(bytes).toBeLessThan(PAYLOAD_LIMIT / 2);
    }
    // with 20,000 images the list form is above the limit, the compact one at a fraction of it
    expect(sizes[20_000].listed).toBeGreaterThan(PAYLOAD_LIMIT);
    console.log(`continue-as-new input in bytes (compact vs. the earlier list form): ${JSON.stringify(sizes)}`);

    // the run after the second continue-as-new holds all 20,000, checks each with its origin's configs
    const status = await handle.query(retirementStatusQuery);
    expect(status.heldCount).toBe(20_000);
    expect(status.held).toHaveLength(500);
    expect(status.checks).toBe(2);
    const first = status.held[0];
    expect(first.reason).toMatch(/^cannot check now: /);
    expect(originOf.get(first.id)).toBe(key(origins[0]));
    expect(first.config).toEqual(origins[0]!.config);
    expect(first.target).toBeUndefined();
    // the first 500 handed over: the first batch
    expect(status.held.every((h) => originOf.get(h.id) === key(origins[0]))).toBe(true);

    await checkAndContinue(handle);
    const checked = await surveys(handle, after);
    expect(checked).toHaveLength(3);
    expect(checked.flatMap((s) => s.ids).sort()).toEqual([...originOf.keys()].sort());
    for (const s of checked) {
      const own = s.config.cwd === elsewhere && !s.config.uploadConfig;
      for (const id of s.ids) expect(originOf.get(id)).toBe(own ? key(undefined) : key(s));
    }

    // the operator's view: the count of all, the first ones listed, and how many more there are
    const r = await f().cli(['retirement', 'many']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('dibctl-retirement-many: 20000 obsolete images held');
    expect(r.stdout).toContain(first.id);
    expect(r.stdout).toContain('... and 19500 more held (the first 500 handed over are listed)');
    await handle.terminate('test done');
  });

  it('reads the list of held images that runs of earlier versions hand on, and hands it on compactly', async () => {
    const client = f().temporal.client;
    const own: ConfigLocation = { cwd: elsewhere };
    const other: HandOver = {
      config: { cwd: elsewhere, uploadConfig: 'other.yaml' },
      target: { authUrl: 'https://keystone.example.net/v3', region: 'RegionC' },
    };
    const held: ListedImage[] = [
      { id: randomUUID(), name: 'Obsolete Own', heldSince: 1_700_000_000_000, reason: 'used by 1 server' },
      { id: randomUUID(), name: 'Obsolete Other', heldSince: 1_700_000_001_000, reason: 'protected', ...other },
      // its configs are the workflow's own: checked together with the first
      { id: randomUUID(), name: 'Obsolete Same', heldSince: 1_700_000_002_000, reason: 'not checked yet', config: own },
      { id: randomUUID(), name: 'Obsolete Other', heldSince: 1_700_000_001_000, reason: 'protected', ...other },
    ];
    const handle = await client.workflow.start(retirementWorkflow, {
      workflowId: retirementWorkflowId('earlier'),
      taskQueue: 'dibctl',
      args: [{ environment: 'earlier', config: own, checks: 7, checksPerRun: 1, held } as Input],
    });
    const status = await handle.query(retirementStatusQuery);
    expect(status.held).toEqual(held);
    expect(status.heldCount).toBe(4);

    const runs = await checkAndContinue(handle);
    // the images are checked where each was handed over from, in two groups as before
    const checked = await surveys(handle, runs.before);
    expect(checked.map((s) => [s.config, s.target, s.ids])).toEqual([
      [own, undefined, [held[0].id, held[2].id]],
      [other.config, other.target, [held[1].id, held[3].id]],
    ]);
    const { value } = await handedOn(handle, runs.before);
    expect(value.held).toBeUndefined();
    expect(value.holding!.origins).toEqual([other, { config: own }]);
    expect(listed(value).map((i) => [i.id, i.name, i.heldSince, i.config, i.target])).toEqual(
      held.map((i) => [i.id, i.name, i.heldSince, i.config, i.target]),
    );
    const carried = await handle.query(retirementStatusQuery);
    expect(carried.checks).toBe(8);
    expect(carried.held.map((i) => [i.id, i.name, i.heldSince, i.config, i.target])).toEqual(
      held.map((i) => [i.id, i.name, i.heldSince, i.config, i.target]),
    );
    expect(carried.held.every((i) => i.reason.startsWith('cannot check now: '))).toBe(true);
    // a run that started from the compact form, checked and continued as new: for the replay suite
    const next = await checkAndContinue(handle);
    expect((await handedOn(handle, next.before)).value.holding!.ids).toEqual(held.map((i) => i.id));
    await recordHistory(client.workflow.getHandle(handle.workflowId, next.before), 'retirement-compact');
    await handle.terminate('test done');
  });
});
