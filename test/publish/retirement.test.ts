/**
 * The retirement workflow of an upload environment: holds obsolete images and
 * deletes them only when unused, unprotected, old enough and not among the
 * newest kept; reports missing rights instead of failing; waits on a durable
 * timer of retire.check_every between checks and continues as new with what it
 * holds; clamps a policy beyond the config bounds instead of getting stuck on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RetirementStatus } from '../../workflows';
import { recordHistory } from '../support/histories';
import { environmentEntry, usePublishFixture } from './fixture';
import { bootFrom, deleteServer, makeImage } from './images';
import { retirementWorkflowId } from '../../common/ids';
import {
  addImagesSignal,
  checkNowUpdate,
  retirementStatusQuery,
  retirementWorkflow,
  stageQuery,
} from '../../workflows';

jest.setTimeout(120_000);

const f = usePublishFixture();

beforeAll(() => {
  const emu = f().emu;
  f().writeUploadConfig(
    [
      environmentEntry(emu, 'ret', 'admin', 'RegionOne', '  retire: {check_every: 1h}'),
      environmentEntry(emu, 'later', 'admin', 'RegionTwo', '  retire: {check_every: 1h, delete_after: 1h}'),
      environmentEntry(emu, 'keep1', 'admin', 'RegionTwo', '  retire: {check_every: 6h, keep: 1}'),
      environmentEntry(emu, 'tick', 'admin', 'RegionTwo', '  retire: {check_every: 1h}'),
      environmentEntry(emu, 'fresh', 'admin', 'RegionTwo', '  retire: {check_every: 6h}'),
      environmentEntry(emu, 'carry', 'admin', 'RegionTwo', '  retire: {check_every: 6h}'),
    ].join('\n'),
  );
});

async function status(env: string): Promise<RetirementStatus> {
  return f().temporal.client.workflow.getHandle(retirementWorkflowId(env)).query(retirementStatusQuery);
}

async function eventually(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('retirement workflow', () => {
  it('deletes an obsolete image only after the last server using it is deleted, and never a protected one', async () => {
    const admin = await f().cloud('admin');
    const demo = await f().cloud('user');
    const used = await makeImage(admin, 'App');
    const guarded = await makeImage(admin, 'Vault', { protected: true });
    const unused = await makeImage(admin, 'Tool');
    const server = await bootFrom(demo, f().emu, used.id, 'app-user');
    for (const img of [used, guarded, unused]) expect((await f().cli(['mark-obsolete', 'ret', img.id])).code).toBe(0);

    const first = await f().cli(['retirement', 'ret', '--check-now']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`Last check .*: deleted ${unused.id}`));
    expect(first.stdout).toMatch(new RegExp(`${used.id}\\s+Obsolete App\\s+\\S+\\s+used by 1 server`));
    expect(first.stdout).toMatch(new RegExp(`${guarded.id}\\s+Obsolete Vault\\s+\\S+\\s+protected`));
    expect(await admin.image.findImage(unused.id)).toBeUndefined();
    expect(await admin.image.findImage(used.id)).toBeDefined();

    await deleteServer(demo, server);
    const second = await f().cli(['--json', 'retirement', 'ret', '--check-now']);
    const s = JSON.parse(second.stdout) as RetirementStatus & { running: boolean };
    expect(s.lastCheck?.deleted).toEqual([used.id]);
    expect(s.held.map((h) => [h.id, h.reason])).toEqual([[guarded.id, 'protected']]);
    expect(await admin.image.findImage(used.id)).toBeUndefined();
    expect(await admin.image.findImage(guarded.id)).toBeDefined();
  });

  it('--check-now starts the retirement workflow when none runs and returns once its check has run', async () => {
    const before = await f().cli(['--json', 'retirement', 'fresh']);
    expect(JSON.parse(before.stdout)).toMatchObject({ running: false });
    const r = await f().cli(['--json', 'retirement', 'fresh', '--check-now']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as RetirementStatus & { running: boolean };
    expect(s).toMatchObject({ running: true, checks: 1, held: [], lastCheck: { deleted: [], gone: [] } });
    // asked again while it waits on its 6 h timer: one more check, answered at once
    const again = JSON.parse(
      (await f().cli(['--json', 'retirement', 'fresh', '--check-now'])).stdout,
    ) as RetirementStatus;
    expect(again.checks).toBe(2);
    expect(again.lastCheck!.at).toBeGreaterThanOrEqual(s.lastCheck!.at);
    await recordHistory(f().temporal.client.workflow.getHandle(retirementWorkflowId('fresh')), 'retirement-check-now');
  });

  it('keeps an image until delete_after has passed', async () => {
    const admin = await f().cloud('admin', 'RegionTwo');
    const img = await makeImage(admin, 'Young');
    expect((await f().cli(['mark-obsolete', 'later', img.id])).code).toBe(0);
    const r = await f().cli(['retirement', 'later', '--check-now']);
    expect(r.stdout).toContain('checks every 1h, deletes after 1h, keeps the newest 0');
    expect(r.stdout).toMatch(new RegExp(`${img.id}\\s+Obsolete Young\\s+\\S+\\s+kept until \\S+ \\(delete_after\\)`));
    expect(await admin.image.findImage(img.id)).toBeDefined();
  });

  it('keeps the newest N obsolete copies of a name when keep is set', async () => {
    const admin = await f().cloud('admin', 'RegionTwo');
    const older = await makeImage(admin, 'Kept');
    await new Promise((r) => setTimeout(r, 1100));
    const newer = await makeImage(admin, 'Kept');
    for (const img of [older, newer]) expect((await f().cli(['mark-obsolete', 'keep1', img.id])).code).toBe(0);
    await f().cli(['retirement', 'keep1', '--check-now']);
    const s = await status('keep1');
    expect(s.lastCheck?.deleted).toEqual([older.id]);
    expect(s.held).toEqual([
      expect.objectContaining({ id: newer.id, reason: 'one of the newest 1 of its name (keep)' }),
    ]);
  });

  it("without the right to list every project's servers reports the problem and keeps waiting", async () => {
    const demo = await f().cloud('user');
    const img = await makeImage(demo, 'Demo App', { visibility: 'private' });
    expect((await f().cli(['mark-obsolete', 'demo', img.id])).code).toBe(0);
    const r = await f().cli(['retirement', 'demo', '--check-now']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/problem: Nova answered 403/);
    expect(r.stdout).toMatch(
      new RegExp(`${img.id}\\s+Obsolete Demo App\\s+\\S+\\s+cannot check now: Nova answered 403`),
    );
    const desc = await f().temporal.client.workflow.getHandle('dibctl-retirement-demo').describe();
    expect(desc.status.name).toBe('RUNNING');
    expect(await demo.image.findImage(img.id)).toBeDefined();
  });

  it('waits on its durable timer of check_every and continues as new with the images it holds', async () => {
    const admin = await f().cloud('admin', 'RegionTwo');
    const img = await makeImage(admin, 'Ticking', { visibility: 'public' });
    const server = await bootFrom(admin, f().emu, img.id, 'ticking-user', 'RegionTwo');
    await admin.image.updateImage(img.id, { name: 'Obsolete Ticking', properties: { obsolete: 'true' } });
    const client = f().temporal.client;
    const id = retirementWorkflowId('tick');
    // checksPerRun: continue as new after two checks, long before the history would ask for it
    const handle = await client.workflow.signalWithStart(retirementWorkflow, {
      workflowId: id,
      taskQueue: 'dibctl',
      args: [{ environment: 'tick', config: { cwd: f().tree.root }, checksPerRun: 2 }],
      signal: addImagesSignal,
      signalArgs: [[{ id: img.id, name: 'Obsolete Ticking' }]],
    });
    const firstRun = (await handle.describe()).runId;
    /** Durations of the timers a run of the workflow started, in seconds. */
    const timers = async (runId?: string) =>
      ((await client.workflow.getHandle(id, runId).fetchHistory()).events ?? [])
        .map((e) => e.timerStartedEventAttributes?.startToFireTimeout?.seconds)
        .filter((t) => t != null)
        .map(Number);

    // each wait between checks is a durable timer of check_every (1h), read from the config
    await eventually('it waits for its first check', async () => (await timers(firstRun)).length === 1);
    expect(await timers(firstRun)).toEqual([3600]);
    const waiting = await status('tick');
    expect(waiting.policy).toEqual({ checkEverySeconds: 3600, deleteAfterSeconds: 0, keep: 0 });
    expect(waiting.checks).toBe(0);

    // two checks, asked for as an operator does: the second one hands the images on to a new run
    const first = await f().cli(['--json', 'retirement', 'tick', '--check-now']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ checks: 1, held: [{ id: img.id, reason: 'used by 1 server' }] });
    // the report answers as soon as the check is done; the next wait starts in the workflow's next step
    await eventually('it waits again after the check', async () => (await timers(firstRun)).length === 2);
    expect(await timers(firstRun)).toEqual([3600, 3600]);
    expect((await f().cli(['retirement', 'tick', '--check-now'])).code).toBe(0);
    await eventually(
      'it continued as new',
      async () => (await client.workflow.getHandle(id).describe()).runId !== firstRun,
    );
    expect((await client.workflow.getHandle(id, firstRun).describe()).status.name).toBe('CONTINUED_AS_NEW');
    await eventually('the new run waits on its timer', async () => (await timers()).length === 1);
    expect(await timers()).toEqual([3600]);
    const carried = await status('tick');
    expect(carried.held).toEqual([expect.objectContaining({ id: img.id, reason: 'used by 1 server' })]);
    expect(carried.checks).toBe(2);
    expect(carried.nextCheckAt! - carried.lastCheck!.at).toBeGreaterThanOrEqual(3600_000);

    await deleteServer(admin, server);
    const last = await f().cli(['--json', 'retirement', 'tick', '--check-now']);
    expect(JSON.parse(last.stdout)).toMatchObject({ checks: 3, held: [], lastCheck: { deleted: [img.id] } });
    expect(await admin.image.findImage(img.id)).toBeUndefined();
    await recordHistory(client.workflow.getHandle(id), 'retirement');
  });

  it('clamps a policy beyond the config bounds and keeps running instead of getting stuck on it', async () => {
    const client = f().temporal.client;
    const id = retirementWorkflowId('absurd');
    // as a worker before the bounds could have handed on: 8.6e12 s made building the next check's date throw
    const handle = await client.workflow.start(retirementWorkflow, {
      workflowId: id,
      taskQueue: 'dibctl',
      args: [
        {
          environment: 'absurd',
          config: { cwd: f().tree.root },
          policy: { checkEverySeconds: 8.64e12, deleteAfterSeconds: 1e300, keep: -3 },
        },
      ],
    });
    // 'absurd' is in no config: the policy cannot be read again, so the one it was given stays
    await eventually('it waits for its first check', async () =>
      (await handle.query(stageQuery)).startsWith('waiting until'),
    );
    const s = await handle.query(retirementStatusQuery);
    expect(s.policy).toEqual({ checkEverySeconds: 315360000, deleteAfterSeconds: 315360000, keep: 0 });
    expect(s.lastCheck?.problem).toMatch(/^cannot read the retire policy: /);
    expect(s.nextCheckAt! - s.lastCheck!.at).toBeGreaterThanOrEqual(315360000_000);
    expect(s.nextCheckAt! - s.lastCheck!.at).toBeLessThan(315360000_000 + 60_000);
    expect(await handle.query(stageQuery)).toMatch(/^waiting until \d{4}-\d\d-\d\dT/);

    // still answers: a check asked for runs and returns
    const check = await handle.executeUpdate(checkNowUpdate);
    expect(check).toMatchObject({ deleted: [], gone: [] });
    expect((await handle.query(retirementStatusQuery)).checks).toBe(1);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test done');
  });

  it('checks each held image with the configs of the publish that handed it over', async () => {
    const admin = await f().cloud('admin', 'RegionTwo');
    const img = await makeImage(admin, 'Carried');
    await admin.image.updateImage(img.id, { name: 'Obsolete Carried', properties: { obsolete: 'true' } });
    // the workflow itself was started from a directory without any config: only the image's own
    // hand-over names where its environment is configured
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'dibctl-no-config-'));
    try {
      const handle = await f().temporal.client.workflow.signalWithStart(retirementWorkflow, {
        workflowId: retirementWorkflowId('carry'),
        taskQueue: 'dibctl',
        args: [{ environment: 'carry', config: { cwd: elsewhere } }],
        signal: addImagesSignal,
        signalArgs: [[{ id: img.id, name: 'Obsolete Carried' }], { config: { cwd: f().tree.root } }],
      });
      const check = await handle.executeUpdate(checkNowUpdate);
      expect(check.deleted).toEqual([img.id]);
      expect(await admin.image.findImage(img.id)).toBeUndefined();
      expect((await status('carry')).held).toEqual([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('says when no retirement workflow runs for an environment', async () => {
    const r = await f().cli(['retirement', 'two']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No retirement workflow runs for two');
  });
});
