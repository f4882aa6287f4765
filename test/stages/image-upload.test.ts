import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Emulator, startEmulator } from '../../emulator';
import { connectCloud, hashFile } from '../../openstack';
import {
  createImageUploadActivities,
  BUILD_ID_PROPERTY,
  ImageUploadInput,
  ImageUploadResult,
} from '../../activities/image-upload';
import { StageProject, stageProject } from './fixture';

describe('idempotent Glance upload activity', () => {
  let emu: Emulator;
  let project: StageProject;
  const acts = createImageUploadActivities();

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'] });
    project = await stageProject(emu, 'cirros');
  });
  afterAll(async () => {
    await project?.remove();
    await emu?.stop();
  });

  const input = (buildId: string): ImageUploadInput => ({
    cloud: project.cloud,
    file: project.imageFile,
    buildId,
    image: {
      name: `DIBCTL-${buildId}`,
      diskFormat: 'qcow2',
      containerFormat: 'bare',
      visibility: 'private',
      properties: { os_distro: 'cirros' },
    },
    timeoutSeconds: 60,
  });

  const imagesOf = (buildId: string) =>
    emu.state().regions.RegionOne.images.filter((i) => i.properties[BUILD_ID_PROPERTY] === buildId);

  it('uploads the file, verifies it, heartbeats progress and tags the image with its build id', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const r: ImageUploadResult = await env.run(acts.uploadImageFile, input('wf-1/test'));
    expect(r).toMatchObject({ bytes: 256 * 1024, reused: false });
    expect(r.checksum).toMatch(/^[0-9a-f]{32}$/);
    const imgs = imagesOf('wf-1/test');
    expect(imgs.map((i) => i.id)).toEqual([r.imageId]);
    expect(imgs[0]).toMatchObject({
      status: 'active',
      visibility: 'private',
      name: 'DIBCTL-wf-1/test',
      properties: { os_distro: 'cirros' },
    });
    expect(beats.length).toBeGreaterThan(0);
    expect(beats[beats.length - 1]).toMatchObject({ imageId: r.imageId, total: 256 * 1024 });
  });

  it('a repeated attempt returns the image the first one finished instead of making a second', async () => {
    const first: ImageUploadResult = await new MockActivityEnvironment().run(acts.uploadImageFile, input('wf-2/test'));
    const second: ImageUploadResult = await new MockActivityEnvironment().run(acts.uploadImageFile, input('wf-2/test'));
    expect(second).toMatchObject({ imageId: first.imageId, reused: true });
    expect(imagesOf('wf-2/test')).toHaveLength(1);
  });

  it('an attempt whose predecessor created the image but died before the data completes that same image', async () => {
    const cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: emu.user.username,
      password: emu.user.password,
      projectName: emu.user.projectName,
      userDomainName: emu.user.userDomainName,
      projectDomainName: emu.user.projectDomainName,
    });
    const orphan = await cloud.image.createImage({
      name: 'DIBCTL-wf-3/test',
      disk_format: 'qcow2',
      container_format: 'bare',
      properties: { [BUILD_ID_PROPERTY]: 'wf-3/test' },
    });
    cloud.close();
    const r: ImageUploadResult = await new MockActivityEnvironment().run(acts.uploadImageFile, input('wf-3/test'));
    expect(r.imageId).toBe(orphan.id);
    expect(imagesOf('wf-3/test').map((i) => [i.id, i.status])).toEqual([[orphan.id, 'active']]);
  });

  it('deleteImagesByBuildId removes the build images and nothing else', async () => {
    const keep: ImageUploadResult = await new MockActivityEnvironment().run(acts.uploadImageFile, input('wf-4/keep'));
    await new MockActivityEnvironment().run(acts.uploadImageFile, input('wf-4/test'));
    const deleted: string[] = await new MockActivityEnvironment().run(acts.deleteImagesByBuildId, {
      cloud: project.cloud,
      buildId: 'wf-4/test',
    });
    expect(deleted).toHaveLength(1);
    expect(imagesOf('wf-4/test')).toHaveLength(0);
    expect(imagesOf('wf-4/keep').map((i) => i.id)).toEqual([keep.imageId]);
  });

  it('fails non-retryably with exit 12 when the environment has no password', async () => {
    const { promises: fs } = await import('node:fs');
    const cfg = await fs.readFile(project.testConfig, 'utf8');
    const broken = project.testConfig.replace(/test\.yaml$/, 'test-nopass.yaml');
    await fs.writeFile(broken, cfg.replace(/^\s+password: .*\n/m, ''));
    const bad = input('wf-5/test');
    bad.cloud = { ...bad.cloud, config: { ...bad.cloud.config, testConfig: broken } };
    await expect(new MockActivityEnvironment().run(acts.uploadImageFile, bad)).rejects.toMatchObject({
      nonRetryable: true,
      details: [{ exitCode: 12 }],
    });
  });

  it('a cancelled upload stops sending at once and ends as cancelled, leaving the image unfinished', async () => {
    // 256 KiB at 32 KiB/s: about eight seconds of sending if nothing stopped it
    emu.faults.set({ uploadBytesPerSecond: 32 * 1024 });
    try {
      const env = new MockActivityEnvironment();
      let imageId: string | undefined;
      env.on('heartbeat', (d: { imageId?: string; bytes?: number }) => {
        if (d?.imageId && (d.bytes ?? 0) > 0 && !imageId) {
          imageId = d.imageId;
          env.cancel();
        }
      });
      const err = await env.run(acts.uploadImageFile, input('wf-6/test')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CancelledFailure);
      expect(imageId).toBeDefined();
      const img = imagesOf('wf-6/test').find((i) => i.id === imageId);
      expect(img?.status).not.toBe('active');
      // the saga's compensation finds it by build id
      const deleted: string[] = await new MockActivityEnvironment().run(acts.deleteImagesByBuildId, {
        cloud: project.cloud,
        buildId: 'wf-6/test',
      });
      expect(deleted).toEqual([imageId]);
    } finally {
      emu.faults.reset();
    }
  });
  describe("with the tested file's checksums", () => {
    const tested = async (change?: { bytes?: number; md5?: string; sha512?: string }) => {
      const read = await hashFile(project.imageFile);
      const { md5, sha512 } = read.digests;
      return { file: project.imageFile, bytes: read.bytes, md5, sha512, ...change };
    };
    const other = { md5: 'f'.repeat(32), sha512: 'e'.repeat(128) };

    it('uploads and checks what Glance reports against them, not against a hash of its own', async () => {
      const t = await tested();
      const r: ImageUploadResult = await new MockActivityEnvironment().run(acts.uploadImageFile, {
        ...input('wf-7/publish'),
        testedFile: t,
      });
      expect(r).toMatchObject({ reused: false, checksum: t.md5, bytes: t.bytes });
      expect(imagesOf('wf-7/publish')[0]).toMatchObject({ checksum: t.md5, os_hash_value: t.sha512 });
      // a retry of a finished upload compares Glance's checksums with the tested ones too
      const again: ImageUploadResult = await new MockActivityEnvironment().run(acts.uploadImageFile, {
        ...input('wf-7/publish'),
        testedFile: t,
      });
      expect(again).toMatchObject({ imageId: r.imageId, reused: true });
      await expect(
        new MockActivityEnvironment().run(acts.uploadImageFile, {
          ...input('wf-7/publish'),
          testedFile: await tested(other),
        }),
      ).rejects.toMatchObject({ nonRetryable: true, message: expect.stringContaining('it is not reused') });
    });

    it('fails for good, naming both checksums, when the data sent is not what was tested', async () => {
      // same size, other content: as if the file was rewritten after the tested-file check
      const err = (await new MockActivityEnvironment()
        .run(acts.uploadImageFile, { ...input('wf-8/publish'), testedFile: await tested(other) })
        .catch((e: unknown) => e)) as { nonRetryable: boolean; type: string; message: string };
      expect(err).toMatchObject({ nonRetryable: true, type: 'TestedFileChangedError' });
      expect(err.message).toMatch(
        /image\.qcow2 changed after it was tested \(Glance reports (md5|sha512) [0-9a-f]+ for what was sent, the tested file has (f{32}|e{128})\): nothing was published/,
      );
      // the publish workflow removes what its upload left, by build id
      expect(imagesOf('wf-8/publish')).toHaveLength(1);
    });

    it('fails before anything is sent when the file has another size than the tested one', async () => {
      const t = await tested();
      const err = (await new MockActivityEnvironment()
        .run(acts.uploadImageFile, { ...input('wf-9/publish'), testedFile: { ...t, bytes: t.bytes + 1 } })
        .catch((e: unknown) => e)) as { nonRetryable: boolean; message: string };
      expect(err).toMatchObject({ nonRetryable: true });
      expect(err.message).toContain(`changed after it was tested (${t.bytes + 1} bytes tested, ${t.bytes} now)`);
      expect(imagesOf('wf-9/publish')).toEqual([]);
    });

    it('are ignored for another file (one that preprocessing made)', async () => {
      const r: ImageUploadResult = await new MockActivityEnvironment().run(acts.uploadImageFile, {
        ...input('wf-10/publish'),
        testedFile: { ...(await tested(other)), file: `${project.imageFile}.orig` },
      });
      expect(r).toMatchObject({ reused: false, bytes: 256 * 1024 });
    });
  });
});
