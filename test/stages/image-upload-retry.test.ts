/**
 * A retried upload that finds the image an earlier attempt finished: it checks
 * that image against the file and gives it what the earlier attempt had not
 * set yet (protected above all), so it ends as a first-time upload would; an
 * image holding other data is refused with a message that says so.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Emulator, startEmulator } from '../../emulator';
import { Cloud, connectCloud } from '../../openstack';
import {
  BUILD_ID_PROPERTY,
  ImageUploadInput,
  ImageUploadResult,
  createImageUploadActivities,
} from '../../activities/image-upload';
import { StageProject, stageProject } from './fixture';

jest.setTimeout(60_000);

describe('a retried upload that finds its image already active', () => {
  let emu: Emulator;
  let project: StageProject;
  let cloud: Cloud;
  const acts = createImageUploadActivities();

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'] });
    project = await stageProject(emu, 'cirros');
    cloud = await connectCloud({
      authUrl: emu.authUrl,
      username: emu.user.username,
      password: emu.user.password,
      projectName: emu.user.projectName,
      userDomainName: emu.user.userDomainName,
      projectDomainName: emu.user.projectDomainName,
    });
  });
  afterAll(async () => {
    cloud?.close();
    await project?.remove();
    await emu?.stop();
  });

  const input = (buildId: string, extra: Partial<ImageUploadInput['image']> = {}): ImageUploadInput => ({
    cloud: project.cloud,
    file: project.imageFile,
    buildId,
    image: {
      name: `Guarded ${buildId}`,
      diskFormat: 'qcow2',
      containerFormat: 'bare',
      visibility: 'private',
      properties: { os_distro: 'cirros' },
      ...extra,
    },
    timeoutSeconds: 60,
  });

  const imagesOf = (buildId: string) =>
    emu.state().regions.RegionOne.images.filter((i) => i.properties[BUILD_ID_PROPERTY] === buildId);

  /** What an earlier attempt left: the image created (with fewer attributes) and its data in, nothing after. */
  async function earlierAttempt(buildId: string, data: string | Buffer): Promise<string> {
    const img = await cloud.image.createImage({
      name: `Guarded ${buildId}`,
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'private',
      properties: { [BUILD_ID_PROPERTY]: buildId },
    });
    const file = path.join(project.dir, `earlier-${img.id}`);
    await fs.writeFile(file, data);
    await cloud.image.uploadImage(img.id, file);
    expect(imagesOf(buildId).map((i) => [i.id, i.status, i.protected])).toEqual([[img.id, 'active', false]]);
    return img.id;
  }

  it('verifies the data against the file and sets protected and every attribute the first attempt had not', async () => {
    const fileData = await fs.readFile(project.imageFile);
    const earlier = await earlierAttempt('retry-1', fileData);
    const env = new MockActivityEnvironment();
    const beats: Array<{ bytes?: number }> = [];
    env.on('heartbeat', (d: { bytes?: number }) => beats.push(d));
    const r: ImageUploadResult = await env.run(
      acts.uploadImageFile,
      input('retry-1', {
        protected: true,
        minDisk: 2,
        minRam: 128,
        tags: ['prod', 'base'],
        properties: { os_distro: 'cirros', build: '7' },
      }),
    );
    expect(r).toMatchObject({
      imageId: earlier,
      reused: true,
      bytes: fileData.length,
      checksum: createHash('md5').update(fileData).digest('hex'),
    });
    const [img] = imagesOf('retry-1');
    expect(img).toMatchObject({ id: earlier, status: 'active', protected: true, min_disk: 2, min_ram: 128 });
    expect([...img.tags].sort()).toEqual(['base', 'prod']);
    expect(img.properties).toMatchObject({ os_distro: 'cirros', build: '7', [BUILD_ID_PROPERTY]: 'retry-1' });
    expect(beats.length).toBeGreaterThan(0);

    // once more: nothing left to change, still one image
    const again: ImageUploadResult = await new MockActivityEnvironment().run(
      acts.uploadImageFile,
      input('retry-1', { protected: true, minDisk: 2, minRam: 128, tags: ['base', 'prod'] }),
    );
    expect(again).toMatchObject({ imageId: earlier, reused: true });
    expect(imagesOf('retry-1')).toHaveLength(1);
    await cloud.image.updateImage(earlier, { protected: false });
  });

  it('refuses an active image whose checksum differs from the file, clearly and for good, leaving it unprotected', async () => {
    const other = Buffer.alloc(256 * 1024, 9); // same size as the file, other bytes
    const earlier = await earlierAttempt('retry-2', other);
    const err = (await new MockActivityEnvironment()
      .run(acts.uploadImageFile, input('retry-2', { protected: true }))
      .catch((e: unknown) => e)) as Error & { nonRetryable?: boolean; type?: string };
    // compared by Glance's own algorithm (sha512 here)
    const fileSha = createHash('sha512')
      .update(await fs.readFile(project.imageFile))
      .digest('hex');
    const otherSha = createHash('sha512').update(other).digest('hex');
    expect(err.message).toBe(
      `Image ${earlier}, made earlier for this upload (${BUILD_ID_PROPERTY}=retry-2), does not hold ` +
        `${project.imageFile}: Glance reports sha512 ${otherSha}, the file has ${fileSha}; it is not reused`,
    );
    expect(err).toMatchObject({ nonRetryable: true, type: 'EarlierImageMismatchError' });
    expect(imagesOf('retry-2').map((i) => [i.id, i.protected])).toEqual([[earlier, false]]);
    // the caller's clean-up finds it by its build id
    expect(
      await new MockActivityEnvironment().run(acts.deleteImagesByBuildId, { cloud: project.cloud, buildId: 'retry-2' }),
    ).toEqual([earlier]);
  });

  it('refuses an active image of another size without reading the whole file', async () => {
    const earlier = await earlierAttempt('retry-3', 'a much smaller image');
    await expect(
      new MockActivityEnvironment().run(acts.uploadImageFile, input('retry-3', { protected: true })),
    ).rejects.toMatchObject({
      message: expect.stringContaining(
        `Image ${earlier}, made earlier for this upload (${BUILD_ID_PROPERTY}=retry-3), does not hold ${project.imageFile}: ` +
          `Glance reports 20 bytes, the file has ${256 * 1024}; it is not reused`,
      ),
      nonRetryable: true,
    });
    expect(imagesOf('retry-3').map((i) => i.protected)).toEqual([false]);
  });

  it('an image an earlier attempt created but left queued gets the data, then protected and the missing attributes', async () => {
    const orphan = await cloud.image.createImage({
      name: 'half-made',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'private',
      properties: { [BUILD_ID_PROPERTY]: 'retry-4' },
    });
    const r: ImageUploadResult = await new MockActivityEnvironment().run(
      acts.uploadImageFile,
      input('retry-4', { protected: true, tags: ['prod'] }),
    );
    expect(r).toMatchObject({ imageId: orphan.id, reused: false, name: 'Guarded retry-4' });
    const [img] = imagesOf('retry-4');
    expect(img).toMatchObject({ status: 'active', protected: true, name: 'Guarded retry-4', tags: ['prod'] });
    expect(img.properties).toMatchObject({ os_distro: 'cirros' });
    await cloud.image.updateImage(orphan.id, { protected: false });
  });
});
