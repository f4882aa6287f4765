/**
 * Activities without progress of their own heartbeat while they run, so a
 * killed worker's step is retried after the heartbeat timeout; those that
 * report progress keep their details.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { keepAlive, stageActivities } from '../../activities/stage-failure';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keeping activities alive', () => {
  it('heartbeats at the start and then periodically until the step ends', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    let fourth: () => void = () => undefined;
    const fourBeats = new Promise<void>((resolve) => (fourth = resolve));
    env.on('heartbeat', (d: unknown) => {
      beats.push(d);
      if (beats.length === 4) fourth();
    });
    // the step ends only once it has been kept alive four times (one at the start, then the ticker)
    const step = keepAlive(async () => {
      await fourBeats;
      return 'done';
    }, 50);
    await expect(env.run(step)).resolves.toBe('done');
    expect(beats.length).toBeGreaterThanOrEqual(4);
    expect(beats.every((d) => d === undefined)).toBe(true);
    // nothing beats once the step is over
    const after = beats.length;
    await sleep(200);
    expect(beats.length).toBe(after);
  });

  it('stops beating when the step fails, and the failure leaves typed', async () => {
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => void beats++);
    const acts = stageActivities({
      broken: async () => {
        await sleep(20);
        throw new Error('boom');
      },
    });
    await expect(env.run(acts.broken)).rejects.toMatchObject({ message: 'boom', nonRetryable: false });
    const after = beats;
    expect(after).toBeGreaterThanOrEqual(1);
    await sleep(100);
    expect(beats).toBe(after);
  });

  it('leaves the heartbeats of steps that report progress to them', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const acts = stageActivities(
      {
        uploading: async () => {
          const { heartbeat } = await import('@temporalio/activity');
          heartbeat({ bytes: 1 });
          heartbeat({ bytes: 2 });
          return 2;
        },
      },
      { reportsProgress: ['uploading'] },
    );
    await expect(env.run(acts.uploading)).resolves.toBe(2);
    expect(beats).toEqual([{ bytes: 1 }, { bytes: 2 }]);
  });

  it('runs the step as it is outside an activity', async () => {
    await expect(keepAlive(async () => 7)()).resolves.toBe(7);
  });
});
