/**
 * Proving an obsolete image unused fails closed: a server of a Nova cell that
 * is down, a server listed without its image, a list that fails midway or
 * whose `next` link loops all keep the image with "cannot check now: ...";
 * Glance's 409 on a delete means in use. Only the environment's own project's
 * images are marked obsolete or deleted. An unused image is still deleted.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPublishActivities } from '../../activities/publish';
import { retirementWorkflowId } from '../../common/ids';
import type { RetirementStatus } from '../../workflows';
import { addImagesSignal, retirementStatusQuery, retirementWorkflow } from '../../workflows';
import { envWithout } from '../config/helpers';
import { FakeServer, startFakeServer } from '../openstack/fake-server';
import { environmentEntry, usePublishFixture } from './fixture';
import { bootFrom, deleteServer, makeImage } from './images';

jest.setTimeout(120_000);

const f = usePublishFixture();

/** How the Nova proxy in front of the emulator's RegionOne changes the server lists it passes on. */
const proxyMode: { withoutImage?: string; bootedFromVolume?: string; failSecondPage?: boolean } = {};
let proxy: FakeServer;

beforeAll(async () => {
  const emu = f().emu;
  proxy = await startFakeServer(async (req) => {
    const headers: Record<string, string> = {};
    for (const h of ['x-auth-token', 'openstack-api-version', 'x-openstack-nova-api-version']) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    if (proxyMode.failSecondPage && req.query.has('marker'))
      return {
        status: 400,
        body: { badRequest: { code: 400, message: `marker [${req.query.get('marker')}] not found` } },
      };
    const res = await fetch(`${emu.url}/compute/RegionOne${req.url}`, { method: req.method, headers });
    const text = await res.text();
    const answered = res.headers.get('openstack-api-version');
    const out = { ...(answered ? { 'OpenStack-API-Version': answered } : {}) };
    if (!req.path.endsWith('/servers/detail') || res.status !== 200)
      return { status: res.status, headers: out, body: text };
    const body = JSON.parse(text) as { servers: Record<string, unknown>[]; servers_links?: unknown };
    for (const s of body.servers) {
      if (s.id === proxyMode.withoutImage) delete s.image;
      if (s.id === proxyMode.bootedFromVolume) s.image = '';
    }
    if (proxyMode.failSecondPage && body.servers.length)
      body.servers_links = [
        { rel: 'next', href: `${proxy.url}${req.path}?all_tenants=1&marker=${String(body.servers.at(-1)!.id)}` },
      ];
    return { status: 200, headers: out, body };
  });
  const a = emu.admin;
  f().tree.write(
    'clouds.yaml',
    [
      'clouds:',
      '  proxied:',
      '    auth:',
      `      auth_url: ${emu.authUrl}`,
      `      username: ${a.username}`,
      `      password: ${a.password}`,
      `      project_name: ${a.projectName}`,
      `      user_domain_name: ${a.userDomainName}`,
      `      project_domain_name: ${a.projectDomainName}`,
      '    region_name: RegionOne',
      `    compute_endpoint_override: ${proxy.url}/v2.1`,
      '',
    ].join('\n'),
  );
  f().writeUploadConfig(
    [
      environmentEntry(emu, 'ret', 'admin', 'RegionOne', '  retire: {check_every: 1h}'),
      environmentEntry(emu, 'held', 'admin', 'RegionTwo', '  retire: {check_every: 1h}'),
      'proxied:',
      '  keystone: {cloud: proxied}',
      '  retire: {check_every: 1h}',
    ].join('\n'),
  );
});

afterAll(async () => {
  await proxy?.close();
});

afterEach(() => {
  f().emu.faults.reset();
  for (const k of Object.keys(proxyMode)) delete proxyMode[k as keyof typeof proxyMode];
});

async function status(env: string): Promise<RetirementStatus> {
  return f().temporal.client.workflow.getHandle(retirementWorkflowId(env)).query(retirementStatusQuery);
}

async function check(env: string): Promise<{ stdout: string; status: RetirementStatus }> {
  const r = await f().cli(['retirement', env, '--check-now']);
  expect(r.code).toBe(0);
  return { stdout: r.stdout, status: await status(env) };
}

function reasonOf(s: RetirementStatus, id: string): string | undefined {
  return s.held.find((h) => h.id === id)?.reason;
}

/** An obsolete image no visible server uses, held by the environment's retirement. */
async function heldImage(env: string, name: string, region: 'RegionOne' | 'RegionTwo' = 'RegionOne') {
  const admin = await f().cloud('admin', region);
  const img = await makeImage(admin, name);
  expect((await f().cli(['mark-obsolete', env, img.id])).code).toBe(0);
  return { admin, img };
}

describe('retirement keeps an image it cannot prove unused', () => {
  it('while a server is in a Nova cell that is down, then deletes the image once it is unused', async () => {
    const { admin, img } = await heldImage('ret', 'Down Cell App');
    const demo = await f().cloud('user');
    const server = await bootFrom(demo, f().emu, img.id, 'down-cell-user');
    f().emu.faults.set({ downCellServers: [server] });

    const first = await check('ret');
    expect(reasonOf(first.status, img.id)).toMatch(
      new RegExp(`^cannot check now: Nova lists server ${server} \\(project \\w+\\) with status UNKNOWN`),
    );
    expect(first.stdout).toMatch(new RegExp(`${img.id}\\s+Obsolete Down Cell App\\s+\\S+\\s+cannot check now: `));
    expect(first.status.lastCheck?.problem).toMatch(/^cannot check now: .*UNKNOWN/);
    expect(await admin.image.findImage(img.id)).toBeDefined();

    // the cell is back: the server is seen to use the image
    f().emu.faults.reset();
    expect(reasonOf((await check('ret')).status, img.id)).toBe('used by 1 server');

    await deleteServer(demo, server);
    const last = await check('ret');
    expect(last.status.lastCheck?.deleted).toContain(img.id);
    expect(await admin.image.findImage(img.id)).toBeUndefined();
  });

  it('while the servers list links back to a page already read', async () => {
    const { admin, img } = await heldImage('ret', 'Looping List App');
    f().emu.faults.set({ serversNextLinkRepeats: true });
    const s = (await check('ret')).status;
    expect(reasonOf(s, img.id)).toMatch(/^cannot check now: listing every project's servers failed.*page already read/);
    expect(await admin.image.findImage(img.id)).toBeDefined();
  });

  it('while a server is listed without its image, or the list fails midway', async () => {
    const { admin, img } = await heldImage('proxied', 'Imageless App');
    const server = await bootFrom(admin, f().emu, img.id, 'imageless');
    try {
      proxyMode.withoutImage = server;
      const s = (await check('proxied')).status;
      expect(reasonOf(s, img.id)).toBe(
        `cannot check now: Nova lists server ${server} (project ${f().emu.admin.projectId}) without its image`,
      );

      delete proxyMode.withoutImage;
      proxyMode.failSecondPage = true;
      const mid = (await check('proxied')).status;
      expect(reasonOf(mid, img.id)).toMatch(
        /^cannot check now: listing every project's servers failed after 1 page \(\d+ servers\): Nova answered 400 .*marker/,
      );
      expect(await admin.image.findImage(img.id)).toBeDefined();
    } finally {
      await deleteServer(admin, server);
    }
  });

  it('counts a server booted from a volume as using no image', async () => {
    const { admin, img } = await heldImage('proxied', 'Volume Booted App');
    const server = await bootFrom(admin, f().emu, img.id, 'from-volume');
    try {
      proxyMode.bootedFromVolume = server;
      const s = (await check('proxied')).status;
      expect(s.lastCheck?.deleted).toContain(img.id);
      expect(await admin.image.findImage(img.id)).toBeUndefined();
    } finally {
      await deleteServer(admin, server);
    }
  });

  it('while Glance answers 409 to the delete, and deletes it once Glance lets go', async () => {
    const { admin, img } = await heldImage('ret', 'Cloned App');
    f().emu.faults.set({ imageDeleteConflicts: [img.id] });
    const s = (await check('ret')).status;
    expect(reasonOf(s, img.id)).toMatch(
      new RegExp(`^in use by Glance \\(409\\): Image ${img.id} could not be deleted because it is in use`),
    );
    expect(await admin.image.findImage(img.id)).toBeDefined();

    f().emu.faults.reset();
    expect((await check('ret')).status.lastCheck?.deleted).toContain(img.id);
    expect(await admin.image.findImage(img.id)).toBeUndefined();
  });
});

describe('rotate deletes nothing it cannot prove unused', () => {
  it('exits 1 saying why while a server is in a cell that is down', async () => {
    const admin = await f().cloud('admin');
    const demo = await f().cloud('user');
    const img = await makeImage(admin, 'Obsolete Rotated Down', { obsolete: 'true' });
    const server = await bootFrom(demo, f().emu, img.id, 'rotate-down-cell');
    try {
      f().emu.faults.set({ downCellServers: [server] });
      const r = await f().cli(['rotate', 'one']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^Error: cannot check now: Nova lists server ${server} .*UNKNOWN`, 'm'));
      expect(r.stdout).toBe('');
      expect(await admin.image.findImage(img.id)).toBeDefined();

      f().emu.faults.set({ downCellServers: [], serversNextLinkRepeats: true });
      const loop = await f().cli(['rotate', 'one', '--dry-run']);
      expect(loop.code).toBe(1);
      expect(loop.stderr).toMatch(/^Error: cannot check now: .*page already read/m);
    } finally {
      f().emu.faults.reset();
      await deleteServer(demo, server);
    }
  });

  it('lists an image Glance refuses to delete (409) as not removed and exits 0', async () => {
    const admin = await f().cloud('admin', 'RegionTwo');
    const img = await makeImage(admin, 'Obsolete Rotated Clone', { obsolete: 'true' });
    const plain = await makeImage(admin, 'Obsolete Rotated Plain', { obsolete: 'true' });
    f().emu.faults.set({ imageDeleteConflicts: [img.id] });
    const r = await f().cli(['rotate', 'two']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`^Not removed: ${img.id} \\(in use by Glance \\(409\\): Image ${img.id} `, 'm'),
    );
    expect(await admin.image.findImage(img.id)).toBeDefined();
    expect(await admin.image.findImage(plain.id)).toBeUndefined();
  });
});

describe("another project's image", () => {
  it('is refused by mark-obsolete, naming both projects, and left as it was', async () => {
    const demo = await f().cloud('user');
    const img = await makeImage(demo, 'Demo Owned', { visibility: 'private' });
    const r = await f().cli(['mark-obsolete', 'one', img.id]);
    expect(r.code).toBe(1);
    const { admin, user } = f().emu;
    expect(r.stderr).toContain(
      `Not marked obsolete: image ${img.id} belongs to project ${user.projectId}, not to project ${admin.projectName} (${admin.projectId}) of upload environment 'one'`,
    );
    const after = await demo.image.getImage(img.id);
    expect(after.name).toBe('Demo Owned');
    expect(after.obsolete).toBeUndefined();
  });

  it('is kept by retirement with the reason and never deleted', async () => {
    const demo = await f().cloud('user', 'RegionTwo');
    const img = await makeImage(demo, 'Obsolete Demo Held', { obsolete: 'true', visibility: 'private' });
    await f().temporal.client.workflow.signalWithStart(retirementWorkflow, {
      workflowId: retirementWorkflowId('held'),
      taskQueue: 'dibctl',
      args: [{ environment: 'held', config: { cwd: f().tree.root } }],
      signal: addImagesSignal,
      signalArgs: [[{ id: img.id, name: 'Obsolete Demo Held' }]],
    });
    const s = (await check('held')).status;
    expect(reasonOf(s, img.id)).toBe(
      `image ${img.id} belongs to project ${f().emu.user.projectId}, not to project ${f().emu.admin.projectName} (${f().emu.admin.projectId}) of upload environment 'held'`,
    );
    expect(s.lastCheck?.deleted).toEqual([]);
    expect(await demo.image.findImage(img.id)).toBeDefined();

    // the delete step refuses it on its own too
    const acts = createPublishActivities({ env: envWithout() });
    const verdict = await new MockActivityEnvironment().run(acts.deleteUnusedImage, {
      environment: 'held',
      config: { cwd: f().tree.root },
      imageId: img.id,
    });
    expect(verdict).toEqual({ imageId: img.id, outcome: 'kept', reason: reasonOf(s, img.id) });
    expect(await demo.image.findImage(img.id)).toBeDefined();
  });
});

describe('the survey', () => {
  it('heartbeats once per page of servers', async () => {
    const acts = createPublishActivities({ env: envWithout() });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    await env.run(acts.surveyObsoleteImages, { environment: 'ret', config: { cwd: f().tree.root }, ids: [] });
    expect(beats).toContainEqual({ pages: 1, servers: expect.any(Number) });
  });
});
