import crypto from 'node:crypto';
import http from 'node:http';
import { Emulator, startEmulator } from '../../emulator';
import { Session, call, login } from './client';

const PATCH = { 'Content-Type': 'application/openstack-images-v2.1-json-patch' };

describe('emulated Glance', () => {
  let emu: Emulator;
  let user: Session;
  let admin: Session;
  let glance: string;

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'] });
    user = await login(emu, 'user');
    admin = await login(emu, 'admin');
    glance = `${user.url('image')}/v2`;
  });
  afterAll(() => emu.stop());
  afterEach(() => emu.faults.reset());

  const create = async (s: Session, body: Record<string, unknown>) => {
    const r = await call('POST', `${glance}/images`, {
      token: s.token,
      body: { disk_format: 'raw', container_format: 'bare', ...body },
    });
    expect(r.status).toBe(201);
    return r.json as { id: string; status: string };
  };
  const upload = (s: Session, id: string, data: Buffer) =>
    call('PUT', `${glance}/images/${id}/file`, {
      token: s.token,
      rawBody: data,
      headers: { 'Content-Type': 'application/octet-stream' },
    });

  test('the image endpoint answers version discovery with 300 and the v2 versions', async () => {
    const r = await call('GET', user.url('image'));
    expect(r.status).toBe(300);
    expect(r.json.versions[0]).toMatchObject({ id: 'v2.15', status: 'CURRENT' });
  });

  test('an upload moves queued → active and records size, md5 checksum and sha512 hash', async () => {
    const img = await create(user, { name: 'upload-me' });
    expect(img.status).toBe('queued');
    const data = crypto.randomBytes(300_000);
    expect((await upload(user, img.id, data)).status).toBe(204);
    const r = await call('GET', `${glance}/images/${img.id}`, { token: user.token });
    expect(r.json).toMatchObject({
      status: 'active',
      size: data.length,
      checksum: crypto.createHash('md5').update(data).digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: crypto.createHash('sha512').update(data).digest('hex'),
    });
    const again = await upload(user, img.id, data);
    expect(again.status).toBe(409);
    const download = await fetch(`${glance}/images/${img.id}/file`, { headers: { 'X-Auth-Token': user.token } });
    expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);
  });

  test('the image is saving while data streams in, and queued again when the upload breaks off', async () => {
    emu.faults.set({ uploadBytesPerSecond: 200_000 });
    const img = await create(user, { name: 'broken-upload' });
    const u = new URL(`${glance}/images/${img.id}/file`);
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      method: 'PUT',
      headers: { 'X-Auth-Token': user.token, 'Content-Type': 'application/octet-stream' },
    });
    req.on('error', () => undefined);
    req.write(crypto.randomBytes(100_000));
    await new Promise((r) => setTimeout(r, 200));
    expect((await call('GET', `${glance}/images/${img.id}`, { token: user.token })).json.status).toBe('saving');
    req.destroy();
    let status = '';
    for (let i = 0; i < 40 && status !== 'queued'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await call('GET', `${glance}/images/${img.id}`, { token: user.token })).json.status;
    }
    expect(status).toBe('queued');
  });

  test('a slow upload knob throttles the upload rate', async () => {
    emu.faults.set({ uploadBytesPerSecond: 500_000 });
    const img = await create(user, { name: 'slow' });
    const started = Date.now();
    expect((await upload(user, img.id, crypto.randomBytes(400_000))).status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  test('JSON-patch needs the Glance media type, edits properties and refuses read-only attributes', async () => {
    const img = await create(user, { name: 'patchable', build: '1' });
    const wrongType = await call('PATCH', `${glance}/images/${img.id}`, {
      token: user.token,
      body: [{ op: 'add', path: '/x', value: '1' }],
    });
    expect(wrongType.status).toBe(415);
    const ok = await call('PATCH', `${glance}/images/${img.id}`, {
      token: user.token,
      headers: PATCH,
      body: [
        { op: 'replace', path: '/name', value: 'Obsolete patchable' },
        { op: 'add', path: '/obsolete', value: 'True' },
        { op: 'remove', path: '/build' },
        { op: 'replace', path: '/tags', value: ['a', 'b'] },
      ],
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ name: 'Obsolete patchable', obsolete: 'True', tags: ['a', 'b'] });
    expect(ok.json.build).toBeUndefined();
    const readOnly = await call('PATCH', `${glance}/images/${img.id}`, {
      token: user.token,
      headers: PATCH,
      body: [{ op: 'replace', path: '/status', value: 'active' }],
    });
    expect(readOnly.status).toBe(403);
    const missing = await call('PATCH', `${glance}/images/${img.id}`, {
      token: user.token,
      headers: PATCH,
      body: [{ op: 'replace', path: '/nothere', value: 'x' }],
    });
    expect(missing.status).toBe(409);
    const notString = await call('PATCH', `${glance}/images/${img.id}`, {
      token: user.token,
      headers: PATCH,
      body: [{ op: 'add', path: '/n', value: 5 }],
    });
    expect(notString.status).toBe(400);
    const malformed = await call('PATCH', `${glance}/images/${img.id}`, {
      token: user.token,
      headers: PATCH,
      rawBody: '[{',
    });
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({ code: '400 Bad Request', title: 'Bad Request' });
  });

  test('create refuses read-only attributes with 403 and wrong types with 400', async () => {
    expect(
      (await call('POST', `${glance}/images`, { token: user.token, body: { name: 'x', status: 'active' } })).status,
    ).toBe(403);
    const wrong = await call('POST', `${glance}/images`, { token: user.token, body: { name: 'x', min_ram: 'lots' } });
    expect(wrong.status).toBe(400);
    expect(wrong.json.message).toContain("is not of type 'integer'");
    expect(
      (await call('POST', `${glance}/images`, { token: user.token, body: { name: 'x', disk_format: 'floppy' } }))
        .status,
    ).toBe(400);
    expect(
      (
        await call('POST', `${glance}/images`, {
          token: user.token,
          rawBody: 'nope',
          headers: { 'Content-Type': 'application/json' },
        })
      ).status,
    ).toBe(400);
  });

  test('the obsolete=true filter matches property values case-insensitively', async () => {
    const a = await create(user, { name: 'f-a', obsolete: 'True', group: 'filters' });
    const b = await create(user, { name: 'f-b', obsolete: 'true', group: 'filters' });
    await create(user, { name: 'f-c', obsolete: 'false', group: 'filters' });
    await create(user, { name: 'f-d', group: 'filters' });
    const r = await call('GET', `${glance}/images?obsolete=true&group=filters`, { token: user.token });
    expect(r.json.images.map((i: { id: string }) => i.id).sort()).toEqual([a.id, b.id].sort());
  });

  test('limit and marker paginate through next links, newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await create(user, { name: `page-${i}`, batch: 'pages' })).id);
    const seen: string[] = [];
    let next: string | undefined = '/v2/images?batch=pages&limit=3';
    let pages = 0;
    while (next) {
      const r = await call('GET', `${user.url('image')}${next}`, { token: user.token });
      expect(r.status).toBe(200);
      seen.push(...r.json.images.map((i: { id: string }) => i.id));
      next = r.json.next;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
    expect((await call('GET', `${glance}/images?marker=not-an-image`, { token: user.token })).status).toBe(400);
  });

  test('a protected image cannot be deleted (403) until unprotected', async () => {
    const img = await create(user, { name: 'keep', protected: true });
    const r = await call('DELETE', `${glance}/images/${img.id}`, { token: user.token });
    expect(r.status).toBe(403);
    await call('PATCH', `${glance}/images/${img.id}`, {
      token: user.token,
      headers: PATCH,
      body: [{ op: 'replace', path: '/protected', value: false }],
    });
    expect((await call('DELETE', `${glance}/images/${img.id}`, { token: user.token })).status).toBe(204);
    expect((await call('GET', `${glance}/images/${img.id}`, { token: user.token })).status).toBe(404);
  });

  test('private images stay invisible to other projects until shared and accepted', async () => {
    const priv = await create(admin, { name: 'admins-only', visibility: 'private' });
    expect((await call('GET', `${glance}/images/${priv.id}`, { token: user.token })).status).toBe(404);
    const shared = await create(admin, { name: 'shared-one', visibility: 'shared' });
    const add = await call('POST', `${glance}/images/${shared.id}/members`, {
      token: admin.token,
      body: { member: emu.user.projectId },
    });
    expect(add.json).toMatchObject({ member_id: emu.user.projectId, status: 'pending' });
    const listed = async () =>
      (await call('GET', `${glance}/images`, { token: user.token })).json.images.map((i: { id: string }) => i.id);
    expect(await listed()).not.toContain(shared.id);
    const accept = await call('PUT', `${glance}/images/${shared.id}/members/${emu.user.projectId}`, {
      token: user.token,
      body: { status: 'accepted' },
    });
    expect(accept.status).toBe(200);
    expect(await listed()).toContain(shared.id);
    expect((await call('DELETE', `${glance}/images/${shared.id}`, { token: user.token })).status).toBe(403);
    const privMembers = await call('POST', `${glance}/images/${priv.id}/members`, {
      token: admin.token,
      body: { member: emu.user.projectId },
    });
    expect(privMembers.status).toBe(403);
  });

  test('deactivation blocks downloads for non-admins until reactivated', async () => {
    const img = await create(user, { name: 'deact' });
    await upload(user, img.id, Buffer.from('data'));
    expect((await call('POST', `${glance}/images/${img.id}/actions/deactivate`, { token: admin.token })).status).toBe(
      204,
    );
    expect((await call('GET', `${glance}/images/${img.id}`, { token: user.token })).json.status).toBe('deactivated');
    expect((await call('GET', `${glance}/images/${img.id}/file`, { token: user.token })).status).toBe(403);
    expect((await call('POST', `${glance}/images/${img.id}/actions/reactivate`, { token: admin.token })).status).toBe(
      204,
    );
    expect((await call('GET', `${glance}/images/${img.id}/file`, { token: user.token })).text).toBe('data');
  });
});
