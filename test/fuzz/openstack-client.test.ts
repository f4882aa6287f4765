/**
 * A hostile cloud against the OpenStack client: one request of each case gets
 * a random status, random or mangled JSON, wrong headers, a truncated, huge
 * or slow body. The client never crashes: it returns, or throws a typed error
 * with dibctl's exit code for the situation (20 Keystone 401, 50 Glance 404 on
 * a named image, 60/61 Nova 400/403, else 1) that holds no token or password.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectCloud } from '../../openstack';
import { DibctlError } from '../../errors';
import { forEachCase, fuzzRuns, fuzzSeed, HOSTILE_CHARS, Rng } from './prng';

const SEED = fuzzSeed(7331);
const RUNS = fuzzRuns(150);
const PASSWORD = 'Fuzz-pa55w0rd-8e1f';
const TOKEN = 'gAAAAA-fuzz-token-5c0ffee-5ecret';
const PROJECT = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const IMAGE_ID = '6f1c1bde-7f3b-4c43-9a0e-1d2f6bfc1a11';
const TIMEOUT_MS = 300;

type Step =
  | 'discovery'
  | 'auth'
  | 'image-get'
  | 'image-list'
  | 'image-update'
  | 'image-delete'
  | 'flavor'
  | 'server-create'
  | 'servers'
  | 'keypair'
  | 'networks'
  | 'network-get';
const STEPS: readonly Step[] = [
  'discovery',
  'auth',
  'image-get',
  'image-list',
  'image-update',
  'image-delete',
  'flavor',
  'server-create',
  'servers',
  'keypair',
  'networks',
  'network-get',
];

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  /** Declare more bytes than sent and cut the connection. */
  truncate?: boolean;
  /** Send half the body, wait past the client's limit, then the rest. */
  slow?: boolean;
}

function image(): Record<string, unknown> {
  return {
    id: IMAGE_ID,
    name: 'img',
    status: 'active',
    visibility: 'private',
    protected: false,
    checksum: null,
    owner: PROJECT,
    size: 10,
    min_disk: 0,
    min_ram: 0,
    container_format: 'bare',
    disk_format: 'qcow2',
    tags: [],
  };
}

function catalog(url: string) {
  return ['image', 'compute', 'network'].map((type, i) => ({
    type,
    id: `s${i}`,
    endpoints: [
      { id: `e${i}`, interface: 'public', region: 'RegionOne', region_id: 'RegionOne', url: `${url}/${type}` },
    ],
  }));
}

/** What a well-behaved cloud answers to each step. */
function normalAnswer(step: Step, url: string): Answer {
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  switch (step) {
    case 'discovery':
      return json(300, {
        versions: { values: [{ id: 'v3.14', status: 'stable', links: [{ rel: 'self', href: `${url}/v3/` }] }] },
      });
    case 'auth': {
      const expires = new Date(Date.now() + 3600_000).toISOString();
      return json(
        201,
        {
          token: {
            expires_at: expires,
            project: { id: PROJECT, name: 'demo' },
            user: { id: 'u1', name: 'demo' },
            roles: [{ id: 'r', name: 'member' }],
            catalog: catalog(url),
          },
        },
        { 'X-Subject-Token': TOKEN },
      );
    }
    case 'image-get':
    case 'image-update':
      return json(200, image());
    case 'image-list':
      return json(200, { images: [image()], first: '/v2/images' });
    case 'image-delete':
      return { status: 204, headers: {}, body: '' };
    case 'flavor':
      return json(200, { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } });
    case 'server-create':
      return json(202, { server: { id: 's1', links: [], adminPass: PASSWORD } });
    case 'servers':
      return json(200, { servers: [{ id: 's1', name: 'vm', status: 'ACTIVE', addresses: {} }], servers_links: [] });
    case 'keypair':
      return json(200, { keypair: { name: 'k', public_key: 'ssh-ed25519 AAAA', fingerprint: 'f' } });
    case 'networks':
      return json(200, { networks: [{ id: 'n1', name: 'net' }] });
    default:
      return json(200, { network: { id: 'n1', name: 'net' } });
  }
}

function stepOf(method: string, p: string): Step | undefined {
  if (method === 'GET' && p === '/') return 'discovery';
  if (method === 'POST' && p === '/v3/auth/tokens') return 'auth';
  if (p === `/image/v2/images/${IMAGE_ID}`)
    return method === 'GET' ? 'image-get' : method === 'PATCH' ? 'image-update' : 'image-delete';
  if (p === '/image/v2/images') return 'image-list';
  if (p === '/compute/v2.1/flavors/1') return 'flavor';
  if (p === '/compute/v2.1/servers') return 'server-create';
  if (p === '/compute/v2.1/servers/detail') return 'servers';
  if (p === '/compute/v2.1/os-keypairs') return 'keypair';
  if (p === '/network/v2.0/networks') return 'networks';
  if (p === '/network/v2.0/networks/n1') return 'network-get';
  return undefined;
}

/** A random JSON value, sometimes carrying the secrets as a careless cloud would. */
function randomJson(rng: Rng, depth = 0): unknown {
  const k = rng.int(0, depth > 3 ? 5 : 8);
  switch (k) {
    case 0:
      return null;
    case 1:
      return rng.bool();
    case 2:
      return rng.pick([0, -1, 1e308, 2 ** 53 + 1, 0.1, rng.int(-1e6, 1e6)]);
    case 3:
      return rng.string(12);
    case 4:
      return rng.pick([PASSWORD, TOKEN, `token ${TOKEN} for ${PASSWORD}`]);
    case 5:
      return rng.pick(HOSTILE_CHARS).repeat(rng.int(1, 5));
    case 6:
      return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const keys = [
        'message',
        'error',
        'token',
        'catalog',
        'images',
        'server',
        'servers',
        'flavor',
        'keypair',
        'networks',
        'network',
        'next',
        'badRequest',
        'forbidden',
        'itemNotFound',
        'NeutronError',
        'id',
        'links',
        '__proto__',
        'constructor',
      ];
      for (let i = rng.int(0, 4); i > 0; i--)
        o[rng.bool(0.8) ? rng.pick(keys) : rng.string(6)] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

/** The valid body with one field replaced by something of the wrong shape. */
function mangle(rng: Rng, value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 6) return randomJson(rng, 2);
  if (Array.isArray(value)) {
    if (!value.length || rng.bool(0.3)) return randomJson(rng, 2);
    const copy = [...value];
    const i = rng.int(0, copy.length - 1);
    copy[i] = mangle(rng, copy[i], depth + 1);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (!keys.length || rng.bool(0.25)) return randomJson(rng, 2);
  const key = rng.pick(keys);
  if (rng.bool(0.3)) delete copy[key];
  else copy[key] = mangle(rng, copy[key], depth + 1);
  return copy;
}

const STATUSES = [
  200, 201, 202, 203, 204, 206, 300, 301, 302, 304, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 502, 503, 504,
  599,
];

/** Statuses with an exit code of their own at a step (the rest are exit 1). */
const MAPPED_STATUSES: Partial<Record<Step, number[]>> = {
  auth: [401],
  'image-get': [404],
  'image-update': [404],
  'image-delete': [404],
  flavor: [400, 403],
  'server-create': [400, 403],
  servers: [400, 403],
  keypair: [400, 403],
};

function hostileAnswer(rng: Rng, step: Step, url: string): Answer {
  const normal = normalAnswer(step, url);
  const mapped = MAPPED_STATUSES[step];
  const status = rng.bool(0.25) ? normal.status : mapped && rng.bool(0.35) ? rng.pick(mapped) : rng.pick(STATUSES);
  const headers: Record<string, string> = rng.bool(0.7) ? { ...normal.headers } : {};
  if (rng.bool(0.3))
    headers['Content-Type'] = rng.pick([
      'text/html',
      'application/json; charset=utf-16',
      'application/octet-stream',
      'text/plain',
      'application/openstack-images-v2.1-json-patch',
      'nonsense',
    ]);
  if (rng.bool(0.2)) headers['X-Subject-Token'] = rng.pick(['', ' ', TOKEN, 'x'.repeat(5000)]);
  if (rng.bool(0.2)) headers['x-openstack-request-id'] = rng.pick([`req-${rng.string(8)}`, TOKEN, '']);
  if (rng.bool(0.1)) headers['OpenStack-API-Version'] = rng.pick(['compute 2.95', 'compute', 'garbage', '']);
  if (status === 301 || status === 302)
    headers.Location = rng.pick([`${url}/elsewhere`, 'http://127.0.0.1:1/', 'not a url']);
  let body: string | Buffer;
  switch (rng.int(0, 8)) {
    case 0:
      body = '';
      break;
    case 1:
      body = JSON.stringify(randomJson(rng));
      break;
    case 2:
    case 3:
      body = JSON.stringify(
        mangle(rng, JSON.parse(typeof normal.body === 'string' && normal.body ? normal.body : '{}')),
      );
      break;
    case 4: {
      const text = typeof normal.body === 'string' && normal.body ? normal.body : JSON.stringify(randomJson(rng));
      body = text.slice(0, rng.int(0, text.length)); // truncated JSON
      break;
    }
    case 5:
      body = `<html><head><title>${status}</title></head><body><h1>Error</h1>password=${PASSWORD} token=${TOKEN}<br />${rng.string(40)}</body></html>`;
      break;
    case 6:
      body = Buffer.from(Array.from({ length: rng.int(1, 4096) }, () => rng.int(0, 255)));
      break;
    case 7:
      body = JSON.stringify({
        error: { message: `bad ${PASSWORD} ${TOKEN}`, code: status },
        badRequest: { message: `x-auth-token: ${TOKEN}` },
      });
      break;
    default:
      body = rng.bool()
        ? JSON.stringify({ images: Array.from({ length: 20_000 }, () => image()) })
        : `"${'a'.repeat(3 << 20)}"`; // a few MiB
  }
  return { status, headers, body, truncate: rng.bool(0.08), slow: rng.bool(0.06) };
}

interface Scenario {
  step: Step;
  answer: Answer;
}

let server: http.Server;
let base = '';
let scenario: Scenario | undefined;
const timers = new Set<NodeJS.Timeout>();

/** Whether the answer's body does not arrive whole in time (the status alone then does not decide). */
function disturbed(a: Answer): boolean {
  if (a.status === 204 || a.status === 304) return false;
  return !!a.truncate || (!!a.slow && a.body.length > 0);
}

function send(res: http.ServerResponse, a: Answer): void {
  const body = typeof a.body === 'string' ? Buffer.from(a.body, 'utf8') : a.body;
  const noBody = a.status === 204 || a.status === 304;
  try {
    res.writeHead(a.status, {
      ...a.headers,
      ...(noBody ? {} : { 'Content-Length': String(body.length + (a.truncate ? 100 : 0)) }),
    });
  } catch {
    res.writeHead(a.status, noBody ? {} : { 'Content-Length': String(body.length) }); // a header value node refuses
  }
  if (noBody) return void res.end();
  if (a.slow) {
    res.write(body.subarray(0, body.length >> 1));
    const t = setTimeout(() => {
      timers.delete(t);
      res.end(body.subarray(body.length >> 1));
    }, TIMEOUT_MS * 3);
    timers.add(t);
    return;
  }
  if (a.truncate) {
    res.write(body);
    res.socket?.destroy();
    return;
  }
  res.end(body);
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const p = new URL(req.url ?? '/', 'http://x').pathname;
      const step = stepOf(req.method ?? 'GET', p);
      if (step && scenario?.step === step) return send(res, scenario.answer);
      if (step) return send(res, normalAnswer(step, base));
      send(res, {
        status: 404,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ itemNotFound: { message: 'no route' } }),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Runs the calls up to and including the step under test. */
async function exercise(step: Step): Promise<void> {
  const cloud = await connectCloud(
    {
      authUrl: step === 'discovery' ? base : `${base}/v3`,
      username: 'demo',
      password: PASSWORD,
      projectName: 'demo',
      userDomainName: 'Default',
    },
    { timeoutMs: TIMEOUT_MS },
  );
  try {
    switch (step) {
      case 'discovery':
      case 'auth':
        await cloud.identity.endpointFor('image');
        break;
      case 'image-get':
        await cloud.image.getImage(IMAGE_ID);
        break;
      case 'image-list':
        await cloud.image.listImages({ name: 'img' });
        break;
      case 'image-update':
        await cloud.image.updateImage(IMAGE_ID, { name: 'renamed', properties: { obsolete: true } }, image() as never);
        break;
      case 'image-delete':
        await cloud.image.deleteImage(IMAGE_ID);
        break;
      case 'flavor':
        await cloud.compute.getFlavor('1');
        break;
      case 'server-create':
        await cloud.compute.createServer({
          name: 'vm',
          imageRef: IMAGE_ID,
          flavorRef: '1',
          networks: [{ uuid: 'n1' }],
        });
        break;
      case 'servers':
        await cloud.compute.listServers({ all_tenants: true });
        break;
      case 'keypair':
        await cloud.compute.importKeypair('k', 'ssh-ed25519 AAAA');
        break;
      case 'networks':
        await cloud.network.listNetworks();
        break;
      default:
        await cloud.network.getNetwork('n1');
    }
  } finally {
    cloud.close();
  }
}

/** The exit code dibctl's table gives for an HTTP error status at this step. */
function expectedExit(step: Step, status: number): number {
  if (step === 'auth' && status === 401) return 20;
  if (step === 'image-get' || step === 'image-update' || step === 'image-delete') return status === 404 ? 50 : 1;
  if (step === 'flavor' || step === 'server-create' || step === 'servers' || step === 'keypair')
    return status === 400 ? 60 : status === 403 ? 61 : 1;
  return 1;
}

describe('a hostile cloud against the OpenStack client', () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  test('every step succeeds against the well-behaved answers', async () => {
    scenario = undefined;
    for (const step of STEPS) await expect(exercise(step)).resolves.toBeUndefined();
  });

  test(`${RUNS} hostile answers: success or a typed error with the right exit code, no secret, no unhandled rejection`, async () => {
    const tally: Record<string, number> = {};
    const started = Date.now();
    await forEachCase('openstack-client', SEED, RUNS, async (rng, i) => {
      const step = STEPS[i % STEPS.length];
      const answer = hostileAnswer(rng, step, base);
      scenario = { step, answer };
      const what = `${step}: status ${answer.status}, headers ${JSON.stringify(answer.headers).slice(0, 200)}, body ${answer.body.length} bytes ${JSON.stringify(answer.body.toString().slice(0, 160))}${answer.truncate ? ', truncated' : ''}${answer.slow ? ', slow' : ''}`;
      let outcome = 'ok';
      try {
        await exercise(step);
      } catch (err) {
        if (!(err instanceof DibctlError))
          throw new Error(`${what}\nnot a typed error: ${err instanceof Error ? err.stack : String(err)}`);
        const msg = err.message;
        // on the auth step the token was never issued, so the client cannot know it is one
        if (msg.includes(PASSWORD) || (step !== 'auth' && msg.includes(TOKEN)))
          throw new Error(`${what}\nsecret in the message: ${msg}`);
        if (/\n\s+at /.test(msg) || msg.length > 2000)
          throw new Error(`${what}\nmessage is not a short operator message: ${msg.slice(0, 400)}`);
        const isHttp = 'status' in err && typeof (err as { status?: unknown }).status === 'number';
        const status = isHttp ? (err as unknown as { status: number }).status : undefined;
        // an HTTP error at the step under test maps by the table; anything else (shape, connection) is 1
        const wanted = isHttp && status === answer.status && !disturbed(answer) ? expectedExit(step, status) : 1;
        if (err.exitCode !== wanted) throw new Error(`${what}\nexit ${err.exitCode}, expected ${wanted}: ${msg}`);
        outcome = `exit ${err.exitCode}`;
      }
      tally[outcome] = (tally[outcome] ?? 0) + 1;
      await new Promise((resolve) => setImmediate(resolve));
    });
    process.stdout.write(
      `openstack fuzz: seed ${SEED}, ${RUNS} cases in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(tally)}\n`,
    );
    expect(unhandled).toEqual([]);
    // successes, exit 1 and mapped codes all occur, else the cases prove less than they claim
    expect(tally.ok).toBeGreaterThan(0);
    expect(tally['exit 1']).toBeGreaterThan(0);
    if (RUNS >= 100) expect(Object.keys(tally).length).toBeGreaterThanOrEqual(4);
  });

  test('the exit codes of the table come from the statuses that map to them', async () => {
    const cases: Array<[Step, number, number]> = [
      ['auth', 401, 20],
      ['image-get', 404, 50],
      ['image-list', 404, 1],
      ['server-create', 400, 60],
      ['servers', 403, 61],
      ['networks', 403, 1],
      ['image-get', 500, 1],
    ];
    for (const [step, status, exit] of cases) {
      scenario = {
        step,
        answer: {
          status,
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ error: { message: `no ${PASSWORD}` } }),
        },
      };
      const err = await exercise(step).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DibctlError);
      expect((err as DibctlError).exitCode).toBe(exit);
      expect((err as DibctlError).message).not.toContain(PASSWORD);
    }
    expect(unhandled).toEqual([]);
  });
});
