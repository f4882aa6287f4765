/**
 * The fault knobs behind the in-use checks behave as Nova and Glance do: a down
 * cell's servers are UNKNOWN only at 2.69+ in an unfiltered, unpaged list and
 * silently missing otherwise; a repeated next link; Glance's 409 on delete.
 */
import { Emulator, startEmulator } from '../../emulator';
import { Cloud, CloudAuth, connectCloud } from '../../openstack';
import { makeImage } from '../publish/images';
import { call, login } from './client';

describe('in-use fault knobs', () => {
  let emu: Emulator;
  let cloud: Cloud;
  let imageId: string;
  let serverId: string;
  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'] });
    const a = emu.admin;
    const auth: CloudAuth = {
      authUrl: emu.authUrl,
      username: a.username,
      password: a.password,
      projectName: a.projectName,
      userDomainName: a.userDomainName,
      projectDomainName: a.projectDomainName,
      regionName: 'RegionOne',
    };
    cloud = await connectCloud(auth);
    imageId = (await makeImage(cloud, 'cell')).id;
    serverId = (
      await cloud.compute.createServer({
        name: 'in-a-cell',
        imageRef: imageId,
        flavorRef: '1',
        networks: [{ uuid: emu.networks.RegionOne.id }],
      })
    ).id;
  });
  afterAll(async () => {
    cloud?.close();
    await emu?.stop();
  });
  afterEach(() => emu.faults.reset());

  async function list(query: string, version: string) {
    const admin = await login(emu, 'admin');
    const r = await call('GET', `${admin.url('compute')}/servers/detail?${query}`, {
      token: admin.token,
      headers: { 'OpenStack-API-Version': `compute ${version}` },
    });
    expect(r.status).toBe(200);
    return r.json as { servers: Record<string, unknown>[]; servers_links?: { rel: string; href: string }[] };
  }

  test("a down cell's servers are UNKNOWN without image or flavor at 2.69, and left out otherwise", async () => {
    emu.faults.set({ downCellServers: [serverId] });
    const shown = (await list('all_tenants=1', '2.69')).servers.find((s) => s.id === serverId);
    expect(shown).toEqual({
      id: serverId,
      status: 'UNKNOWN',
      tenant_id: emu.admin.projectId,
      created: expect.any(String),
      links: expect.any(Array),
    });
    expect((await list('all_tenants=1', '2.68')).servers.some((s) => s.id === serverId)).toBe(false);
    // filters, sort or paging: Nova cannot apply them to a down cell and leaves it out
    for (const q of ['all_tenants=1&image=' + imageId, 'all_tenants=1&limit=5', 'sort_key=created_at'])
      expect((await list(q, '2.69')).servers.some((s) => s.id === serverId)).toBe(false);
    emu.faults.reset();
    expect((await list('all_tenants=1', '2.69')).servers.find((s) => s.id === serverId)).toMatchObject({
      image: { id: imageId },
    });
  });

  test('a servers list can link back to the page it just served', async () => {
    emu.faults.set({ serversNextLinkRepeats: true });
    const page = await list('all_tenants=1', '2.1');
    expect(page.servers_links).toEqual([
      { rel: 'next', href: expect.stringMatching(/\/servers\/detail\?all_tenants=1$/) },
    ]);
    const pages = cloud.compute.serverPagesOfEveryProject();
    expect((await pages.next()).value.servers.length).toBeGreaterThan(0);
    await expect(pages.next()).rejects.toThrow(/next link to a page already read/);
  });

  test('Glance answers 409 to deleting an image its store still uses, and keeps it', async () => {
    const img = await cloud.image.createImage({ name: 'cloned', disk_format: 'raw', container_format: 'bare' });
    emu.faults.set({ imageDeleteConflicts: [img.id] });
    await expect(cloud.image.deleteImage(img.id)).rejects.toMatchObject({ status: 409 });
    expect(await cloud.image.findImage(img.id)).toBeDefined();
    emu.faults.reset();
    expect(await cloud.image.deleteImage(img.id)).toBe(true);
  });

  test('the every-project listing asks for 2.69 and shows the down cell', async () => {
    emu.faults.set({ downCellServers: [serverId] });
    const servers = [];
    for await (const page of cloud.compute.serverPagesOfEveryProject()) {
      expect(page.microversion).toBe('2.69');
      servers.push(...page.servers);
    }
    expect(servers.find((s) => s.id === serverId)?.status).toBe('UNKNOWN');
  });
});
