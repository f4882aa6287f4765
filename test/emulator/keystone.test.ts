import { Emulator, startEmulator } from '../../emulator';
import { call, login, passwordAuth } from './client';

describe('emulated Keystone', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne', 'RegionTwo'], tokenTtlSeconds: 2 });
  });
  afterAll(() => emu.stop());

  test('the root lists v3 and v2.0 with 300 Multiple Choices', async () => {
    const r = await call('GET', `${emu.url}/`);
    expect(r.status).toBe(300);
    expect(r.json.versions.values.map((v: { id: string }) => v.id)).toEqual(['v3.14', 'v2.0']);
    const v3 = await call('GET', emu.authUrl);
    expect(v3.json.version.links[0].href).toBe(`${emu.authUrl}/`);
  });

  test('a password token comes in X-Subject-Token with a catalog of every service in both regions', async () => {
    const r = await call('POST', `${emu.authUrl}/auth/tokens`, { body: passwordAuth(emu.admin) });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-subject-token')).toMatch(/^gAAAAA/);
    const t = r.json.token;
    expect(t.methods).toEqual(['password']);
    expect(t.project).toMatchObject({ name: 'admin', domain: { id: 'default', name: 'Default' } });
    expect(t.roles.map((x: { name: string }) => x.name)).toContain('admin');
    expect(t.catalog.map((s: { type: string }) => s.type).sort()).toEqual(['compute', 'identity', 'image', 'network']);
    const image = t.catalog.find((s: { type: string }) => s.type === 'image');
    expect(new Set(image.endpoints.map((e: { region: string }) => e.region))).toEqual(
      new Set(['RegionOne', 'RegionTwo']),
    );
    expect(image.endpoints.map((e: { interface: string }) => e.interface)).toEqual(
      expect.arrayContaining(['public', 'internal', 'admin']),
    );
  });

  test('a wrong password is 401 in Keystone error shape', async () => {
    const r = await call('POST', `${emu.authUrl}/auth/tokens`, {
      body: passwordAuth({ ...emu.user, password: 'nope' }),
    });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({
      error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
    });
  });

  test('an application credential authenticates without a scope and is scoped to its project', async () => {
    const body = {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: emu.applicationCredential.id, secret: emu.applicationCredential.secret },
        },
      },
    };
    const r = await call('POST', `${emu.authUrl}/auth/tokens`, { body });
    expect(r.status).toBe(201);
    expect(r.json.token.project.id).toBe(emu.user.projectId);
    expect(r.json.token.application_credential.id).toBe(emu.applicationCredential.id);
    const wrong = await call('POST', `${emu.authUrl}/auth/tokens`, {
      body: {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: emu.applicationCredential.id, secret: 'x' },
          },
        },
      },
    });
    expect(wrong.status).toBe(401);
  });

  test('v2.0 tokens work for tenant-scoped password credentials', async () => {
    const r = await call('POST', `${emu.authUrlV2}/tokens`, {
      body: {
        auth: {
          passwordCredentials: { username: emu.user.username, password: emu.user.password },
          tenantName: emu.user.projectName,
        },
      },
    });
    expect(r.status).toBe(200);
    expect(r.json.access.token.tenant.id).toBe(emu.user.projectId);
    const compute = r.json.access.serviceCatalog.find((s: { type: string }) => s.type === 'compute');
    expect(compute.endpoints.map((e: { region: string }) => e.region)).toEqual(['RegionOne', 'RegionTwo']);
    // the v2.0 token is accepted by the other services
    const flavors = await call('GET', `${compute.endpoints[0].publicURL}/flavors`, { token: r.json.access.token.id });
    expect(flavors.status).toBe(200);
  });

  test('malformed JSON, unknown fields and wrong types are 400, never a crash', async () => {
    const bad = await call('POST', `${emu.authUrl}/auth/tokens`, {
      rawBody: '{"auth": ',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe(400);
    const extra = await call('POST', `${emu.authUrl}/auth/tokens`, { body: { ...passwordAuth(emu.user), bogus: 1 } });
    expect(extra.status).toBe(400);
    expect(extra.json.error.message).toContain("'bogus' was unexpected");
    const wrongType = await call('POST', `${emu.authUrl}/auth/tokens`, { body: { auth: { identity: 'password' } } });
    expect(wrongType.status).toBe(400);
    const alive = await call('GET', emu.authUrl);
    expect(alive.status).toBe(200);
  });

  test('only admins list projects; users see their own through /v3/auth/projects', async () => {
    const user = await login(emu, 'user');
    const admin = await login(emu, 'admin');
    expect((await call('GET', `${emu.authUrl}/projects`, { token: user.token })).status).toBe(403);
    const all = await call('GET', `${emu.authUrl}/projects`, { token: admin.token });
    expect(all.json.projects.map((p: { name: string }) => p.name).sort()).toEqual(['admin', 'demo']);
    const mine = await call('GET', `${emu.authUrl}/auth/projects`, { token: user.token });
    expect(mine.json.projects.map((p: { name: string }) => p.name)).toEqual(['demo']);
  });

  test('tokens expire after the configured lifetime and are then refused with 401', async () => {
    const s = await login(emu, 'user');
    expect((await call('GET', `${s.url('compute')}/flavors`, { token: s.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    const r = await call('GET', `${s.url('compute')}/flavors`, { token: s.token });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain(emu.authUrl);
    const validate = await call('GET', `${emu.authUrl}/auth/tokens`, {
      token: (await login(emu, 'admin')).token,
      headers: { 'X-Subject-Token': s.token },
    });
    expect(validate.status).toBe(404);
  });
});
