/**
 * The OpenStack client against a real Keystone (v3) and a real Glance (v2).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuthenticationError, Cloud, ImageNotFoundError, OpenStackHttpError } from '../../openstack';
import { cloudPool, describeReal, raw, stack, tokenFor, user } from './stack';

const pool = cloudPool();
const run = randomUUID();
let dir: string;
let demo: Cloud;
let alt: Cloud;
let admin: Cloud;

/** Every image of this suite carries the run's property, so the cleanup finds them all. */
const tagged = (extra: Record<string, string> = {}) => ({ dibctl_real_run: run, ...extra });

beforeAll(async () => {
  if (!stack) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'real-glance-'));
  [demo, alt, admin] = await Promise.all([pool.connect('demo'), pool.connect('alt'), pool.connect('admin')]);
});

afterAll(async () => {
  if (!stack) return;
  for (const img of await admin.image.findImagesByProperty('dibctl_real_run', run)) {
    if (img.protected) await admin.image.updateImage(img.id, { protected: false });
    await admin.image.deleteImage(img.id, { ignoreMissing: true });
  }
  pool.closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

describeReal('Keystone v3 with the real service', () => {
  test('password authentication scopes the token to the project and finds Glance in the catalog', async () => {
    const info = demo.identity.authInfo;
    expect(info.version).toBe('3');
    expect(info.projectId).toBe(user('demo').projectId);
    expect(info.userId).toBe(user('demo').userId);
    expect(info.roles).toEqual(expect.arrayContaining(['member', 'reader']));
    expect(info.roles).not.toContain('admin');
    expect(info.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(await demo.identity.endpointFor('image')).toBe(stack!.glance.url);
  });

  test('a wrong password is an authentication error with exit code 20 that does not echo the password', async () => {
    const err = await pool.connect('demo', { password: 'not-the-password-123' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as AuthenticationError).exitCode).toBe(20);
    expect(String((err as Error).message)).not.toContain('not-the-password-123');
  });

  test('the user resolves its own project by name and an unknown region is refused with the known ones', async () => {
    expect(await demo.identity.resolveProjectId('demo')).toBe(user('demo').projectId);
    await expect(demo.identity.endpointFor('image', { region: 'Nowhere' })).rejects.toThrow(/RegionOne/);
  });

  test('an application credential created through the API authenticates by id and by name, scoped to its project', async () => {
    const token = await tokenFor(stack!.keystone.authUrl, user('demo'));
    const created = await raw(
      'POST',
      `${stack!.keystone.authUrl}/users/${user('demo').userId}/application_credentials`,
      {
        token,
        body: { application_credential: { name: `dibctl-real-${run}`, description: 'tier check' } },
      },
    );
    expect(created.status).toBe(201);
    const ac = (
      created.body as { application_credential: { id: string; secret: string; name: string; project_id: string } }
    ).application_credential;
    try {
      expect(ac.project_id).toBe(user('demo').projectId);
      const byId = await pool.connect('demo', {
        username: undefined,
        password: undefined,
        projectName: undefined,
        applicationCredentialId: ac.id,
        applicationCredentialSecret: ac.secret,
      });
      expect(byId.identity.authInfo.projectId).toBe(user('demo').projectId);
      expect(Array.isArray(await byId.image.listImages({ limit: 1 }))).toBe(true);
      const byName = await pool.connect('demo', {
        password: undefined,
        projectName: undefined,
        applicationCredentialName: ac.name,
        applicationCredentialSecret: ac.secret,
      });
      expect(byName.identity.authInfo.userId).toBe(user('demo').userId);
      const wrong = await pool
        .connect('demo', {
          username: undefined,
          password: undefined,
          projectName: undefined,
          applicationCredentialId: ac.id,
          applicationCredentialSecret: 'wrong-secret',
        })
        .catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(AuthenticationError);
    } finally {
      const del = await raw(
        'DELETE',
        `${stack!.keystone.authUrl}/users/${user('demo').userId}/application_credentials/${ac.id}`,
        { token },
      );
      expect(del.status).toBe(204);
    }
  });
});

describeReal('Glance v2 with the real service', () => {
  test('a streamed upload ends active, verified by sha512 against Glance, properties and tags kept', async () => {
    const file = path.join(dir, 'disk.raw');
    const data = randomBytes(5 * 1024 * 1024 + 123);
    fs.writeFileSync(file, data);
    const img = await demo.image.createImage({
      name: `real-upload-${run}`,
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'private',
      min_disk: 1,
      min_ram: 128,
      tags: ['dibctl', 'real'],
      properties: tagged({ os_distro: 'debian', build_number: 42 as unknown as string }),
    });
    expect(img.status).toBe('queued');
    expect(img.owner).toBe(user('demo').projectId);
    expect(img.build_number).toBe('42');
    const progress: number[] = [];
    const result = await demo.image.uploadImage(img.id, file, {
      onProgress: (p) => progress.push(p.bytes),
      progressIntervalMs: 1,
    });
    expect(result.verified).toEqual({ md5: false, sha512: true });
    expect(result.bytes).toBe(data.length);
    expect(result.image.status).toBe('active');
    expect(result.image.checksum).toBe(createHash('md5').update(data).digest('hex'));
    expect(result.image.os_hash_value).toBe(createHash('sha512').update(data).digest('hex'));
    expect(result.image.size).toBe(data.length);
    expect(progress.at(-1)).toBe(data.length);
    const got = await demo.image.getImage(img.id);
    expect(got).toMatchObject({
      min_disk: 1,
      min_ram: 128,
      os_distro: 'debian',
      dibctl_real_run: run,
      visibility: 'private',
    });
    expect([...got.tags].sort()).toEqual(['dibctl', 'real']);
    // A second upload to an active image is refused by Glance
    await expect(demo.image.uploadImage(img.id, file)).rejects.toThrow(/409|queued|active/i);
  });

  test('properties are added, replaced and removed, tags added and removed, visibility and protection changed', async () => {
    const img = await demo.image.createImage({
      name: `real-patch-${run}`,
      disk_format: 'qcow2',
      container_format: 'bare',
      properties: tagged({ a: '1', b: '2' }),
    });
    let cur = await demo.image.updateImage(img.id, {
      name: `real-patched-${run}`,
      min_ram: 256,
      properties: { a: 'one', b: null, c: 'three' },
    });
    expect(cur).toMatchObject({ name: `real-patched-${run}`, min_ram: 256, a: 'one', c: 'three' });
    expect(cur).not.toHaveProperty('b');
    await demo.image.addTag(img.id, 'x');
    await demo.image.addTag(img.id, 'y');
    await demo.image.removeTag(img.id, 'x');
    cur = await demo.image.getImage(img.id);
    expect(cur.tags).toEqual(['y']);
    cur = await demo.image.updateImage(img.id, { visibility: 'shared', protected: true });
    expect(cur).toMatchObject({ visibility: 'shared', protected: true });
    const refused = await demo.image.deleteImage(img.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenStackHttpError);
    expect((refused as OpenStackHttpError).status).toBe(403);
    await demo.image.updateImage(img.id, { protected: false });
    expect(await demo.image.deleteImage(img.id)).toBe(true);
    await expect(demo.image.getImage(img.id)).rejects.toBeInstanceOf(ImageNotFoundError);
    expect(await demo.image.deleteImage(img.id, { ignoreMissing: true })).toBe(false);
  });

  test('an ordinary user may not make an image public', async () => {
    const img = await demo.image.createImage({
      name: `real-public-${run}`,
      disk_format: 'raw',
      container_format: 'bare',
      properties: tagged(),
    });
    const err = await demo.image.updateImage(img.id, { visibility: 'public' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenStackHttpError);
    expect((err as OpenStackHttpError).status).toBe(403);
    await demo.image.deleteImage(img.id);
  });

  test('property filters select images and listing follows next links over several pages', async () => {
    const group = randomUUID();
    const made = [];
    for (let i = 0; i < 7; i++) {
      made.push(
        await demo.image.createImage({
          name: `real-list-${i}-${run}`,
          disk_format: 'raw',
          container_format: 'bare',
          properties: tagged({ list_group: group, ...(i % 3 === 0 ? { obsolete: 'true' } : {}) }),
        }),
      );
    }
    const lines: string[] = [];
    const paged = await pool.connect('demo', {}, { debug: (l) => lines.push(l) });
    const all = await paged.image.listImages({ list_group: group, limit: 2 });
    expect(all.map((i) => i.id).sort()).toEqual(made.map((i) => i.id).sort());
    expect(lines.filter((l) => /^REQ: GET .*\/v2\/images\?/.test(l)).length).toBeGreaterThanOrEqual(4);
    const obsolete = await demo.image.imagesWithTrueProperty('obsolete', { list_group: group });
    expect(obsolete.map((i) => i.name).sort()).toEqual([0, 3, 6].map((i) => `real-list-${i}-${run}`).sort());
    expect((await demo.image.obsoleteImages({ list_group: group })).length).toBe(3);
    expect(await demo.image.findImagesByName(`real-list-4-${run}`)).toHaveLength(1);
    // Another project sees none of these private images
    expect(await alt.image.listImages({ list_group: group })).toEqual([]);
    for (const img of made) await demo.image.deleteImage(img.id);
  });

  test('a shared image reaches the second project once its user accepts the membership', async () => {
    const img = await demo.image.createImage({
      name: `real-share-${run}`,
      disk_format: 'raw',
      container_format: 'bare',
      visibility: 'shared',
      properties: tagged(),
    });
    const altProject = user('alt').projectId;
    const member = await demo.image.addMember(img.id, altProject);
    expect(member).toMatchObject({ member_id: altProject, status: 'pending' });
    // Adding again is not an error for the client
    expect((await demo.image.addMember(img.id, altProject)).member_id).toBe(altProject);
    expect((await alt.image.listImages({ dibctl_real_run: run })).map((i) => i.id)).not.toContain(img.id);
    expect((await alt.image.getImage(img.id)).id).toBe(img.id);
    const accepted = await alt.image.acceptMember(img.id, altProject);
    expect(accepted.status).toBe('accepted');
    expect((await alt.image.listImages({ dibctl_real_run: run })).map((i) => i.id)).toContain(img.id);
    expect((await demo.image.members(img.id)).map((m) => [m.member_id, m.status])).toEqual([[altProject, 'accepted']]);
    // The member may not delete or change what it was given
    const del = await alt.image.deleteImage(img.id).catch((e: unknown) => e);
    expect((del as OpenStackHttpError).status).toBe(403);
    await demo.image.removeMember(img.id, altProject);
    expect((await alt.image.listImages({ dibctl_real_run: run })).map((i) => i.id)).not.toContain(img.id);
    await expect(alt.image.getImage(img.id)).rejects.toBeInstanceOf(ImageNotFoundError);
    await demo.image.deleteImage(img.id);
  });

  test('a deactivated image refuses downloads until it is reactivated, then it is deleted', async () => {
    const file = path.join(dir, 'small.raw');
    fs.writeFileSync(file, randomBytes(4096));
    const img = await demo.image.createImage({
      name: `real-deactivate-${run}`,
      disk_format: 'raw',
      container_format: 'bare',
      properties: tagged(),
    });
    await demo.image.uploadImage(img.id, file);
    const token = await tokenFor(stack!.keystone.authUrl, user('admin'));
    await admin.image.deactivateImage(img.id);
    expect((await demo.image.getImage(img.id)).status).toBe('deactivated');
    const download = await raw('GET', `${stack!.glance.url}/v2/images/${img.id}/file`, {
      token: await tokenFor(stack!.keystone.authUrl, user('demo')),
    });
    expect(download.status).toBe(403);
    await admin.image.reactivateImage(img.id);
    const again = await raw('GET', `${stack!.glance.url}/v2/images/${img.id}/file`, { token });
    expect(again.status).toBe(200);
    expect(await demo.image.deleteImage(img.id)).toBe(true);
    await expect(demo.image.getImage(img.id)).rejects.toBeInstanceOf(ImageNotFoundError);
  });
});
