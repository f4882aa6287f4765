/**
 * The client against the OpenStack emulator: Keystone and Glance.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CloudAuth,
  connectCloud,
  Cloud,
  ImageNotFoundError,
  AuthenticationError,
  OpenStackHttpError,
  UploadStalledError,
  UploadTimeoutError,
} from '../../openstack';
import { Emulator, startEmulator } from '../../emulator';

let emu: Emulator;
let dir: string;
const clouds: Cloud[] = [];

function authOf(who: 'admin' | 'user', extra: Partial<CloudAuth> = {}): CloudAuth {
  const c = emu[who];
  return {
    authUrl: emu.authUrl,
    username: c.username,
    password: c.password,
    projectName: c.projectName,
    userDomainName: c.userDomainName,
    projectDomainName: c.projectDomainName,
    regionName: 'RegionOne',
    ...extra,
  };
}

async function connect(
  who: 'admin' | 'user',
  extra: Partial<CloudAuth> = {},
  opts: Parameters<typeof connectCloud>[1] = {},
): Promise<Cloud> {
  const c = await connectCloud(authOf(who, extra), opts);
  clouds.push(c);
  return c;
}

beforeAll(async () => {
  emu = await startEmulator();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-client-'));
});
afterAll(async () => {
  for (const c of clouds) c.close();
  await emu.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Keystone on the emulator', () => {
  it('discovers v3 from the bare URL and reads the catalog of both regions', async () => {
    const cloud = await connect('admin', { authUrl: emu.url });
    expect(cloud.identity.version).toBe('3');
    expect(cloud.identity.authInfo.roles).toContain('admin');
    expect(cloud.identity.projectId).toBe(emu.admin.projectId);
    const one = await cloud.identity.endpointFor('image');
    const two = await cloud.identity.endpointFor('image', { region: 'RegionTwo' });
    expect(one).not.toBe(two);
    expect(two).toContain('RegionTwo');
  });

  it('authenticates with Keystone v2.0 and lists images through its catalog', async () => {
    const cloud = await connect('user', { authUrl: emu.authUrlV2 });
    expect(cloud.identity.version).toBe('2.0');
    expect(Array.isArray(await cloud.image.listImages())).toBe(true);
  });

  it('authenticates with an application credential', async () => {
    const cloud = await connectCloud({
      authUrl: emu.authUrl,
      applicationCredentialId: emu.applicationCredential.id,
      applicationCredentialSecret: emu.applicationCredential.secret,
      regionName: 'RegionOne',
    });
    clouds.push(cloud);
    expect(cloud.identity.projectId).toBe(emu.user.projectId);
    expect(Array.isArray(await cloud.network.listNetworks())).toBe(true);
  });

  it("refuses a wrong password with exit 20 and Keystone's message", async () => {
    const err = await connectCloud(authOf('user', { password: 'wrong-password-123' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).exitCode).toBe(20);
    expect((err as Error).message).toMatch(/Keystone answered 401 to POST .*\/v3\/auth\/tokens: \S+/);
    expect((err as Error).message).not.toContain('wrong-password-123');
  });

  it('resolves project names to ids, as admin and as a member who may not list projects', async () => {
    const admin = await connect('admin');
    expect(await admin.identity.resolveProjectId(emu.user.projectName)).toBe(emu.user.projectId);
    const user = await connect('user');
    expect(await user.identity.resolveProjectId(emu.user.projectName)).toBe(emu.user.projectId);
    expect(await user.identity.resolveProjectId(emu.admin.projectId)).toBe(emu.admin.projectId);
    await expect(user.identity.resolveProjectId('no-such-project')).rejects.toThrow(
      /No project named 'no-such-project'/,
    );
  });
});

describe('token expiry on the emulator', () => {
  let short: Emulator | undefined;
  afterEach(async () => {
    await short?.stop();
    short = undefined;
  });

  const connectShort = async (e: Emulator, lines: string[]) => {
    const cloud = await connectCloud(
      {
        authUrl: e.authUrl,
        username: e.user.username,
        password: e.user.password,
        projectName: e.user.projectName,
        userDomainName: 'Default',
        projectDomainName: 'Default',
      },
      { debug: (l) => lines.push(l), refreshMarginMs: 0 },
    );
    clouds.push(cloud);
    return cloud;
  };

  it('authenticates again before a request once the token has expired', async () => {
    short = await startEmulator({ tokenTtlSeconds: 1 });
    const lines: string[] = [];
    const cloud = await connectShort(short, lines);
    await cloud.image.listImages();
    const before = lines.filter((l) => /^RESP: 201 POST .*\/v3\/auth\/tokens/.test(l)).length;
    await new Promise((r) => setTimeout(r, 1300));
    await cloud.image.listImages();
    expect(lines.filter((l) => /^RESP: 201 POST .*\/v3\/auth\/tokens/.test(l))).toHaveLength(before + 1);
    expect(lines.filter((l) => /^RESP: 401/.test(l))).toHaveLength(0);
    expect(lines.at(-1)).toMatch(/^RESP: 200 GET .*\/v2\/images/);
  });

  it('authenticates once more and repeats the request when the cloud refuses a token it has forgotten', async () => {
    const lines: string[] = [];
    const cloud = await connectShort(emu, lines);
    await cloud.network.listNetworks();
    // The cloud forgets the user's tokens behind the client's back (as after a Keystone key rotation).
    for (const t of emu.state().tokens.filter((x) => x.user_id === emu.user.userId)) {
      const res = await fetch(`${emu.authUrl}/auth/tokens`, {
        method: 'DELETE',
        headers: { 'X-Auth-Token': t.id, 'X-Subject-Token': t.id },
      });
      expect(res.status).toBe(204);
    }
    expect((await cloud.network.listNetworks()).length).toBeGreaterThan(0);
    expect(lines.filter((l) => /^RESP: 401 GET .*\/v2\.0\/networks/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('token refused by network, authenticating again'))).toHaveLength(1);
    expect(lines.filter((l) => /^RESP: 201 POST .*\/v3\/auth\/tokens/.test(l))).toHaveLength(2);
    expect(lines.at(-1)).toMatch(/^RESP: 200 GET .*\/v2\.0\/networks/);
  });
});

describe('Glance on the emulator', () => {
  it('creates an image with string properties, gets it, and refuses a missing one with exit 50', async () => {
    const cloud = await connect('user');
    const img = await cloud.image.createImage({
      name: 'client-create',
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'private',
      min_disk: 2,
      min_ram: 256,
      tags: ['dibctl'],
      properties: { dibctl_build_id: 'b-1', retries: 3, verified: true },
    });
    expect(img).toMatchObject({
      name: 'client-create',
      status: 'queued',
      visibility: 'private',
      min_disk: 2,
      min_ram: 256,
      tags: ['dibctl'],
    });
    expect(img.dibctl_build_id).toBe('b-1');
    expect(img.retries).toBe('3');
    expect(img.verified).toBe('true');
    expect((await cloud.image.getImage(img.id)).id).toBe(img.id);
    const err = await cloud.image.getImage('00000000-0000-0000-0000-000000000000').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageNotFoundError);
    expect(err).toMatchObject({ exitCode: 50, status: 404, service: 'image' });
    expect((err as ImageNotFoundError).serverMessage).toBe(
      'No image found with ID 00000000-0000-0000-0000-000000000000',
    );
    expect(await cloud.image.findImage('00000000-0000-0000-0000-000000000000')).toBeUndefined();
  });

  it("streams a file in, and Glance's md5 and sha512 match what was sent", async () => {
    const cloud = await connect('user');
    const file = path.join(dir, 'upload.qcow2');
    const data = randomBytes(2 * 1024 * 1024 + 5);
    fs.writeFileSync(file, data);
    const img = await cloud.image.createImage({
      name: 'client-upload',
      disk_format: 'qcow2',
      container_format: 'bare',
    });
    const seen: number[] = [];
    const result = await cloud.image.uploadImage(img.id, file, {
      onProgress: (p) => seen.push(p.bytes),
      timeoutMs: 60_000,
      pollMs: 50,
    });
    // verified by Glance's own algorithm; its md5 is there but not needed
    expect(result.verified).toEqual({ md5: false, sha512: true });
    expect(result.image).toMatchObject({ status: 'active', size: data.length, os_hash_algo: 'sha512' });
    expect(seen.at(-1)).toBe(data.length);
  });

  it('stops a throttled upload at its time limit with UploadTimeoutError', async () => {
    const cloud = await connect('user');
    const file = path.join(dir, 'slow.raw');
    fs.writeFileSync(file, randomBytes(16 * 1024 * 1024));
    const img = await cloud.image.createImage({ name: 'client-slow', disk_format: 'raw', container_format: 'bare' });
    emu.faults.set({ uploadBytesPerSecond: 64 * 1024 });
    try {
      const started = Date.now();
      const err = await cloud.image.uploadImage(img.id, file, { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UploadTimeoutError);
      expect(err).toMatchObject({ imageId: img.id, limitMs: 500, exitCode: 1 });
      // what socket buffers took counts as sent; the rest of the file never was
      expect((err as UploadTimeoutError).bytesSent).toBeLessThan(16 * 1024 * 1024);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      emu.faults.reset();
    }
  });

  it('gives up on an upload whose data stops moving with UploadStalledError; the image takes data again', async () => {
    const cloud = await connect('user');
    const file = path.join(dir, 'stalled.raw');
    const size = 48 * 1024 * 1024;
    fs.writeFileSync(file, randomBytes(size));
    const img = await cloud.image.createImage({ name: 'client-stalled', disk_format: 'raw', container_format: 'bare' });
    emu.faults.set({ uploadStalls: 1, uploadStallMs: 3_000, uploadStallAfterBytes: 1024 * 1024 });
    try {
      const started = Date.now();
      const err = await cloud.image.uploadImage(img.id, file, { stallMs: 700 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UploadStalledError);
      expect(err).toMatchObject({ imageId: img.id, stallMs: 700, total: size, phase: 'sending', exitCode: 1 });
      const sent = (err as UploadStalledError).bytesSent;
      expect(sent).toBeGreaterThanOrEqual(1024 * 1024);
      expect(sent).toBeLessThan(size);
      expect((err as Error).message).toBe(
        `Upload of image ${img.id} stalled: no data moved for 0.7 s after ${sent} of ${size} bytes were sent (glance.upload_stall_timeout)`,
      );
      expect(Date.now() - started).toBeLessThan(3_000);
      // once the emulator reads again it finds the connection gone and puts the image back to queued:
      // the next attempt sends the data
      for (let i = 0; i < 200 && (await cloud.image.getImage(img.id)).status !== 'queued'; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const again = await cloud.image.uploadImage(img.id, file, { stallMs: 700, pollMs: 50 });
      expect(again.image).toMatchObject({ status: 'active', size });
    } finally {
      emu.faults.reset();
    }
  });

  it('updates name, properties, tags, visibility and protection with one JSON patch', async () => {
    const cloud = await connect('user');
    const img = await cloud.image.createImage({
      name: 'client-patch',
      properties: { keep: 'x', drop: 'y', change: 'old' },
      tags: ['a'],
    });
    const updated = await cloud.image.updateImage(img.id, {
      name: 'Obsolete client-patch',
      visibility: 'shared',
      protected: true,
      tags: ['b', 'c'],
      properties: { obsolete: true, change: 'new', drop: null, count: 7 },
    });
    expect(updated).toMatchObject({
      name: 'Obsolete client-patch',
      visibility: 'shared',
      protected: true,
      obsolete: 'true',
      change: 'new',
      keep: 'x',
      count: '7',
    });
    expect([...updated.tags].sort()).toEqual(['b', 'c']);
    expect(updated).not.toHaveProperty('drop');
    const err = await cloud.image.deleteImage(img.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenStackHttpError);
    expect(err).toMatchObject({ status: 403, exitCode: 1 });
    await cloud.image.updateImage(img.id, { protected: false });
    expect(await cloud.image.deleteImage(img.id)).toBe(true);
    expect(await cloud.image.deleteImage(img.id, { ignoreMissing: true })).toBe(false);
    await expect(cloud.image.deleteImage(img.id)).rejects.toMatchObject({ exitCode: 50 });
  });

  it('adds and removes single tags', async () => {
    const cloud = await connect('user');
    const img = await cloud.image.createImage({ name: 'client-tags' });
    await cloud.image.addTag(img.id, 'one');
    await cloud.image.addTag(img.id, 'two');
    await cloud.image.removeTag(img.id, 'one');
    expect((await cloud.image.getImage(img.id)).tags).toEqual(['two']);
  });

  it('lists with filters over several pages by following next links', async () => {
    const lines: string[] = [];
    const cloud = await connect('user', {}, { debug: (l) => lines.push(l) });
    const made: string[] = [];
    for (let i = 0; i < 7; i++)
      made.push((await cloud.image.createImage({ name: 'client-page', properties: { batch: 'paging' } })).id);
    const seen: string[] = [];
    for await (const img of cloud.image.images({ name: 'client-page', batch: 'paging', limit: 3 })) seen.push(img.id);
    expect([...seen].sort()).toEqual([...made].sort());
    expect(lines.filter((l) => /^RESP: 200 GET .*\/v2\/images\?/.test(l)).length).toBeGreaterThanOrEqual(3);
    expect((await cloud.image.findImagesByName('client-page')).length).toBe(7);
  });

  it('finds obsolete images whether the flag is stored as true or True', async () => {
    const cloud = await connect('user');
    const a = await cloud.image.createImage({ name: 'client-obsolete', properties: { obsolete: 'true' } });
    const b = await cloud.image.createImage({ name: 'client-obsolete', properties: { obsolete: 'True' } });
    await cloud.image.createImage({ name: 'client-obsolete', properties: { obsolete: 'false' } });
    const found = await cloud.image.obsoleteImages({ name: 'client-obsolete' });
    expect(found.map((i) => i.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('finds images by a custom property such as the build id', async () => {
    const cloud = await connect('user');
    const img = await cloud.image.createImage({ name: 'client-prop', properties: { dibctl_build_id: 'build-42' } });
    await cloud.image.createImage({ name: 'client-prop', properties: { dibctl_build_id: 'build-43' } });
    expect((await cloud.image.findImagesByProperty('dibctl_build_id', 'build-42')).map((i) => i.id)).toEqual([img.id]);
    expect(await cloud.image.findImagesByProperty('dibctl_build_id', 'build-44')).toEqual([]);
  });

  it('finds an image by id or by its unique name', async () => {
    const cloud = await connect('user');
    const img = await cloud.image.createImage({ name: 'client-unique-name' });
    expect((await cloud.image.findImageByIdOrName(img.id)).id).toBe(img.id);
    expect((await cloud.image.findImageByIdOrName('client-unique-name')).id).toBe(img.id);
    await expect(cloud.image.findImageByIdOrName('client-no-such-name')).rejects.toMatchObject({ exitCode: 50 });
    await cloud.image.createImage({ name: 'client-unique-name' });
    await expect(cloud.image.findImageByIdOrName('client-unique-name')).rejects.toThrow(/Several images are named/);
  });

  it('shares an image with another project, which accepts it and then sees it', async () => {
    const admin = await connect('admin');
    const user = await connect('user');
    const img = await admin.image.createImage({ name: 'client-shared', visibility: 'shared' });
    const m = await admin.image.addMember(img.id, emu.user.projectId);
    expect(m).toMatchObject({ image_id: img.id, member_id: emu.user.projectId, status: 'pending' });
    expect((await admin.image.addMember(img.id, emu.user.projectId)).member_id).toBe(emu.user.projectId);
    expect((await admin.image.members(img.id)).map((x) => x.member_id)).toEqual([emu.user.projectId]);
    expect((await user.image.listImages({ name: 'client-shared' })).length).toBe(0);
    expect((await user.image.acceptMember(img.id, emu.user.projectId)).status).toBe('accepted');
    expect((await user.image.listImages({ name: 'client-shared' })).map((i) => i.id)).toEqual([img.id]);
    await admin.image.removeMember(img.id, emu.user.projectId);
    expect(await admin.image.members(img.id)).toEqual([]);
  });

  it('deactivates and reactivates an active image', async () => {
    const admin = await connect('admin');
    const file = path.join(dir, 'deact.raw');
    fs.writeFileSync(file, randomBytes(4096));
    const img = await admin.image.createImage({
      name: 'client-deactivate',
      disk_format: 'raw',
      container_format: 'bare',
    });
    await admin.image.uploadImage(img.id, file, { pollMs: 20 });
    await admin.image.deactivateImage(img.id);
    expect((await admin.image.getImage(img.id)).status).toBe('deactivated');
    await admin.image.reactivateImage(img.id);
    expect((await admin.image.getImage(img.id)).status).toBe('active');
  });
});
