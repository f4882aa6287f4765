/**
 * Listing every project's servers for the in-use check on a cloud older than
 * Nova 2.69: the 406 is answered by asking at the default microversion once,
 * and a next link without a query is an error, not the end of the list.
 */
import { connectCloud } from '../../openstack';
import { FakeAnswer, FakeServer, startFakeServer, TOKEN, v3Token } from './fake-server';

let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function cloudWith(
  servers: (version: string | undefined, query: URLSearchParams) => { status: number; body: unknown },
) {
  fake = await startFakeServer((r, s): FakeAnswer => {
    if (r.path === '/v3/auth/tokens')
      return {
        status: 201,
        headers: { 'X-Subject-Token': TOKEN },
        body: v3Token([{ type: 'compute', url: `${s.url}/v2.1` }]),
      };
    const asked = r.headers['openstack-api-version'];
    const version = typeof asked === 'string' ? asked.replace(/^compute /, '') : undefined;
    const a = servers(version, r.query);
    const headers: Record<string, string> = {};
    if (a.status === 200 && version) headers['OpenStack-API-Version'] = `compute ${version}`;
    return { ...a, headers };
  });
  return connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: 'secret-password' });
}

const server = (id: string) => ({ id, name: id, status: 'ACTIVE', image: { id: 'img' }, flavor: {}, addresses: {} });

it('falls back to the default microversion when the cloud refuses 2.69', async () => {
  const cloud = await cloudWith((version) =>
    version === '2.69'
      ? { status: 406, body: { computeFault: { code: 406, message: 'Version 2.69 is not supported by the API.' } } }
      : { status: 200, body: { servers: [server('a')] } },
  );
  try {
    const pages = [];
    for await (const p of cloud.compute.serverPagesOfEveryProject()) pages.push(p);
    expect(pages).toEqual([{ servers: [server('a')], microversion: '2.1' }]);
    for await (const p of cloud.compute.serverPagesOfEveryProject()) expect(p.microversion).toBe('2.1');
    const asked = fake!.requests.filter((r) => r.path === '/v2.1/servers/detail');
    // 2.69 is asked for once only
    expect(asked.map((r) => r.headers['openstack-api-version'])).toEqual([
      'compute 2.69',
      'compute 2.1',
      'compute 2.1',
    ]);
    expect(asked.every((r) => r.url.endsWith('?all_tenants=1'))).toBe(true);
  } finally {
    cloud.close();
  }
});

it('refuses a next link it cannot follow', async () => {
  const cloud = await cloudWith(() => ({
    status: 200,
    body: { servers: [server('a')], servers_links: [{ rel: 'next', href: 'http://elsewhere/v2.1/servers/detail' }] },
  }));
  try {
    const pages = cloud.compute.serverPagesOfEveryProject();
    await pages.next();
    await expect(pages.next()).rejects.toThrow(/next link without a query/);
  } finally {
    cloud.close();
  }
});
