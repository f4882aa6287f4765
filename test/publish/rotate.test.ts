/**
 * `dibctl rotate`, `rotate-single` and `mark-obsolete` end to end, with the
 * reference's exact output lines.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { OBSOLETED_FOR_PROPERTY, ObsoletedImage, createPublishActivities } from '../../activities/publish';
import { envWithout } from '../config/helpers';
import { usePublishFixture } from './fixture';
import { bootFrom, deleteServer, makeImage } from './images';

jest.setTimeout(120_000);

const f = usePublishFixture();

const DRY_HEADER = "Images are obsolete and unused, but wouldn't be removed per --dry-run:";
const HEADER = 'Images are obsolete and unused and will be removed:';

describe('dibctl mark-obsolete', () => {
  it("renames the image 'Obsolete <name>' and sets obsolete=true", async () => {
    const admin = await f().cloud('admin');
    const img = await makeImage(admin, 'Marked Image');
    const r = await f().cli(['mark-obsolete', 'one', img.id]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`Image ${img.id} is obsolete ('Obsolete Marked Image')`);
    const after = await admin.image.getImage(img.id);
    expect(after.name).toBe('Obsolete Marked Image');
    expect(after.obsolete).toBe('true');
  });

  it('exits 50 when the image does not exist', async () => {
    const r = await f().cli(['mark-obsolete', 'one', '00000000-0000-4000-8000-000000000000']);
    expect(r.code).toBe(50);
    expect(r.stderr).toMatch(/^Error: .*404/m);
  });
});

describe('dibctl rotate', () => {
  it("exits 61 without the right to list every project's servers, deleting nothing", async () => {
    const demo = await f().cloud('user');
    const img = await makeImage(demo, 'Obsolete Demo Image', { obsolete: 'true', visibility: 'private' });
    const r = await f().cli(['rotate', 'demo']);
    expect(r.code).toBe(61);
    expect(r.stderr).toMatch(/^Error: Nova answered 403 .*not allowed to list the servers of every project/m);
    expect(await demo.image.findImage(img.id)).toBeDefined();
  });

  it('says so when there is nothing to remove', async () => {
    const r = await f().cli(['rotate', 'two']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('No unused obsolete images found.\n');
  });

  it('lists, deletes unused obsolete images and keeps used, protected and current ones', async () => {
    const admin = await f().cloud('admin');
    const demo = await f().cloud('user');
    const unused = await makeImage(admin, 'Obsolete Web', { obsolete: 'true' });
    const capital = await makeImage(admin, 'Obsolete Db', { obsolete: 'True' });
    const used = await makeImage(admin, 'Obsolete Cache', { obsolete: 'true' });
    const guarded = await makeImage(admin, 'Obsolete Vault', { obsolete: 'true', protected: true });
    const current = await makeImage(admin, 'Web');
    // a server of another project keeps its image
    const server = await bootFrom(demo, f().emu, used.id, 'uses-cache');
    try {
      const dry = await f().cli(['rotate', 'one', '--dry-run']);
      expect(dry.code).toBe(0);
      const dryLines = dry.stdout.trim().split('\n');
      expect(dryLines[0]).toBe(DRY_HEADER);
      expect(dryLines.slice(1).sort()).toEqual(expect.arrayContaining([unused.id, capital.id].sort()));
      expect(dryLines).not.toContain(used.id);
      expect(dryLines).not.toContain(guarded.id);
      expect(await admin.image.findImage(unused.id)).toBeDefined();

      const r = await f().cli(['rotate', 'one']);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe(HEADER);
      expect(lines.slice(1)).toEqual(dryLines.slice(1));
      expect(await admin.image.findImage(unused.id)).toBeUndefined();
      expect(await admin.image.findImage(capital.id)).toBeUndefined();
      expect(await admin.image.findImage(used.id)).toBeDefined();
      expect(await admin.image.findImage(guarded.id)).toBeDefined();
      expect(await admin.image.findImage(current.id)).toBeDefined();
    } finally {
      await deleteServer(demo, server);
    }
  });

  it('rotate-single only removes the obsolete copies of that image', async () => {
    const admin = await f().cloud('admin');
    const mine = await makeImage(admin, 'Obsolete Base Image', { obsolete: 'true' });
    const other = await makeImage(admin, 'Obsolete Other Image', { obsolete: 'true' });
    const dry = await f().cli(['rotate-single', 'base', 'one', '--dry-run']);
    expect(dry.stdout).toBe(`${DRY_HEADER}\n${mine.id}\n`);
    const r = await f().cli(['rotate-single', 'base', 'one']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${HEADER}\n${mine.id}\n`);
    expect(await admin.image.findImage(mine.id)).toBeUndefined();
    expect(await admin.image.findImage(other.id)).toBeDefined();
  });

  it('exits 11 for an environment that is not configured', async () => {
    const r = await f().cli(['rotate', 'nowhere']);
    expect(r.code).toBe(11);
  });
});

describe('obsoleting the older copies after an upload', () => {
  it('a retried step still hands over the copies an earlier attempt renamed before it died', async () => {
    const admin = await f().cloud('admin');
    const first = await makeImage(admin, 'Retried Image');
    const second = await makeImage(admin, 'Retried Image');
    const current = await makeImage(admin, 'Retried Image');
    // the earlier attempt renamed the first copy, then its worker died
    await admin.image.updateImage(first.id, {
      name: 'Obsolete Retried Image',
      properties: { obsolete: 'true', [OBSOLETED_FOR_PROPERTY]: current.id },
    });
    const acts = createPublishActivities({ env: envWithout() });
    const input = { environment: 'one', config: { cwd: f().tree.root }, name: 'Retried Image', keepId: current.id };
    const out: ObsoletedImage[] = await new MockActivityEnvironment().run(acts.obsoleteOlderImages, input);
    expect(out.map((o) => o.id).sort()).toEqual([first.id, second.id].sort());
    expect(out.every((o) => o.name === 'Obsolete Retried Image')).toBe(true);
    // yet another attempt finds the same two and renames nothing more
    const again: ObsoletedImage[] = await new MockActivityEnvironment().run(acts.obsoleteOlderImages, input);
    expect(again.map((o) => o.id).sort()).toEqual(out.map((o) => o.id).sort());
    const after = await admin.image.getImage(second.id);
    expect(after).toMatchObject({
      name: 'Obsolete Retried Image',
      obsolete: 'true',
      [OBSOLETED_FOR_PROPERTY]: current.id,
    });
    expect((await admin.image.getImage(current.id)).name).toBe('Retried Image');
  });
});
