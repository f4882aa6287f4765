/**
 * The retirement workflow of an upload environment: holds obsolete images and
 * deletes them only when unused, unprotected, old enough and not among the
 * newest kept; reports missing rights instead of failing; runs on a durable
 * timer and continues as new with what it holds.
 */
import type { RetirementStatus } from '../../workflows';
import { recordHistory } from '../support/histories';
import { environmentEntry, usePublishFixture } from './fixture';
import { bootFrom, deleteServer, makeImage } from './images';
import { retirementWorkflowId } from '../../common/ids';
import { addImagesSignal, retirementStatusQuery, retirementWorkflow } from '../../workflows';

jest.setTimeout(120_000);

const f = usePublishFixture();

beforeAll(() => {
  const emu = f().emu;
  f().writeUploadConfig(
    [
      environmentEntry(emu, 'ret', 'admin', 'RegionOne', '  retire: {check_every: 1h}'),
      environmentEntry(emu, 'later', 'admin', 'RegionTwo', '  retire: {check_every: 1h, delete_after: 1h}'),
      environmentEntry(emu, 'keep1', 'admin', 'RegionTwo', '  retire: {check_every: 6h, keep: 1}'),
      environmentEntry(emu, 'tick', 'admin', 'RegionTwo', '  retire: {check_every: 1s}'),
      environmentEntry(emu, 'fresh', 'admin', 'RegionTwo', '  retire: {check_every: 6h}'),
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

  it('checks on its durable timer and continues as new with the images it holds', async () => {
    const admin = await f().cloud('admin', 'RegionTwo');
    const img = await makeImage(admin, 'Ticking', { visibility: 'public' });
    const server = await bootFrom(admin, f().emu, img.id, 'ticking-user', 'RegionTwo');
    await admin.image.updateImage(img.id, { name: 'Obsolete Ticking', properties: { obsolete: 'true' } });
    const client = f().temporal.client;
    const handle = await client.workflow.signalWithStart(retirementWorkflow, {
      workflowId: retirementWorkflowId('tick'),
      taskQueue: 'dibctl',
      args: [{ environment: 'tick', config: { cwd: f().tree.root }, checksPerRun: 2 }],
      signal: addImagesSignal,
      signalArgs: [[{ id: img.id, name: 'Obsolete Ticking' }]],
    });
    const firstRun = (await handle.describe()).runId;
    await eventually(
      'it continued as new',
      async () => (await client.workflow.getHandle(retirementWorkflowId('tick')).describe()).runId !== firstRun,
    );
    const held = (await status('tick')).held;
    expect(held).toEqual([expect.objectContaining({ id: img.id, reason: 'used by 1 server' })]);
    expect((await status('tick')).checks).toBeGreaterThanOrEqual(2);

    await deleteServer(admin, server);
    await eventually(
      'the timer-driven check deleted the image',
      async () => (await admin.image.findImage(img.id)) === undefined,
    );
    expect((await status('tick')).held).toEqual([]);
    await recordHistory(client.workflow.getHandle(retirementWorkflowId('tick')), 'retirement');
  });

  it('says when no retirement workflow runs for an environment', async () => {
    const r = await f().cli(['retirement', 'two']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No retirement workflow runs for two');
  });
});
