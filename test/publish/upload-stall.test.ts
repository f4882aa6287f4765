/**
 * `dibctl upload` of an image whose data moves slowly or stops: without
 * glance.upload_timeout an upload lives while its data moves, an attempt whose
 * data stops for glance.upload_stall_timeout fails (and is retried), and a set
 * upload_timeout still limits each attempt. The built CLI, a real Temporal dev
 * server with dibctl's workers and the emulator's upload throttle and stall knobs.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { BUILD_ID_PROPERTY } from '../../activities/image-upload';
import { environmentEntry, usePublishFixture } from './fixture';

jest.setTimeout(120_000);

const f = usePublishFixture();

/** Larger than what the loopback's socket buffers take in at once, so the sender sees the emulator's pace. */
const BIG_BYTES = 48 * 1024 * 1024;

beforeAll(() => {
  writeFileSync(f().tree.path('big.qcow2'), randomBytes(BIG_BYTES));
});

afterEach(() => f().emu.faults.reset());

/** The start-to-close limit (seconds) Temporal applied to the workflow's upload attempts. */
async function uploadAttemptLimit(workflowId: string): Promise<number> {
  const history = await f().temporal.client.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .find((a) => a?.activityType?.name === 'uploadImageFile');
  return Number(scheduled?.startToCloseTimeout?.seconds ?? 0);
}

/** The images uploads of the image `base` to this environment made (found by their build id). */
function uploadedTo(environment: string) {
  return f()
    .images()
    .filter((i) => String(i.properties[BUILD_ID_PROPERTY] ?? '').startsWith(`dibctl-upload-base-${environment}-`));
}

describe('dibctl upload of slow and stalled data', () => {
  it('has no total limit without upload_timeout: an upload longer than the stall limit succeeds while data moves', async () => {
    f().writeUploadConfig(
      environmentEntry(f().emu, 'steady', 'admin', 'RegionOne', '  glance: {upload_stall_timeout: 2}'),
    );
    // about 6 s of sending at 8 MiB/s, three times the stall limit
    f().emu.faults.set({ uploadBytesPerSecond: 8 * 1024 * 1024 });
    const started = Date.now();
    const r = await f().cli(['--json', 'upload', 'base', 'steady', '-i', 'big.qcow2']);
    expect(r.stderr).not.toMatch(/stalled|Retrying/);
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThan(4_000);
    const result = JSON.parse(r.stdout) as { workflowId: string; imageId: string; bytes: number };
    expect(result.bytes).toBe(BIG_BYTES);
    expect(uploadedTo('steady')).toMatchObject([{ id: result.imageId, status: 'active', size: BIG_BYTES }]);
    // no 360 s (or any upload_timeout) limit: only the long bound every attempt has
    expect(await uploadAttemptLimit(result.workflowId)).toBeGreaterThanOrEqual(7 * 86400);
  });

  it('fails an attempt whose data stops moving for upload_stall_timeout, naming the bytes sent, and removes the image', async () => {
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'stuck',
        'admin',
        'RegionOne',
        '  glance: {upload_stall_timeout: 1}',
        '  retry: {upload_attempts: 2, max_interval: 1s}',
      ),
    );
    // every attempt: the emulator reads 1 MiB, then nothing for 10 s
    f().emu.faults.set({ uploadStalls: 2, uploadStallMs: 10_000, uploadStallAfterBytes: 1024 * 1024 });
    const r = await f().cli(['upload', 'base', 'stuck', '-i', 'big.qcow2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^Error: Upload of image \\S+ stalled: no data moved for 1 s after \\d+ of ${BIG_BYTES} bytes were sent \\(glance.upload_stall_timeout\\)$`,
        'm',
      ),
    );
    // the stall is trouble that passes: it was tried again
    expect(r.stderr).toMatch(/^Retrying uploadImageFile \(attempt 2 of 2\): Upload of image \S+ stalled/m);
    expect(r.stderr).toMatch(/^Next step: check the network and any proxy to Glance; glance\.upload_stall_timeout/m);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(uploadedTo('stuck')).toEqual([]);
  });

  it('completes into the same image when the data moves again on the next attempt', async () => {
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'hiccup',
        'admin',
        'RegionOne',
        '  glance: {upload_stall_timeout: 1}',
        '  retry: {upload_attempts: 3, max_interval: 1s}',
      ),
    );
    f().emu.faults.set({ uploadStalls: 1, uploadStallMs: 10_000, uploadStallAfterBytes: 1024 * 1024 });
    const r = await f().cli(['--json', 'upload', 'base', 'hiccup', '-i', 'big.qcow2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^Retrying uploadImageFile \(attempt 2 of 3\): Upload of image \S+ stalled/m);
    const result = JSON.parse(r.stdout) as { imageId: string };
    expect(uploadedTo('hiccup')).toMatchObject([{ id: result.imageId, status: 'active', size: BIG_BYTES }]);
  });

  it('still limits each attempt by upload_timeout when it is set, though the data keeps moving', async () => {
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'bounded',
        'admin',
        'RegionOne',
        '  glance: {upload_timeout: 2, upload_stall_timeout: 60}',
        '  retry: {upload_attempts: 1}',
      ),
    );
    f().emu.faults.set({ uploadBytesPerSecond: 4 * 1024 * 1024 });
    const r = await f().cli(['upload', 'base', 'bounded', '-i', 'big.qcow2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: Upload of image \S+ did not finish within 2 s \(\d+ bytes sent\)$/m);
    expect(r.stderr).toMatch(/^Next step: raise glance\.upload_timeout \(0: no limit\)/m);
    expect(uploadedTo('bounded')).toEqual([]);
  });
});
