/**
 * The emulated Keystone and Glance answer the same requests as the real ones
 * with the same status codes, content types, headers and JSON shapes.
 */
import { randomUUID } from 'node:crypto';
import { Emulator, startEmulator } from '../../emulator';
import { describeReal, raw, stack, tokenFor, user } from './stack';

interface Target {
  keystone: string;
  glance: string;
  admin: string;
  demo: string;
  demoProject: string;
  altProject: string;
}

let emu: Emulator;
const targets: Record<'real' | 'emulated', Target> = {} as Record<'real' | 'emulated', Target>;
const run = randomUUID();

/** What is compared: status, media type, the header names that matter and the JSON shape (keys, recursively; error texts excluded). */
interface Seen {
  status: number;
  type: string;
  headers: string[];
  shape: unknown;
}

// Not compared: OpenStack-Image-Import-Methods (the emulator has no image import, so it does not advertise one)
const HEADERS = ['www-authenticate', 'x-subject-token', 'location', 'content-md5', 'openstack-image-store-ids'];

function shape(v: unknown, depth = 0): unknown {
  if (Array.isArray(v)) return v.length ? [shape(v[0], depth + 1)] : [];
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [
          k,
          depth > 3 ? typeof (v as Record<string, unknown>)[k] : shape((v as Record<string, unknown>)[k], depth + 1),
        ]),
    );
  }
  return v === null ? 'null' : typeof v;
}

async function see(
  method: string,
  url: string,
  opts: Parameters<typeof raw>[2] = {},
  pick?: (body: unknown) => unknown,
): Promise<Seen> {
  const res = await raw(method, url, opts);
  const type = (res.headers.get('content-type') ?? '').split(';')[0].trim();
  const body = typeof res.body === 'object' ? res.body : undefined;
  return {
    status: res.status,
    type: res.status === 204 ? '' : type,
    headers: HEADERS.filter((h) => res.headers.has(h)),
    shape: body === undefined ? undefined : shape(pick ? pick(body) : body),
  };
}

/** Runs the same scenario on both and returns both answers. */
async function both(scenario: (t: Target) => Promise<Seen>): Promise<{ real: Seen; emulated: Seen }> {
  return { real: await scenario(targets.real), emulated: await scenario(targets.emulated) };
}

async function newImage(t: Target, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await raw('POST', `${t.glance}/v2/images`, {
    token: t.demo,
    body: { name: `parity-${run}`, disk_format: 'raw', container_format: 'bare', parity_run: run, ...extra },
  });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${res.text}`);
  return (res.body as { id: string }).id;
}

async function activeImage(t: Target): Promise<string> {
  const id = await newImage(t);
  const put = await raw('PUT', `${t.glance}/v2/images/${id}/file`, {
    token: t.demo,
    body: 'parity image data',
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  if (put.status !== 204) throw new Error(`upload: ${put.status} ${put.text}`);
  return id;
}

const V3_PASSWORD = (name: string, password: string, project: string) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { name, domain: { name: 'Default' }, password } } },
    scope: { project: { name: project, domain: { name: 'Default' } } },
  },
});

beforeAll(async () => {
  if (!stack) return;
  emu = await startEmulator({ regions: ['RegionOne'] });
  targets.real = {
    keystone: stack.keystone.url,
    glance: stack.glance.url,
    admin: await tokenFor(stack.keystone.authUrl, user('admin')),
    demo: await tokenFor(stack.keystone.authUrl, user('demo')),
    demoProject: user('demo').projectId,
    altProject: user('alt').projectId,
  };
  targets.emulated = {
    keystone: emu.url,
    glance: `${emu.url}/image/RegionOne`,
    admin: await tokenFor(emu.authUrl, emu.admin),
    demo: await tokenFor(emu.authUrl, emu.user),
    demoProject: emu.user.projectId,
    altProject: emu.admin.projectId,
  };
});

afterAll(async () => {
  if (!stack) return;
  for (const t of Object.values(targets)) {
    const list = await raw('GET', `${t.glance}/v2/images?parity_run=${run}&limit=1000`, { token: t.admin });
    for (const img of (list.body as { images: { id: string; protected: boolean }[] }).images ?? []) {
      if (img.protected) {
        await raw('PATCH', `${t.glance}/v2/images/${img.id}`, {
          token: t.admin,
          body: [{ op: 'replace', path: '/protected', value: false }],
          headers: { 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
        });
      }
      await raw('DELETE', `${t.glance}/v2/images/${img.id}`, { token: t.admin });
    }
  }
  if (emu) await emu.stop();
});

describeReal('the emulated Keystone answers like the real one', () => {
  test('a password token: 201 with X-Subject-Token and the same token body', async () => {
    const r = await both((t) =>
      see(
        'POST',
        `${t.keystone}/v3/auth/tokens`,
        { body: V3_PASSWORD('demo', t === targets.real ? user('demo').password : emu.user.password, 'demo') },
        (b) => {
          const tok = (b as { token: Record<string, unknown> }).token;
          return { token: { ...tok, catalog: undefined, roles: undefined } };
        },
      ),
    );
    expect(r.emulated).toEqual(r.real);
  });

  test('a wrong password: 401 in the identity error shape', async () => {
    const r = await both((t) =>
      see('POST', `${t.keystone}/v3/auth/tokens`, { body: V3_PASSWORD('demo', 'wrong-password', 'demo') }),
    );
    expect(r.emulated).toEqual(r.real);
  });

  test('malformed JSON and a token request without identity: 400', async () => {
    const a = await both((t) => see('POST', `${t.keystone}/v3/auth/tokens`, { body: '{"auth": ' }));
    expect(a.emulated).toEqual(a.real);
    const b = await both((t) => see('POST', `${t.keystone}/v3/auth/tokens`, { body: { auth: {} } }));
    expect(b.emulated).toEqual(b.real);
  });

  test('validating an unknown token: 404', async () => {
    const r = await both((t) =>
      see('GET', `${t.keystone}/v3/auth/tokens`, { token: t.admin, headers: { 'X-Subject-Token': 'gAAAAAunknown' } }),
    );
    expect(r.emulated).toEqual(r.real);
  });

  test('listing all projects as an ordinary user: 403', async () => {
    const r = await both((t) => see('GET', `${t.keystone}/v3/projects`, { token: t.demo }));
    expect(r.emulated).toEqual(r.real);
  });

  test('the v3 version document', async () => {
    const r = await both((t) => see('GET', `${t.keystone}/v3`));
    expect(r.emulated).toEqual(r.real);
  });
});

describeReal('the emulated Glance answers like the real one', () => {
  test('create: 201 with the image, Location and the store ids header', async () => {
    const r = await both((t) =>
      see('POST', `${t.glance}/v2/images`, {
        token: t.demo,
        body: { name: `parity-${run}`, disk_format: 'raw', container_format: 'bare', parity_run: run, min_ram: 64 },
      }),
    );
    expect(r.emulated).toEqual(r.real);
  });

  test('get of an active image and the list with pagination', async () => {
    const ids = { real: await activeImage(targets.real), emulated: await activeImage(targets.emulated) };
    await newImage(targets.real);
    await newImage(targets.emulated);
    const get = await both((t) =>
      see('GET', `${t.glance}/v2/images/${t === targets.real ? ids.real : ids.emulated}`, { token: t.demo }),
    );
    expect(get.emulated).toEqual(get.real);
    const list = await both((t) => see('GET', `${t.glance}/v2/images?parity_run=${run}&limit=1`, { token: t.demo }));
    expect(list.emulated).toEqual(list.real);
    const download = await both((t) =>
      see('GET', `${t.glance}/v2/images/${t === targets.real ? ids.real : ids.emulated}/file`, { token: t.demo }),
    );
    expect(download.emulated).toEqual(download.real);
    const again = await both((t) =>
      see('PUT', `${t.glance}/v2/images/${t === targets.real ? ids.real : ids.emulated}/file`, {
        token: t.demo,
        body: 'x',
        headers: { 'Content-Type': 'application/octet-stream' },
      }),
    );
    expect(again.emulated).toEqual(again.real);
  });

  test('errors: unknown image, unknown marker, read-only attribute, bad enum, no token', async () => {
    const cases: [string, string, Parameters<typeof raw>[2]][] = [
      ['GET', `/v2/images/${randomUUID()}`, {}],
      ['GET', '/v2/images/not-a-uuid', {}],
      ['GET', `/v2/images?marker=${randomUUID()}`, {}],
      ['POST', '/v2/images', { body: { name: 'x', status: 'active' } }],
      ['POST', '/v2/images', { body: { name: 'x', disk_format: 'floppy' } }],
      ['POST', '/v2/images', { body: { name: 'x', parity_run: 5 } }],
      ['POST', '/v2/images', { body: '{"name": ' }],
    ];
    for (const [method, p, opts] of cases) {
      const r = await both((t) => see(method, `${t.glance}${p}`, { token: t.demo, ...opts }));
      expect({ request: `${method} ${p}`, ...r.emulated }).toEqual({ request: `${method} ${p}`, ...r.real });
    }
    const anonymous = await both((t) => see('GET', `${t.glance}/v2/images`));
    expect(anonymous.emulated).toEqual(anonymous.real);
  });

  test('error bodies follow the Accept header: HTML for any type and for axios, plain text without Accept, JSON when preferred', async () => {
    const missing = `/v2/images/${randomUUID()}`;
    for (const accept of [
      '*/*',
      'application/json, text/plain, */*',
      'text/plain',
      'text/html',
      '',
      'application/json;q=0.9, text/html;q=0.1',
    ]) {
      const r = await both(async (t) => {
        const headers: Record<string, string> = { 'X-Auth-Token': t.demo };
        if (accept) headers.Accept = accept;
        const res = await fetch(`${t.glance}${missing}`, { headers });
        const body = (await res.text()).replace(/[0-9a-f-]{36}/g, 'ID');
        // JSON is compared as data (Python's separators differ from JSON.stringify's)
        const text = /json/.test(res.headers.get('content-type') ?? '') ? (JSON.parse(body) as unknown) : body;
        return { status: res.status, type: res.headers.get('content-type') ?? '', headers: [], shape: text } as Seen;
      });
      expect({ accept, ...r.emulated }).toEqual({ accept, ...r.real });
    }
  });

  test('patch: wrong media type 415, removing a missing property 409, protected delete 403, tags 204', async () => {
    const ids = { real: await newImage(targets.real), emulated: await newImage(targets.emulated) };
    const id = (t: Target) => (t === targets.real ? ids.real : ids.emulated);
    const patch = (t: Target, ops: unknown, type = 'application/openstack-images-v2.1-json-patch') =>
      see('PATCH', `${t.glance}/v2/images/${id(t)}`, { token: t.demo, body: ops, headers: { 'Content-Type': type } });
    for (const [name, scenario] of [
      ['wrong media type', (t: Target) => patch(t, [{ op: 'add', path: '/a', value: 'b' }], 'application/json')],
      ['remove missing', (t: Target) => patch(t, [{ op: 'remove', path: '/nope' }])],
      ['add property', (t: Target) => patch(t, [{ op: 'add', path: '/a', value: 'b' }])],
      ['protect', (t: Target) => patch(t, [{ op: 'replace', path: '/protected', value: true }])],
      ['delete protected', (t: Target) => see('DELETE', `${t.glance}/v2/images/${id(t)}`, { token: t.demo })],
      ['add tag', (t: Target) => see('PUT', `${t.glance}/v2/images/${id(t)}/tags/parity`, { token: t.demo })],
      [
        'member of a private image',
        (t: Target) =>
          see('POST', `${t.glance}/v2/images/${id(t)}/members`, { token: t.demo, body: { member: t.altProject } }),
      ],
    ] as const) {
      const r = await both(scenario);
      expect({ step: name, ...r.emulated }).toEqual({ step: name, ...r.real });
    }
  });

  test('members: share, duplicate 409, list, deactivate by the owner', async () => {
    const ids = { real: await activeImage(targets.real), emulated: await activeImage(targets.emulated) };
    const id = (t: Target) => (t === targets.real ? ids.real : ids.emulated);
    await both((t) =>
      see('PATCH', `${t.glance}/v2/images/${id(t)}`, {
        token: t.demo,
        body: [{ op: 'replace', path: '/visibility', value: 'shared' }],
        headers: { 'Content-Type': 'application/openstack-images-v2.1-json-patch' },
      }),
    );
    for (const [name, scenario] of [
      [
        'add member',
        (t: Target) =>
          see('POST', `${t.glance}/v2/images/${id(t)}/members`, { token: t.demo, body: { member: t.altProject } }),
      ],
      [
        'add again',
        (t: Target) =>
          see('POST', `${t.glance}/v2/images/${id(t)}/members`, { token: t.demo, body: { member: t.altProject } }),
      ],
      ['list members', (t: Target) => see('GET', `${t.glance}/v2/images/${id(t)}/members`, { token: t.demo })],
      [
        'deactivate as owner',
        (t: Target) => see('POST', `${t.glance}/v2/images/${id(t)}/actions/deactivate`, { token: t.demo }),
      ],
      [
        'deactivate as admin',
        (t: Target) => see('POST', `${t.glance}/v2/images/${id(t)}/actions/deactivate`, { token: t.admin }),
      ],
      ['download deactivated', (t: Target) => see('GET', `${t.glance}/v2/images/${id(t)}/file`, { token: t.demo })],
      ['delete', (t: Target) => see('DELETE', `${t.glance}/v2/images/${id(t)}`, { token: t.demo })],
    ] as const) {
      const r = await both(scenario);
      expect({ step: name, ...r.emulated }).toEqual({ step: name, ...r.real });
    }
  });
});
