/**
 * Keystone behaviour that needs exact control over the answers: version
 * discovery shapes, v2.0 catalogs, token expiry, odd catalog URLs.
 */
import { connectCloud, TokenCache } from '../../openstack';
import { AuthenticationError, CredentialsError, EndpointNotFoundError } from '../../openstack/errors';
import { FakeRequest, FakeServer, PROJECT_ID, startFakeServer, TOKEN, v3Token } from './fake-server';

const PASSWORD = 'pa55-w0rd-secret';

let fake: FakeServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function authBody(r: FakeRequest) {
  return (r.json as { auth: Record<string, unknown> }).auth;
}

describe('Keystone version discovery', () => {
  it('picks v3 from a 300 Multiple Choices list at the auth URL and authenticates with a project-scoped password', async () => {
    fake = await startFakeServer((r, s) => {
      if (r.path === '/' && r.method === 'GET') {
        return {
          status: 300,
          body: {
            versions: {
              values: [
                { id: 'v3.14', status: 'stable', links: [{ rel: 'self', href: 'http://internal-only:5000/v3/' }] },
                { id: 'v2.0', status: 'deprecated', links: [{ rel: 'self', href: 'http://internal-only:5000/v2.0/' }] },
              ],
            },
          },
        };
      }
      if (r.path === '/v3/auth/tokens')
        return {
          status: 201,
          headers: { 'X-Subject-Token': TOKEN },
          body: v3Token([{ type: 'image', url: `${s.url}/image` }]),
        };
      return { status: 404, body: 'nope' };
    });
    const cloud = await connectCloud({ authUrl: fake.url, username: 'demo', password: PASSWORD, projectName: 'demo' });
    expect(cloud.identity.version).toBe('3');
    expect(cloud.identity.endpoint).toBe(`${fake.url}/v3`);
    expect(cloud.identity.projectId).toBe(PROJECT_ID);
    expect(authBody(fake.requests[1])).toEqual({
      identity: {
        methods: ['password'],
        password: { user: { name: 'demo', password: PASSWORD, domain: { id: 'default' } } },
      },
      scope: { project: { name: 'demo', domain: { id: 'default' } } },
    });
    cloud.close();
  });

  it('falls back to v2.0 when the auth URL offers only v2.0 and reads the v2.0 catalog', async () => {
    fake = await startFakeServer((r, s) => {
      if (r.path === '/' && r.method === 'GET')
        return { status: 200, body: { version: { id: 'v2.0', status: 'stable', links: [] } } };
      if (r.path === '/v2.0/tokens') {
        return {
          body: {
            access: {
              token: {
                id: TOKEN,
                expires: new Date(Date.now() + 3600_000).toISOString(),
                tenant: { id: PROJECT_ID, name: 'demo' },
              },
              user: { id: 'u1', name: 'demo', roles: [{ name: 'admin' }] },
              serviceCatalog: [
                {
                  type: 'image',
                  name: 'glance',
                  endpoints: [
                    {
                      region: 'RegionOne',
                      publicURL: `${s.url}/pub`,
                      internalURL: `${s.url}/int`,
                      adminURL: `${s.url}/adm`,
                    },
                  ],
                },
              ],
            },
          },
        };
      }
      return { status: 404, body: 'nope' };
    });
    const cloud = await connectCloud({
      authUrl: `${fake.url}/`,
      username: 'demo',
      password: PASSWORD,
      projectName: 'demo',
    });
    expect(cloud.identity.version).toBe('2.0');
    expect(authBody(fake.requests[1])).toEqual({
      passwordCredentials: { username: 'demo', password: PASSWORD },
      tenantName: 'demo',
    });
    expect(await cloud.identity.endpointFor('image')).toBe(`${fake.url}/pub`);
    expect(await cloud.identity.endpointFor('image', { interface: 'internalURL' })).toBe(`${fake.url}/int`);
    expect(cloud.identity.authInfo.roles).toEqual(['admin']);
    cloud.close();
  });

  it('uses the version in the auth URL without asking, and a forced version replaces it', async () => {
    fake = await startFakeServer((r) => {
      if (r.path === '/v2.0/tokens') return { body: { access: { token: { id: TOKEN }, serviceCatalog: [] } } };
      if (r.path === '/v3/auth/tokens')
        return { status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([]) };
      return { status: 404, body: 'nope' };
    });
    const a = await connectCloud({ authUrl: `${fake.url}/v3/`, username: 'demo', password: PASSWORD });
    expect(fake.requests.map((r) => r.path)).toEqual(['/v3/auth/tokens']);
    a.close();
    const b = await connectCloud({
      authUrl: `${fake.url}/v3`,
      identityApiVersion: '2.0',
      username: 'demo',
      password: PASSWORD,
    });
    expect(b.identity.version).toBe('2.0');
    expect(fake.requests[1].path).toBe('/v2.0/tokens');
    b.close();
  });

  it('assumes v3 when the auth URL answers discovery with an error', async () => {
    fake = await startFakeServer((r) => {
      if (r.path === '/v3/auth/tokens')
        return { status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([]) };
      return { status: 404, body: 'nope' };
    });
    const cloud = await connectCloud({ authUrl: fake.url, username: 'demo', password: PASSWORD });
    expect(cloud.identity.version).toBe('3');
    cloud.close();
  });
});

describe('Keystone v3 credentials', () => {
  it('sends an application credential by id without a scope', async () => {
    fake = await startFakeServer(() => ({ status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([]) }));
    const cloud = await connectCloud({
      authUrl: `${fake.url}/v3`,
      applicationCredentialId: 'ac1',
      applicationCredentialSecret: 's3cr3t-value',
      projectName: 'ignored',
    });
    expect(authBody(fake.requests[0])).toEqual({
      identity: { methods: ['application_credential'], application_credential: { id: 'ac1', secret: 's3cr3t-value' } },
    });
    cloud.close();
  });

  it('sends an application credential by name with its user and domain', async () => {
    fake = await startFakeServer(() => ({ status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([]) }));
    const cloud = await connectCloud({
      authUrl: `${fake.url}/v3`,
      applicationCredentialName: 'ci',
      applicationCredentialSecret: 's3cr3t-value',
      username: 'demo',
      userDomainName: 'Users',
    });
    expect(authBody(fake.requests[0])).toEqual({
      identity: {
        methods: ['application_credential'],
        application_credential: {
          name: 'ci',
          secret: 's3cr3t-value',
          user: { name: 'demo', domain: { name: 'Users' } },
        },
      },
    });
    cloud.close();
  });

  it('scopes by project id, by project name in its own domain, or by domain', async () => {
    fake = await startFakeServer(() => ({ status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([]) }));
    const base = { authUrl: `${fake.url}/v3`, userId: 'u1', password: PASSWORD };
    (await connectCloud({ ...base, projectId: 'p1' })).close();
    (await connectCloud({ ...base, projectName: 'demo', projectDomainId: 'd7', userDomainName: 'Other' })).close();
    (await connectCloud({ ...base }, { domainScope: { name: 'Default' } })).close();
    expect(fake.requests.map((r) => authBody(r).scope)).toEqual([
      { project: { id: 'p1' } },
      { project: { name: 'demo', domain: { id: 'd7' } } },
      { domain: { name: 'Default' } },
    ]);
    expect((authBody(fake.requests[0]).identity as { password: unknown }).password).toEqual({
      user: { id: 'u1', password: PASSWORD },
    });
  });

  it('refuses missing passwords and application credentials on v2.0 with exit 12 before sending anything', async () => {
    fake = await startFakeServer(() => ({ status: 500 }));
    await expect(connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo' })).rejects.toMatchObject({ exitCode: 12 });
    await expect(
      connectCloud({ authUrl: `${fake.url}/v2.0`, applicationCredentialId: 'x', applicationCredentialSecret: 'yyyy' }),
    ).rejects.toBeInstanceOf(CredentialsError);
    expect(fake.requests).toHaveLength(0);
  });

  it("maps a Keystone 401 to exit 20 with Keystone's message and without the password", async () => {
    fake = await startFakeServer(() => ({
      status: 401,
      headers: { 'x-openstack-request-id': 'req-abc' },
      body: {
        error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
      },
    }));
    const err = await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthenticationError);
    const e = err as AuthenticationError;
    expect(e.exitCode).toBe(20);
    expect(e.status).toBe(401);
    expect(e.requestId).toBe('req-abc');
    expect(e.message).toContain('The request you have made requires authentication.');
    expect(e.message).toContain('req-abc');
    expect(JSON.stringify(e) + String(e.stack)).not.toContain(PASSWORD);
  });
});

describe('service catalog', () => {
  const catalog = (url: string) => [
    { type: 'image', url: `${url}/r1-public`, region: 'RegionOne' },
    { type: 'image', url: `${url}/r1-internal`, region: 'RegionOne', interface: 'internal' },
    { type: 'image', url: `${url}/r2-public`, region: 'RegionTwo' },
  ];

  it('chooses the endpoint by type, interface and region', async () => {
    fake = await startFakeServer((_r, s) => ({
      status: 201,
      headers: { 'X-Subject-Token': TOKEN },
      body: v3Token(catalog(s.url)),
    }));
    const cloud = await connectCloud({
      authUrl: `${fake.url}/v3`,
      username: 'demo',
      password: PASSWORD,
      regionName: 'RegionTwo',
    });
    expect(await cloud.identity.endpointFor('image')).toBe(`${fake.url}/r2-public`);
    expect(await cloud.identity.endpointFor('image', { region: 'RegionOne', interface: 'internal' })).toBe(
      `${fake.url}/r1-internal`,
    );
    cloud.close();
  });

  it('names the regions and types it knows when nothing matches', async () => {
    fake = await startFakeServer((_r, s) => ({
      status: 201,
      headers: { 'X-Subject-Token': TOKEN },
      body: v3Token(catalog(s.url)),
    }));
    const cloud = await connectCloud({
      authUrl: `${fake.url}/v3`,
      username: 'demo',
      password: PASSWORD,
      regionName: 'Nowhere',
    });
    await expect(cloud.identity.endpointFor('image')).rejects.toThrow(
      /region 'Nowhere' not found \(regions: RegionOne, RegionTwo\)/,
    );
    await expect(cloud.identity.endpointFor('compute')).rejects.toBeInstanceOf(EndpointNotFoundError);
    await expect(cloud.identity.endpointFor('compute')).rejects.toThrow(/the catalog lists: image/);
    await expect(cloud.image.getImage('x')).rejects.toMatchObject({ exitCode: 1 });
    cloud.close();
  });
});

describe('tokens', () => {
  it('reuses one token for many requests', async () => {
    fake = await startFakeServer((r, s) => {
      if (r.path === '/v3/auth/tokens')
        return { status: 201, headers: { 'X-Subject-Token': TOKEN }, body: v3Token([{ type: 'network', url: s.url }]) };
      return { body: { networks: [] } };
    });
    const cloud = await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD });
    await Promise.all([cloud.network.listNetworks(), cloud.network.listNetworks(), cloud.network.listNetworks()]);
    expect(fake.requests.filter((r) => r.path === '/v3/auth/tokens')).toHaveLength(1);
    expect(
      fake.requests.filter((r) => r.path === '/v2.0/networks').every((r) => r.headers['x-auth-token'] === TOKEN),
    ).toBe(true);
    cloud.close();
  });

  it('authenticates again before a request when the token is about to expire', async () => {
    let issued = 0;
    fake = await startFakeServer((r, s) => {
      if (r.path === '/v3/auth/tokens') {
        issued += 1;
        return {
          status: 201,
          headers: { 'X-Subject-Token': `${TOKEN}-${issued}` },
          body: v3Token([{ type: 'network', url: s.url }], issued === 1 ? 5_000 : 3600_000),
        };
      }
      return { body: { networks: [] } };
    });
    const cloud = await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD });
    await cloud.network.listNetworks();
    expect(issued).toBe(2);
    expect(fake.requests.find((r) => r.path === '/v2.0/networks')?.headers['x-auth-token']).toBe(`${TOKEN}-2`);
    cloud.close();
  });

  it('authenticates once more when a service refuses the token, and gives up after the second refusal', async () => {
    let issued = 0;
    let refuse = 1;
    fake = await startFakeServer((r, s) => {
      if (r.path === '/v3/auth/tokens') {
        issued += 1;
        return {
          status: 201,
          headers: { 'X-Subject-Token': `${TOKEN}-${issued}` },
          body: v3Token([{ type: 'network', url: s.url }]),
        };
      }
      if (refuse > 0) {
        refuse -= 1;
        return {
          status: 401,
          body: { error: { message: 'The request you have made requires authentication.', code: 401 } },
        };
      }
      return { body: { networks: [{ id: 'n1', name: 'net' }] } };
    });
    const cloud = await connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD });
    expect((await cloud.network.listNetworks()).map((n) => n.id)).toEqual(['n1']);
    expect(issued).toBe(2);
    refuse = 2;
    await expect(cloud.network.listNetworks()).rejects.toMatchObject({ status: 401, service: 'network', exitCode: 1 });
    expect(issued).toBe(3);
    cloud.close();
  });
});

describe('tokens shared between the clients of a process', () => {
  /** A Keystone that issues numbered tokens (lifetime per token), and a network service that refuses the listed ones. */
  async function keystone(lifetimeMs: (n: number) => number = () => 3600_000) {
    const refused = new Set<string>();
    let issued = 0;
    fake = await startFakeServer((r, s) => {
      if (r.path === '/v3/auth/tokens') {
        issued += 1;
        return {
          status: 201,
          headers: { 'X-Subject-Token': `${TOKEN}-${issued}` },
          body: v3Token([{ type: 'network', url: s.url }], lifetimeMs(issued)),
        };
      }
      if (refused.has(String(r.headers['x-auth-token'])))
        return { status: 401, body: { error: { message: 'The request you have made requires authentication.' } } };
      return { body: { networks: [] } };
    });
    return { refused, issued: () => issued, url: `${fake.url}/v3` };
  }

  it('authenticates once for clients with the same credentials, once more for others', async () => {
    const k = await keystone();
    const tokenCache = new TokenCache();
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const c = await connectCloud({ authUrl: k.url, username: 'demo', password: PASSWORD }, { tokenCache });
      await c.network.listNetworks();
      clients.push(c);
    }
    expect(k.issued()).toBe(1);
    // another password, user or project is another token
    for (const other of [{ password: 'other' }, { username: 'alt' }, { projectName: 'alt' }]) {
      clients.push(
        await connectCloud({ authUrl: k.url, username: 'demo', password: PASSWORD, ...other }, { tokenCache }),
      );
    }
    expect(k.issued()).toBe(4);
    // without the cache a client authenticates on its own
    clients.push(await connectCloud({ authUrl: k.url, username: 'demo', password: PASSWORD }));
    expect(k.issued()).toBe(5);
    clients.forEach((c) => c.close());
  });

  it('forgets a token a service refused, so the next client authenticates anew', async () => {
    const k = await keystone();
    const tokenCache = new TokenCache();
    const auth = { authUrl: k.url, username: 'demo', password: PASSWORD };
    const first = await connectCloud(auth, { tokenCache });
    k.refused.add(`${TOKEN}-1`);
    await first.network.listNetworks();
    expect(k.issued()).toBe(2);
    const second = await connectCloud(auth, { tokenCache });
    await second.network.listNetworks();
    expect(k.issued()).toBe(2);
    expect(fake!.requests.filter((r) => r.path === '/v2.0/networks').at(-1)?.headers['x-auth-token']).toBe(
      `${TOKEN}-2`,
    );
    first.close();
    second.close();
  });

  it('hands out no token that expires within the reuse margin', async () => {
    // the first token lives 2 minutes, under the 5-minute margin
    const k = await keystone((n) => (n === 1 ? 120_000 : 3600_000));
    const tokenCache = new TokenCache();
    const auth = { authUrl: k.url, username: 'demo', password: PASSWORD };
    (await connectCloud(auth, { tokenCache })).close();
    (await connectCloud(auth, { tokenCache })).close();
    expect(k.issued()).toBe(2);
    (await connectCloud(auth, { tokenCache })).close();
    expect(k.issued()).toBe(2);
  });
});
