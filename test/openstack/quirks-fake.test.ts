/**
 * Real-cloud differences (catalog URLs with versions and project ids, a compute
 * API without microversions, next links pointing elsewhere), error mapping with
 * recorded error bodies, secrets kept out of debug lines and errors, TLS options.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { connectCloud, extractServerMessage } from '../../openstack';
import {
  ImageNotFoundError,
  NovaBadRequestError,
  NovaForbiddenError,
  OpenStackConnectionError,
  OpenStackHttpError,
  UnexpectedResponseError,
} from '../../openstack/errors';
import { isTransient } from '../../activities/stage-failure';
import { computeRoot, imageRoot, isLegacyCompute, networkRoot } from '../../openstack/endpoints';
import { FakeAnswer, FakeRequest, FakeServer, PROJECT_ID, startFakeServer, TOKEN, v3Token } from './fake-server';

const PASSWORD = 'pa55-w0rd-secret';
let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** A fake cloud: Keystone at /v3 with the given catalog paths, `route` for the rest. */
async function fakeCloud(
  paths: { image?: string; compute?: string; network?: string },
  route: (r: FakeRequest) => FakeAnswer | Promise<FakeAnswer>,
) {
  fake = await startFakeServer((r, s) => {
    if (r.path === '/v3/auth/tokens') {
      const cat = Object.entries(paths).map(([type, p]) => ({ type, url: `${s.url}${p}` }));
      return { status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token(cat) };
    }
    return route(r);
  });
  return fake;
}

describe('catalog URLs as real clouds register them', () => {
  it('normalizes image, compute and network roots', () => {
    expect(imageRoot('https://g:9292')).toBe('https://g:9292/v2');
    expect(imageRoot('https://g:9292/v2/')).toBe('https://g:9292/v2');
    expect(imageRoot('https://g/image/v2.0')).toBe('https://g/image/v2');
    expect(computeRoot('https://n:8774')).toBe('https://n:8774/v2.1');
    expect(computeRoot('https://n:8774/v2.1/')).toBe('https://n:8774/v2.1');
    expect(computeRoot(`https://n:8774/v2.1/${PROJECT_ID}`)).toBe(`https://n:8774/v2.1/${PROJECT_ID}`);
    expect(computeRoot(`https://n:8774/v2/${PROJECT_ID}`)).toBe(`https://n:8774/v2/${PROJECT_ID}`);
    expect(isLegacyCompute(`https://n:8774/v2/${PROJECT_ID}`)).toBe(true);
    expect(isLegacyCompute(`https://n:8774/v2.1/${PROJECT_ID}`)).toBe(false);
    expect(networkRoot('https://q:9696/')).toBe('https://q:9696/v2.0');
    expect(networkRoot('https://q:9696/v2.0/')).toBe('https://q:9696/v2.0');
  });

  it('talks to Glance under /v2 whether or not the catalog URL carries the version', async () => {
    for (const p of ['/glance/v2/', '/glance']) {
      await fakeCloud({ image: p }, () => ({ body: { id: 'i1', name: 'x', status: 'active' } }));
      const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
      await cloud.image.getImage('i1');
      expect(fake!.requests.at(-1)?.path).toBe('/glance/v2/images/i1');
      cloud.close();
      await fake!.close();
      fake = undefined;
    }
  });

  it('keeps the project id of a compute URL and sends microversion headers to v2.1', async () => {
    await fakeCloud({ compute: `/compute/v2.1/${PROJECT_ID}` }, () => ({
      headers: { 'OpenStack-API-Version': 'compute 2.1' },
      body: { flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 } },
    }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    await cloud.compute.getFlavor('1');
    const r = fake!.requests.at(-1)!;
    expect(r.path).toBe(`/compute/v2.1/${PROJECT_ID}/flavors/1`);
    expect(r.headers['openstack-api-version']).toBe('compute 2.1');
    expect(r.headers['x-openstack-nova-api-version']).toBe('2.1');
    expect(cloud.compute.answeredMicroversion).toBe('2.1');
    cloud.close();
  });

  it('uses a legacy /v2/<project> compute endpoint as it is, without microversion headers', async () => {
    await fakeCloud({ compute: `/v2/${PROJECT_ID}` }, (r) => {
      if (r.path.endsWith('/servers'))
        return { status: 202, body: { server: { id: 's1', adminPass: 'generated-admin-pass', links: [] } } };
      return {
        body: {
          server: { id: 's1', name: 'vm', status: 'ACTIVE', addresses: {}, flavor: { id: '1' }, image: { id: 'i1' } },
        },
      };
    });
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    const created = await cloud.compute.createServer({
      name: 'vm',
      imageRef: 'i1',
      flavorRef: '1',
      networks: [{ uuid: 'n1' }],
    });
    expect(created).toEqual({ id: 's1', links: [] });
    const s = await cloud.compute.getServer('s1');
    expect(s.status).toBe('ACTIVE');
    const sent = fake!.requests.filter((x) => x.path.startsWith('/v2/'));
    expect(sent.map((x) => x.path)).toEqual([`/v2/${PROJECT_ID}/servers`, `/v2/${PROJECT_ID}/servers/s1`]);
    expect(
      sent.every(
        (x) =>
          x.headers['openstack-api-version'] === undefined && x.headers['x-openstack-nova-api-version'] === undefined,
      ),
    ).toBe(true);
    expect(cloud.compute.answeredMicroversion).toBeUndefined();
    cloud.close();
  });

  it('copes with a compute API that ignores the microversion it was asked for', async () => {
    await fakeCloud({ compute: '/compute/v2.1' }, () => ({ status: 202, body: { server: { id: 's2', links: [] } } }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    const created = await cloud.compute.createServer({
      name: 'vm',
      imageRef: 'i1',
      flavorRef: '1',
      tags: ['dibctl'],
      networks: [{ uuid: 'n1', tag: 'main' }],
    });
    expect(created.id).toBe('s2');
    const r = fake!.requests.at(-1)!;
    expect(r.headers['openstack-api-version']).toBe('compute 2.52');
    expect(cloud.compute.answeredMicroversion).toBeUndefined();
    cloud.close();
  });

  it("sends a server create in Nova's field names, user data base64-encoded, at the microversion tagged NICs need", async () => {
    await fakeCloud({ compute: '/compute/v2.1' }, () => ({
      status: 202,
      body: { server: { id: 's3', links: [], adminPass: 'x' } },
    }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    await cloud.compute.createServer({
      name: 'DIBCTL-1',
      imageRef: 'img',
      flavorRef: '2',
      key_name: 'k',
      networks: [
        { uuid: 'n1', fixed_ip: '192.0.2.10', tag: 'main' },
        { port: 'p1' },
        { uuid: 'n2', fixed_ip: '2001:db8::10' },
      ],
      user_data: '#!/bin/sh\necho hi\n',
      config_drive: true,
      availability_zone: 'az1',
    });
    const r = fake!.requests.at(-1)!;
    expect(r.headers['openstack-api-version']).toBe('compute 2.42');
    expect(r.json).toEqual({
      server: {
        name: 'DIBCTL-1',
        imageRef: 'img',
        flavorRef: '2',
        key_name: 'k',
        networks: [
          { uuid: 'n1', fixed_ip: '192.0.2.10', tag: 'main' },
          { port: 'p1' },
          { uuid: 'n2', fixed_ip: '2001:db8::10' },
        ],
        user_data: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'),
        config_drive: true,
        availability_zone: 'az1',
      },
    });
    cloud.close();
  });

  it('sends networks "auto" when a microversion of 2.37 or later is used without networks', async () => {
    await fakeCloud({ compute: '/compute/v2.1' }, () => ({ status: 202, body: { server: { id: 's4', links: [] } } }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    await cloud.compute.createServer({ name: 'a', imageRef: 'img', flavorRef: '2', tags: ['t'] });
    expect((fake!.requests.at(-1)!.json as { server: { networks: unknown; tags: unknown } }).server).toMatchObject({
      networks: 'auto',
      tags: ['t'],
    });
    await cloud.compute.createServer({ name: 'b', imageRef: 'img', flavorRef: '2' });
    expect(fake!.requests.at(-1)!.headers['openstack-api-version']).toBe('compute 2.1');
    expect((fake!.requests.at(-1)!.json as { server: Record<string, unknown> }).server).not.toHaveProperty('networks');
    cloud.close();
  });

  it('follows next links by their query only, even when they name another host', async () => {
    await fakeCloud({ image: '/image' }, (r) => {
      const marker = r.query.get('marker');
      if (!marker)
        return {
          body: {
            images: [{ id: 'a' }, { id: 'b' }],
            next: 'http://glance-internal.local:9292/v2/images?marker=b&limit=2&obsolete=True',
          },
        };
      if (marker === 'b') return { body: { images: [{ id: 'c' }], next: '/v2/images?marker=c&limit=2&obsolete=True' } };
      return { body: { images: [] } };
    });
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    const ids: string[] = [];
    for await (const img of cloud.image.images({ obsolete: 'True', limit: 2 })) ids.push(img.id);
    expect(ids).toEqual(['a', 'b', 'c']);
    const pages = fake!.requests.filter((x) => x.path === '/image/v2/images');
    expect(pages.map((x) => x.query.toString())).toEqual([
      'obsolete=True&limit=2',
      'marker=b&limit=2&obsolete=True',
      'marker=c&limit=2&obsolete=True',
    ]);
    cloud.close();
  });

  it('finds a network whose name holds a slash and an address by name, never putting the name in the path', async () => {
    await fakeCloud({ network: '/net/' }, (r) => {
      if (r.path === '/net/v2.0/networks' && r.query.get('name') === 'internet_192.0.2.0/27') {
        return { body: { networks: [{ id: 'a1b2c3d4-0000-4000-8000-000000000001', name: 'internet_192.0.2.0/27' }] } };
      }
      return { status: 404, body: { NeutronError: { message: 'not found' } } };
    });
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    expect((await cloud.network.findNetwork('internet_192.0.2.0/27')).id).toBe('a1b2c3d4-0000-4000-8000-000000000001');
    const sent = fake!.requests.filter((x) => x.path.startsWith('/net/'));
    expect(sent.map((x) => x.url)).toEqual(['/net/v2.0/networks?name=internet_192.0.2.0%2F27']);
    cloud.close();
  });

  it('gives up on a request that exceeds the time limit with a connection error', async () => {
    await fakeCloud(
      { network: '/net' },
      () => new Promise<FakeAnswer>((res) => setTimeout(() => res({ body: { networks: [] } }), 1500)),
    );
    const cloud = await connectCloud(
      { authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD },
      { timeoutMs: 200 },
    );
    const err = await cloud.network.listNetworks().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenStackConnectionError);
    expect((err as Error).message).toMatch(/ETIMEDOUT|timeout/i);
    cloud.close();
  });

  it('stops paging when a server keeps returning the same next link', async () => {
    await fakeCloud({ network: '/net' }, () => ({
      body: { networks: [{ id: 'n1' }], networks_links: [{ rel: 'next', href: '/v2.0/networks?marker=n1' }] },
    }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    const all = await cloud.network.listNetworks();
    expect(all.length).toBe(2);
    cloud.close();
  });
});

describe('answers read whole are bounded', () => {
  const MiB = 1024 * 1024;
  /** A JSON text just over 64 MiB, as a broken or hostile cloud might send. */
  const huge = () => JSON.stringify({ images: [{ id: 'i1', name: 'x'.repeat(64 * MiB) }] });

  it('refuses a JSON answer over 64 MiB with a final error naming the service and URL', async () => {
    await fakeCloud({ image: '/glance' }, () => ({ headers: { 'Content-Type': 'application/json' }, body: huge() }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    const err = await cloud.image.getImage('i1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnexpectedResponseError);
    expect((err as Error).message).toBe(
      `Glance sent an unexpected answer: the answer to GET ${fake!.url}/glance/v2/images/i1 is larger than 64 MiB, more than any API answer needs`,
    );
    expect((err as UnexpectedResponseError).exitCode).toBe(1);
    expect(isTransient(err)).toBe(false);
    cloud.close();
  });

  it('refuses an error answer over 64 MiB to an image download the same way', async () => {
    await fakeCloud({ image: '/glance' }, () => ({ status: 500, body: huge() }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    const err = await cloud.image.downloadImage('i1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnexpectedResponseError);
    expect((err as Error).message).toContain(`GET ${fake!.url}/glance/v2/images/i1/file is larger than 64 MiB`);
    cloud.close();
  });

  it('streams image data of any size', async () => {
    const data = 'd'.repeat(65 * MiB);
    await fakeCloud({ image: '/glance' }, () => ({
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
    }));
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });
    let bytes = 0;
    for await (const chunk of await cloud.image.downloadImage('i1')) bytes += (chunk as Buffer).length;
    expect(bytes).toBe(data.length);
    cloud.close();
  });
});

describe('error mapping', () => {
  const glance404 =
    '<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  No image found with ID 5b1b.<br /><br />\n\n\n </body>\n</html>';

  it('reads the message out of Nova, Neutron, Keystone and Glance error bodies', () => {
    expect(extractServerMessage('{"badRequest": {"message": "Invalid imageRef provided.", "code": 400}}')).toBe(
      'Invalid imageRef provided.',
    );
    expect(
      extractServerMessage(
        '{"NeutronError": {"type": "NetworkNotFound", "message": "Network n could not be found.", "detail": ""}}',
      ),
    ).toBe('Network n could not be found.');
    expect(
      extractServerMessage(
        '{"error": {"message": "The request you have made requires authentication.", "code": 401, "title": "Unauthorized"}}',
      ),
    ).toBe('The request you have made requires authentication.');
    expect(extractServerMessage(glance404)).toBe('No image found with ID 5b1b.');
    expect(
      extractServerMessage(
        '{"message": "No image found with ID 5b1b.<br /><br />\\n\\n\\n", "code": "404 Not Found", "title": "Not Found"}',
      ),
    ).toBe('No image found with ID 5b1b.');
    expect(extractServerMessage('')).toBe('');
  });

  it('maps Glance 404 on a requested image to exit 50, Nova 400 to 60, Nova 403 to 61, anything else to 1', async () => {
    await fakeCloud({ image: '/image', compute: '/compute/v2.1', network: '/net' }, (r): FakeAnswer => {
      if (r.path.startsWith('/image/'))
        return {
          status: 404,
          headers: { 'Content-Type': 'text/html; charset=UTF-8', 'X-Openstack-Request-Id': 'req-g' },
          body: glance404,
        };
      if (r.path.endsWith('/servers'))
        return {
          status: 400,
          headers: { 'x-compute-request-id': 'req-n' },
          body: { badRequest: { message: 'Network n1 could not be found.', code: 400 } },
        };
      if (r.path.endsWith('/servers/detail')) {
        return {
          status: 403,
          body: {
            forbidden: {
              message: "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed.",
              code: 403,
            },
          },
        };
      }
      if (r.path.startsWith('/compute/'))
        return {
          status: 409,
          body: { conflictingRequest: { message: 'Cannot reboot while in state BUILD', code: 409 } },
        };
      return {
        status: 404,
        body: { NeutronError: { type: 'NetworkNotFound', message: 'Network x could not be found.', detail: '' } },
      };
    });
    const cloud = await connectCloud({ authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD });

    const g = await cloud.image.getImage('5b1b').catch((e: unknown) => e);
    expect(g).toBeInstanceOf(ImageNotFoundError);
    expect(g).toMatchObject({
      exitCode: 50,
      status: 404,
      service: 'image',
      imageId: '5b1b',
      requestId: 'req-g',
      serverMessage: 'No image found with ID 5b1b.',
    });
    expect((g as Error).message).toBe(
      `Glance answered 404 to GET ${fake!.url}/image/v2/images/5b1b: No image found with ID 5b1b. (request req-g)`,
    );

    const listed = await cloud.image.listImages().catch((e: unknown) => e);
    expect(listed).toBeInstanceOf(OpenStackHttpError);
    expect(listed).not.toBeInstanceOf(ImageNotFoundError);
    expect(listed).toMatchObject({ exitCode: 1 });

    const bad = await cloud.compute
      .createServer({ name: 'x', imageRef: 'i', flavorRef: 'f', networks: [{ uuid: 'n1' }] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(NovaBadRequestError);
    expect(bad).toMatchObject({ exitCode: 60, requestId: 'req-n' });
    expect((bad as Error).message).toContain('Network n1 could not be found.');

    const forbidden = await cloud.compute.listServers({ all_tenants: true }).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(NovaForbiddenError);
    expect(forbidden).toMatchObject({ exitCode: 61 });
    expect((forbidden as Error).message).toContain('get_all_tenants');

    await expect(cloud.compute.reboot('s1')).rejects.toMatchObject({
      exitCode: 1,
      status: 409,
      message: expect.stringContaining('Cannot reboot while in state BUILD'),
    });
    await expect(cloud.network.getNetwork('x')).rejects.toMatchObject({ exitCode: 1, status: 404, service: 'network' });
    cloud.close();
  });

  it('reports an unreachable service as a connection error naming the URL', async () => {
    await fakeCloud({ image: '/image' }, () => ({}));
    const cloud = await connectCloud({
      authUrl: `${fake!.url}/v3`,
      username: 'demo',
      password: PASSWORD,
      endpointOverrides: { image: 'http://127.0.0.1:1/' },
    });
    const err = await cloud.image.getImage('i1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenStackConnectionError);
    expect((err as Error).message).toMatch(
      /Cannot reach Glance for GET http:\/\/127\.0\.0\.1:1\/v2\/images\/i1: .*ECONNREFUSED/,
    );
    cloud.close();
  });
});

describe('secrets stay out of debug output and errors', () => {
  it('prints method, URL and status of every request with tokens, passwords and secrets redacted', async () => {
    const lines: string[] = [];
    await fakeCloud({ compute: '/compute/v2.1', image: '/image' }, (r) => {
      if (r.path.endsWith('/servers'))
        return { status: 202, body: { server: { id: 's1', adminPass: 'AdminPass-from-nova', links: [] } } };
      return { status: 404, body: { itemNotFound: { message: `token ${TOKEN} not found`, code: 404 } } };
    });
    const cloud = await connectCloud(
      { authUrl: `${fake!.url}/v3`, username: 'demo', password: PASSWORD, projectName: 'demo' },
      { debug: (l) => lines.push(l) },
    );
    await cloud.compute.createServer({
      name: 'vm',
      imageRef: 'i',
      flavorRef: 'f',
      networks: 'none',
      user_data: '#!/bin/sh\necho private-user-data',
    });
    const err = await cloud.compute.getServer('s9').catch((e: unknown) => e);
    const all = lines.join('\n');
    expect(all).toContain(`REQ: POST ${fake!.url}/v3/auth/tokens`);
    expect(all).toMatch(new RegExp(`RESP: 201 POST ${fake!.url}/v3/auth/tokens \\(\\d+ ms\\)`));
    expect(all).toContain(`RESP: 202 POST ${fake!.url}/compute/v2.1/servers`);
    expect(all).toContain(`RESP: 404 GET ${fake!.url}/compute/v2.1/servers/s9`);
    expect(all).toContain('"X-Auth-Token":"***"');
    expect(all).toContain('"x-subject-token":"***"');
    expect(all).toContain('"password":"***"');
    for (const secret of [
      TOKEN,
      PASSWORD,
      'AdminPass-from-nova',
      Buffer.from('#!/bin/sh\necho private-user-data').toString('base64'),
    ]) {
      expect(all).not.toContain(secret);
      expect((err as Error).message).not.toContain(secret);
      expect(inspect(err, { depth: 10 })).not.toContain(secret);
      expect(JSON.stringify(err)).not.toContain(secret);
    }
    expect((err as Error).message).toContain('token *** not found');
    cloud.close();
  });

  it('redacts the application credential secret and a v2.0 token id', async () => {
    const lines: string[] = [];
    fake = await startFakeServer((r) => {
      if (r.path === '/v2.0/tokens')
        return {
          body: {
            access: {
              token: { id: 'v2-token-id-abcdef', expires: new Date(Date.now() + 3600_000).toISOString() },
              serviceCatalog: [],
            },
          },
        };
      return { status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([]) };
    });
    (
      await connectCloud(
        {
          authUrl: `${fake.url}/v3`,
          applicationCredentialId: 'ac',
          applicationCredentialSecret: 'app-cred-secret-value',
        },
        { debug: (l) => lines.push(l) },
      )
    ).close();
    (
      await connectCloud(
        { authUrl: `${fake.url}/v2.0`, username: 'demo', password: PASSWORD },
        { debug: (l) => lines.push(l) },
      )
    ).close();
    const all = lines.join('\n');
    expect(all).toContain('"secret":"***"');
    expect(all).toContain('"id":"***"');
    for (const secret of ['app-cred-secret-value', 'v2-token-id-abcdef', PASSWORD, TOKEN])
      expect(all).not.toContain(secret);
  });
});

describe('TLS options', () => {
  let dir: string;
  let cert = '';
  let key = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const keystone = () =>
    startFakeServer(() => ({ status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([]) }), { key, cert });

  it('refuses a self-signed certificate by default', async () => {
    fake = await keystone();
    const err = await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenStackConnectionError);
    expect((err as Error).message).toMatch(/self.signed|SELF_SIGNED/i);
  });

  it('accepts it with insecure, with its file as cacert, or with a directory holding it', async () => {
    fake = await keystone();
    (await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD, insecure: true })).close();
    (
      await connectCloud({
        authUrl: `${fake.url}/v3`,
        username: 'demo',
        password: PASSWORD,
        cacert: path.join(dir, 'cert.pem'),
      })
    ).close();
    (await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD, cacert: dir })).close();
    expect(fake.requests).toHaveLength(3);
  });
});
