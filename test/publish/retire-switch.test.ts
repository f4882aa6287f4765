/**
 * `retire: {enabled: false}` makes an environment behave as dibctl did:
 * obsoleted copies are not handed to retirement and wait for `rotate`; and
 * `upload` says in one line what happens to the copies it obsoleted, and when.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { retirementWorkflowId } from '../../common/ids';
import { environmentEntry, usePublishFixture } from './fixture';

jest.setTimeout(120_000);

const f = usePublishFixture();

describe('retire.enabled', () => {
  afterAll(() => f().writeUploadConfig());

  it('upload says when the obsoleted copy will be deleted, by which retirement', async () => {
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'timed',
        'admin',
        'RegionTwo',
        '  retire: {check_every: 2h, delete_after: 3d, keep: 1}',
      ),
    );
    expect((await f().cli(['upload', 'base', 'timed'])).code).toBe(0);
    const r = await f().cli(['upload', 'base', 'timed']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `timed: the obsolete copy will be deleted once no server uses it (checked every 2h, kept at least 3d, the newest 1 of each name kept; ${retirementWorkflowId('timed')})`,
    );
  });

  it('false: obsoleted copies are not handed to retirement, the line names rotate, and rotate deletes them', async () => {
    f().writeUploadConfig(environmentEntry(f().emu, 'manual', 'admin', 'RegionOne', '  retire: {enabled: false}'));
    const first = await f().cli(['--json', 'upload', 'public', 'manual']);
    expect(first.code).toBe(0);
    const firstId = (JSON.parse(first.stdout) as { imageId: string }).imageId;
    const second = await f().cli(['upload', 'public', 'manual']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(
      "manual: the obsolete copy stays until 'dibctl rotate manual' deletes the unused ones (retire.enabled is false)",
    );
    await expect(
      f().temporal.client.workflow.getHandle(retirementWorkflowId('manual')).describe(),
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    const obsolete = f()
      .images()
      .find((i) => i.id === firstId);
    expect(obsolete?.properties?.obsolete).toBe('true');

    const rotate = await f().cli(['rotate', 'manual']);
    expect(rotate.code).toBe(0);
    expect(
      f()
        .images()
        .some((i) => i.id === firstId),
    ).toBe(false);
  });
});
