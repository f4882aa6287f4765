/**
 * `dibctl upload` end to end: the built CLI, a real Temporal dev server with
 * dibctl's workers, and the OpenStack emulator.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { BUILD_ID_PROPERTY } from '../../activities/image-upload';
import { localHostQueue } from '../../worker/worker';
import type { PublishResult } from '../../workflows';
import { IMAGE_BYTES, environmentEntry, usePublishFixture } from './fixture';
import { publishWorkflow } from '../../workflows';

jest.setTimeout(120_000);

const f = usePublishFixture();

function named(name: string, region: 'RegionOne' | 'RegionTwo' = 'RegionOne') {
  return f()
    .images(region)
    .filter((i) => i.name === name);
}

describe('dibctl upload', () => {
  it('streams the file, verifies it and sets name, properties as strings, tags, min_disk and min_ram', async () => {
    const r = await f().cli(['upload', 'base', 'one']);
    expect(r.stderr).toContain('Uploading ');
    expect(r.code).toBe(0);
    const m = /one: image (\S+) 'Base Image' uploaded \(3\.0 MiB, .*checksum verified\)/.exec(r.stdout);
    expect(m).not.toBeNull();
    const img = f()
      .images()
      .find((i) => i.id === m![1])!;
    const md5 = createHash('md5')
      .update(readFileSync(f().tree.path('base.qcow2')))
      .digest('hex');
    expect(img).toMatchObject({
      name: 'Base Image',
      status: 'active',
      size: IMAGE_BYTES,
      checksum: md5,
      // not public: shared, as dibctl published it
      visibility: 'shared',
      min_disk: 1,
      min_ram: 64,
      protected: false,
    });
    expect(img.properties).toMatchObject({ build: '7', gpu: 'false', region: 'one' });
    expect(img.properties[BUILD_ID_PROPERTY]).toMatch(/^dibctl-upload-base-one-/);
    expect(img.tags.sort()).toEqual(['base', 'prod']);
  });

  it('marks the previous same-named image obsolete and hands it to the retirement workflow', async () => {
    const before = named('Base Image');
    expect(before).toHaveLength(1);
    const r = await f().cli(['--json', 'upload', 'base', 'one']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as PublishResult;
    expect(result.obsoleted).toEqual([{ id: before[0].id, name: 'Obsolete Base Image', replacedBy: result.imageId }]);
    expect(result.retirementWorkflowId).toBe('dibctl-retirement-one');
    const old = f()
      .images()
      .find((i) => i.id === before[0].id)!;
    expect(old.name).toBe('Obsolete Base Image');
    expect(old.properties.obsolete).toBe('true');
    expect(named('Base Image').map((i) => i.id)).toEqual([result.imageId]);
    const desc = await f().temporal.client.workflow.getHandle('dibctl-retirement-one').describe();
    expect(desc.status.name).toBe('RUNNING');
  });

  it('with --no-obsolete leaves the older copies as they are', async () => {
    const r = await f().cli(['upload', 'base', 'one', '--no-obsolete']);
    expect(r.code).toBe(0);
    expect(named('Base Image')).toHaveLength(2);
    expect(r.stdout).not.toContain('marked obsolete');
  });

  it('shares the image with the projects named in share_with', async () => {
    const r = await f().cli(['--json', 'upload', 'shared', 'one']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as PublishResult;
    const img = f()
      .images()
      .find((i) => i.id === result.imageId)!;
    expect(img.visibility).toBe('shared');
    expect(img.members.map((m) => m.member_id)).toEqual([f().emu.user.projectId]);
    expect(result.members).toEqual([f().emu.user.projectId]);
  });

  it('sets protected only after the data is in, and uploads to the region of the environment', async () => {
    const r = await f().cli(['--json', 'upload', 'guarded', 'two']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as PublishResult;
    expect(
      f()
        .images('RegionTwo')
        .find((i) => i.id === result.imageId),
    ).toMatchObject({ protected: true, status: 'active' });
    expect(
      f()
        .images('RegionOne')
        .find((i) => i.id === result.imageId),
    ).toBeUndefined();
  });

  it('a retried publish completes the image an earlier attempt created instead of making a second one', async () => {
    const t = f().temporal;
    const cloud = await f().cloud('admin');
    // an earlier attempt that created the image and died before sending data
    const earlier = await cloud.image.createImage({
      name: 'Public Image',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'public',
      properties: { [BUILD_ID_PROPERTY]: 'retried-build' },
    });
    const result: PublishResult = await t.client.workflow.execute(publishWorkflow, {
      taskQueue: 'dibctl',
      workflowId: `publish-retry-${Date.now()}`,
      args: [
        {
          imageLabel: 'public',
          environment: 'one',
          config: { cwd: f().tree.root },
          fileQueue: localHostQueue('dibctl'),
          buildId: 'retried-build',
        },
      ],
    });
    expect(result.imageId).toBe(earlier.id);
    const withBuildId = f()
      .images()
      .filter((i) => i.properties[BUILD_ID_PROPERTY] === 'retried-build');
    expect(withBuildId).toHaveLength(1);
    expect(withBuildId[0]).toMatchObject({ status: 'active', size: IMAGE_BYTES });

    // the same publish once more: found active, nothing uploaded again
    const again: PublishResult = await t.client.workflow.execute(publishWorkflow, {
      taskQueue: 'dibctl',
      workflowId: `publish-retry-again-${Date.now()}`,
      args: [
        {
          imageLabel: 'public',
          environment: 'one',
          config: { cwd: f().tree.root },
          fileQueue: localHostQueue('dibctl'),
          buildId: 'retried-build',
        },
      ],
    });
    expect(again).toMatchObject({ imageId: earlier.id, reused: true });
    expect(
      f()
        .images()
        .filter((i) => i.properties[BUILD_ID_PROPERTY] === 'retried-build'),
    ).toHaveLength(1);
  });

  it('runs preprocessing with interpolated names and deletes its output after the upload', async () => {
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'pre',
        'admin',
        'RegionOne',
        '  preprocessing:',
        '    cmdline: "cp %(input_filename)s %(output_filename)s && echo %(disk_format)s/%(container_format)s > %(input_filename)s.formats"',
        '    output_filename: "%(input_filename)s.processed"',
      ),
    );
    const r = await f().cli(['--json', 'upload', 'base', 'pre', '--no-obsolete']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as PublishResult;
    expect(
      f()
        .images()
        .find((i) => i.id === result.imageId),
    ).toMatchObject({ status: 'active', size: IMAGE_BYTES });
    expect(readFileSync(f().tree.path('base.qcow2.formats'), 'utf8').trim()).toBe('qcow2/bare');
    expect(existsSync(f().tree.path('base.qcow2.processed'))).toBe(false);
  });

  it('exits 18 and creates no image when preprocessing fails', async () => {
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'broken',
        'admin',
        'RegionOne',
        '  preprocessing:',
        '    cmdline: "echo cannot convert >&2; exit 3"',
        '    output_filename: "%(input_filename)s.raw"',
      ),
    );
    const count = f().images().length;
    const r = await f().cli(['upload', 'base', 'broken']);
    expect(r.code).toBe(18);
    expect(r.stderr).toContain('Preprocessing failed (exit 3)');
    expect(r.stderr).toContain('cannot convert');
    expect(f().images()).toHaveLength(count);
  });

  it('runs external_upload commands instead of the native upload, with the credentials as OS_* variables', async () => {
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'ext',
        'admin',
        'RegionOne',
        '  external_upload:',
        '    - cmdline: "echo %(input_filename)s %(disk_format)s $OS_USERNAME $OS_REGION_NAME > external.out"',
      ),
    );
    const count = f().images().length;
    const r = await f().cli(['upload', 'base', 'ext', '--no-obsolete']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ext: external upload of 'Base Image' done");
    expect(readFileSync(f().tree.path('external.out'), 'utf8').trim()).toBe(
      `${f().tree.path('base.qcow2')} qcow2 admin RegionOne`,
    );
    expect(f().images()).toHaveLength(count);
  });

  it('shows progress with bytes, rate and time left while the upload runs', async () => {
    f().emu.faults.set({ uploadBytesPerSecond: 512 * 1024 });
    try {
      const r = await f().cli(['upload', 'base', 'one', '--no-obsolete']);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /Uploading 'Base Image' to one: [\d.]+ (KiB|MiB) of 3\.0 MiB \(\d+%\), [\d.]+ (KiB|MiB)\/s, ETA \d+s/,
      );
    } finally {
      f().emu.faults.reset();
    }
  });

  it('uses an existing preprocessing output when use_existing is set', async () => {
    f().tree.write('ready.img', 'already converted');
    f().writeUploadConfig(
      environmentEntry(
        f().emu,
        'reuse',
        'admin',
        'RegionOne',
        '  preprocessing:',
        '    cmdline: "exit 9"',
        '    output_filename: ready.img',
        '    use_existing: true',
        '    delete_processed_after_upload: false',
      ),
    );
    const r = await f().cli(['--json', 'upload', 'base', 'reuse', '--no-obsolete']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as PublishResult;
    expect(
      f()
        .images()
        .find((i) => i.id === result.imageId),
    ).toMatchObject({ size: 'already converted'.length });
    expect(existsSync(f().tree.path('ready.img'))).toBe(true);
  });

  it('fails when the upload exceeds glance.upload_timeout and removes the unfinished image', async () => {
    f().writeUploadConfig(
      environmentEntry(f().emu, 'slow', 'admin', 'RegionTwo', '  glance: {upload_timeout: 1, name: Slow Image}'),
    );
    f().emu.faults.set({ uploadBytesPerSecond: 256 * 1024 });
    try {
      const r = await f().cli(['upload', 'base', 'slow']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Error: Upload of image \S+ did not finish within 1 s/);
      expect(
        f()
          .images('RegionTwo')
          .filter((i) => i.name === 'Slow Image'),
      ).toEqual([]);
    } finally {
      f().emu.faults.reset();
    }
  });

  it('exits 11 for an unknown image or environment label before starting anything', async () => {
    const a = await f().cli(['upload', 'nosuch', 'one']);
    expect(a.code).toBe(11);
    const b = await f().cli(['upload', 'base', 'nowhere']);
    expect(b.code).toBe(11);
    expect(b.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('rides out a region that is down for a few seconds', async () => {
    const count = f().images('RegionOne').length;
    f().emu.faults.set({ failingRegions: ['RegionOne'] });
    const back = setTimeout(() => f().emu.faults.reset(), 4_000);
    try {
      const r = await f().cli(['--json', 'upload', 'base', 'one']);
      expect(r.code).toBe(0);
      // the operator sees why it takes longer
      expect(r.stderr).toMatch(/^Retrying uploadImageFile \(attempt [2-6] of 6\): Glance answered 503/m);
      const id = (JSON.parse(r.stdout) as { imageId: string }).imageId;
      expect(
        f()
          .images('RegionOne')
          .filter((i) => i.id === id),
      ).toHaveLength(1);
      expect(f().images('RegionOne').length).toBe(count + 1);
    } finally {
      clearTimeout(back);
      f().emu.faults.reset();
    }
  });

  it('fails with the cloud message when the region is down, leaving no image behind', async () => {
    f().emu.faults.set({ failingRegions: ['RegionTwo'] });
    try {
      const count = f().images('RegionTwo').length;
      const r = await f().cli(['upload', 'base', 'two']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/Error: .*503/);
      expect(f().images('RegionTwo')).toHaveLength(count);
    } finally {
      f().emu.faults.reset();
    }
  });
});
