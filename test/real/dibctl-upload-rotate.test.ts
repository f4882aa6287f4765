/**
 * `dibctl upload` and `dibctl rotate` end to end against the real Keystone and
 * Glance, with the emulator as the compute cloud whose servers rotate checks:
 * uploads land in the real Glance verified and with their attributes, a second
 * upload obsoletes the first, and rotate deletes only obsolete images that no
 * server uses. Every image and server made here is removed afterwards.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILD_ID_PROPERTY } from '../../activities/image-upload';
import { Cloud, Image } from '../../openstack';
import { runDibctl } from '../support/cli';
import { useDibctlBesideRealStack } from './beside-real-stack';
import { Who, cloudPool, describeReal, stack, user } from './stack';

const NAME = 'Real Base Image';
const DEMO_OBSOLETE = 'Obsolete Real Demo Image';
const IMAGE_BYTES = 1024 * 1024 + 17;
const DRY_HEADER = "Images are obsolete and unused, but wouldn't be removed per --dry-run:";
const HEADER = 'Images are obsolete and unused and will be removed:';

function keystoneOf(who: Who): string[] {
  const u = user(who);
  return [
    '  keystone:',
    `    auth_url: ${stack!.keystone.authUrl}`,
    `    username: ${u.username}`,
    `    password: ${JSON.stringify(u.password)}`,
    `    project_name: ${u.projectName}`,
    `    user_domain_name: ${u.userDomainName}`,
    `    project_domain_name: ${u.projectDomainName}`,
    `    region_name: ${stack!.region}`,
  ];
}

describeReal('dibctl upload and rotate with the real Keystone and Glance and the emulated Nova', () => {
  const real = useDibctlBesideRealStack({ bootDelayMs: 100 });
  const pool = cloudPool();
  let dir: string;
  let admin: Cloud;
  let demo: Cloud;
  const servers: string[] = [];
  /** Image ids in upload order. */
  const uploaded: string[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-real-publish-'));
    fs.writeFileSync(path.join(dir, 'base.qcow2'), randomBytes(IMAGE_BYTES));
    fs.writeFileSync(
      path.join(dir, 'images.yaml'),
      [
        'base:',
        '  filename: base.qcow2',
        '  glance:',
        `    name: ${NAME}`,
        '    properties: {build: 7, gpu: false}',
        '    tags: [base]',
        '    min_disk: 1',
        '    min_ram: 64',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(dir, 'upload.yaml'),
      [
        'real:',
        ...keystoneOf('admin'),
        '  glance:',
        '    properties: {region: real}',
        '    tags: [prod]',
        'member:',
        ...keystoneOf('demo'),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    admin = await pool.connect('admin');
    demo = await pool.connect('demo');
  });

  afterAll(async () => {
    try {
      for (const id of servers) {
        await admin.compute.deleteServer(id, { ignoreMissing: true });
        await admin.compute.waitForServerDeleted(id, { timeoutMs: 30_000, pollMs: 200 });
      }
      // the admin sees every project's images: whatever this suite made goes
      const mine = (i: Image) =>
        [NAME, `Obsolete ${NAME}`, DEMO_OBSOLETE].includes(String(i.name)) ||
        String(i[BUILD_ID_PROPERTY] ?? '').startsWith('dibctl-upload-base-');
      for (const img of (await admin.image.listImages({ limit: 1000 })).filter(mine)) {
        if (img.protected) await admin.image.updateImage(img.id, { protected: false });
        await admin.image.deleteImage(img.id, { ignoreMissing: true });
      }
    } finally {
      pool.closeAll();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const cli = (args: string[]) => runDibctl(args, { cwd: dir, env: real().cliEnv(), timeoutMs: 150_000 });
  const named = async (name: string) =>
    (await admin.image.listImages({ name, owner: user('admin').projectId, limit: 1000 })).map((i) => i.id).sort();

  async function upload(): Promise<{ id: string; stdout: string }> {
    const r = await cli(['upload', 'base', 'real']);
    expect({ code: r.code, errors: r.stderr.match(/Error.*/g) ?? [] }).toEqual({ code: 0, errors: [] });
    const m = new RegExp(`^real: image (\\S+) '${NAME}' uploaded \\(1\\.0 MiB, .*checksum verified\\)$`, 'm').exec(
      r.stdout,
    );
    expect(m).not.toBeNull();
    uploaded.push(m![1]);
    return { id: m![1], stdout: r.stdout };
  }

  it('upload creates exactly one active image in the real Glance, checksum verified, with string properties, tags, min_disk and min_ram', async () => {
    const { id } = await upload();
    expect(await named(NAME)).toEqual([id]);
    const img = await admin.image.getImage(id);
    const data = fs.readFileSync(path.join(dir, 'base.qcow2'));
    expect(img).toMatchObject({
      status: 'active',
      size: IMAGE_BYTES,
      checksum: createHash('md5').update(data).digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: createHash('sha512').update(data).digest('hex'),
      // not public: shared, as dibctl published it
      visibility: 'shared',
      protected: false,
      owner: user('admin').projectId,
      min_disk: 1,
      min_ram: 64,
      disk_format: 'qcow2',
      container_format: 'bare',
      build: '7',
      gpu: 'false',
      region: 'real',
    });
    expect(img.obsolete).toBeUndefined();
    expect(String(img[BUILD_ID_PROPERTY])).toMatch(/^dibctl-upload-base-real-/);
    expect([...img.tags].sort()).toEqual(['base', 'prod']);
  });

  it("a second upload of the same label renames the first 'Obsolete <name>' with obsolete=true in the real Glance", async () => {
    const [first] = uploaded;
    const { id: second, stdout } = await upload();
    expect(stdout).toContain(`real: image ${first} marked obsolete ('Obsolete ${NAME}')`);
    expect(await named(NAME)).toEqual([second]);
    expect(await named(`Obsolete ${NAME}`)).toEqual([first]);
    const old = await admin.image.getImage(first);
    expect(old).toMatchObject({ name: `Obsolete ${NAME}`, obsolete: 'true', status: 'active' });
    expect((await admin.image.getImage(second)).obsolete).toBeUndefined();
  });

  it('rotate --dry-run names only the obsolete image no server uses and deletes nothing', async () => {
    const [first, second] = uploaded;
    const { id: third } = await upload();
    expect(await named(`Obsolete ${NAME}`)).toEqual([first, second].sort());
    // a server on the emulated Nova booted from the first, now obsolete, image
    const net = real().emu.networks[stack!.region].id;
    const s = await admin.compute.createServer({
      name: 'uses-obsolete-image',
      imageRef: first,
      flavorRef: '1',
      networks: [{ uuid: net }],
    });
    servers.push(s.id);
    await admin.compute.waitForServerStatus(s.id, 'ACTIVE', { timeoutMs: 30_000, pollMs: 200 });

    const r = await cli(['rotate', 'real', '--dry-run']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `${DRY_HEADER}\n${second}\n` });
    for (const id of [first, second, third]) expect((await admin.image.findImage(id))?.status).toBe('active');
  });

  it('rotate deletes only the unused obsolete image and keeps the one a server was booted from and the current one', async () => {
    const [first, second, third] = uploaded;
    const r = await cli(['rotate', 'real']);
    expect({ code: r.code, stdout: r.stdout, notRemoved: r.stderr.match(/Not removed.*/g) ?? [] }).toEqual({
      code: 0,
      stdout: `${HEADER}\n${second}\n`,
      notRemoved: [],
    });
    expect(await admin.image.findImage(second)).toBeUndefined();
    expect(await named(`Obsolete ${NAME}`)).toEqual([first]);
    expect(await named(NAME)).toEqual([third]);
  });

  it('once the server is deleted, rotate removes the obsolete image it was booted from', async () => {
    const [first, , third] = uploaded;
    const id = servers.pop()!;
    await admin.compute.deleteServer(id);
    await admin.compute.waitForServerDeleted(id, { timeoutMs: 30_000, pollMs: 200 });
    const r = await cli(['rotate', 'real']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `${HEADER}\n${first}\n` });
    expect(await admin.image.findImage(first)).toBeUndefined();
    expect(await named(NAME)).toEqual([third]);
    const again = await cli(['rotate', 'real']);
    expect({ code: again.code, stdout: again.stdout }).toEqual({
      code: 0,
      stdout: 'No unused obsolete images found.\n',
    });
  });

  it("exits 61 for a member without the right to list every project's servers, deleting nothing", async () => {
    const img = await demo.image.createImage({
      name: DEMO_OBSOLETE,
      disk_format: 'raw',
      container_format: 'bare',
      properties: { obsolete: 'true' },
    });
    const file = path.join(dir, 'demo.raw');
    fs.writeFileSync(file, randomBytes(4096));
    await demo.image.uploadImage(img.id, file);
    const r = await cli(['rotate', 'member']);
    expect(r.code).toBe(61);
    expect(r.stderr).toMatch(/^Error: Nova answered 403 .*not allowed to list the servers of every project/m);
    expect((await demo.image.getImage(img.id)).status).toBe('active');
    const dry = await cli(['rotate', 'member', '--dry-run']);
    expect(dry.code).toBe(61);
    expect(dry.stdout).toBe('');
    await demo.image.deleteImage(img.id);
  });
});
