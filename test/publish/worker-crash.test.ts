/**
 * A worker killed with SIGKILL in the middle of an upload: a new worker
 * finishes the publish into the same Glance image; no second image is made.
 */
import { BUILD_ID_PROPERTY } from '../../activities/image-upload';
import { localHostQueue } from '../../worker/worker';
import type { PublishResult } from '../../workflows';
import { dibctlEnv, startDibctl } from '../stages/cli-support';
import { IMAGE_BYTES, usePublishFixture } from './fixture';
import { publishWorkflow } from '../../workflows';

const f = usePublishFixture();

describe('publish survives a killed worker', () => {
  it('kill -9 during the upload: the next worker completes the same image, one image with that build id exists', async () => {
    const t = f().temporal;
    const queue = 'crash-publish';
    const env = dibctlEnv(t, f().tree.path('state'));
    f().emu.faults.set({ uploadBytesPerSecond: 256 * 1024 });
    const first = startDibctl(['worker', '--task-queue', queue], { cwd: f().tree.root, env });
    await first.waitFor(/Worker polling/);
    const handle = await t.client.workflow.start(publishWorkflow, {
      taskQueue: queue,
      workflowId: `crash-publish-${Date.now()}`,
      args: [
        {
          imageLabel: 'base',
          environment: 'one',
          config: { cwd: f().tree.root },
          fileQueue: localHostQueue(queue),
          obsolete: false,
        },
      ],
    });
    const buildId = `${handle.workflowId}/publish/one`;
    const ours = () =>
      f()
        .images()
        .filter((i) => i.properties[BUILD_ID_PROPERTY] === buildId);
    let second: ReturnType<typeof startDibctl> | undefined;
    try {
      const deadline = Date.now() + 60_000;
      while (!ours().some((i) => i.status === 'saving')) {
        if (Date.now() > deadline) throw new Error('the upload never started');
        await new Promise((r) => setTimeout(r, 100));
      }
      const started = ours();
      expect(started).toHaveLength(1);
      first.child.kill('SIGKILL');
      await first.exited;
      f().emu.faults.reset();

      second = startDibctl(['worker', '--task-queue', queue], { cwd: f().tree.root, env });
      const result: PublishResult = await handle.result();
      expect(result.imageId).toBe(started[0].id);
      expect(ours()).toEqual([expect.objectContaining({ id: started[0].id, status: 'active', size: IMAGE_BYTES })]);
      expect(
        f()
          .images()
          .filter((i) => i.name === 'Base Image'),
      ).toHaveLength(1);
    } finally {
      f().emu.faults.reset();
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await second?.exited;
    }
  }, 150_000);
});
