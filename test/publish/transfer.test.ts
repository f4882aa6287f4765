/** `dibctl transfer`: an image streamed from one cloud (region) into another, keeping its metadata. */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { TransferResult } from '../../activities';
import { usePublishFixture } from './fixture';

jest.setTimeout(120_000);

const f = usePublishFixture();

async function sourceImage(name: string) {
  const one = await f().cloud('admin', 'RegionOne');
  const file = f().tree.path(`${name}.img`);
  writeFileSync(file, randomBytes(1024 * 1024 + 5));
  const img = await one.image.createImage({
    name,
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'shared',
    min_ram: 128,
    tags: ['golden', 'v2'],
    properties: { os_distro: 'debian', hw_disk_bus: 'scsi' },
  });
  await one.image.uploadImage(img.id, file);
  await one.image.addMember(img.id, f().emu.user.projectId);
  return one.image.getImage(img.id);
}

describe('dibctl transfer', () => {
  it('streams the data and keeps properties, tags, visibility, min_ram and members', async () => {
    const src = await sourceImage('Golden');
    const r = await f().cli(['--json', 'transfer', src.id, '--src-env', 'one', '--dst-env', 'two']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as TransferResult;
    const copy = f()
      .images('RegionTwo')
      .find((i) => i.id === result.imageId)!;
    expect(copy).toMatchObject({
      name: 'Golden',
      status: 'active',
      checksum: src.checksum,
      size: src.size,
      visibility: 'shared',
      min_ram: 128,
      disk_format: 'raw',
    });
    expect(copy.tags.sort()).toEqual(['golden', 'v2']);
    expect(copy.properties).toMatchObject({ os_distro: 'debian', hw_disk_bus: 'scsi' });
    expect(copy.members.map((m) => m.member_id)).toEqual([f().emu.user.projectId]);
    expect(result.members).toEqual([f().emu.user.projectId]);
  });

  it('with --ignore-meta and --ignore-membership copies only name, formats and data', async () => {
    const src = await sourceImage('Plain');
    const r = await f().cli([
      '--json',
      'transfer',
      src.id,
      '--src-env',
      'one',
      '--dst-env',
      'two',
      '--ignore-meta',
      '--ignore-membership',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as TransferResult;
    const copy = f()
      .images('RegionTwo')
      .find((i) => i.id === result.imageId)!;
    expect(copy).toMatchObject({
      name: 'Plain',
      checksum: src.checksum,
      visibility: 'private',
      min_ram: 0,
      tags: [],
      members: [],
    });
    expect(copy.properties.os_distro).toBeUndefined();
  });

  it('exits 50 when the source image does not exist, and refuses an ambiguous source', async () => {
    const missing = await f().cli([
      'transfer',
      '00000000-0000-4000-8000-000000000000',
      '--src-env',
      'one',
      '--dst-env',
      'two',
    ]);
    expect(missing.code).toBe(50);
    const both = await f().cli(['transfer', 'x', '--src-env', 'one', '--src-cloud', 'c', '--dst-env', 'two']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('Give exactly one of --src-env ENV or --src-cloud NAME');
  });
});
