/** Setting up a cloud's images and servers for rotation tests, through the real client. */
import { Emulator } from '../../emulator';
import { Cloud, Image } from '../../openstack';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const DATA = path.join(os.tmpdir(), `dibctl-rotate-data-${process.pid}.img`);

/** An active image, optionally already obsolete (with the given spelling of the flag) or protected. */
export async function makeImage(
  cloud: Cloud,
  name: string,
  opts: { obsolete?: string; protected?: boolean; visibility?: 'public' | 'private' } = {},
): Promise<Image> {
  writeFileSync(DATA, 'image data');
  const img = await cloud.image.createImage({
    name,
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: opts.visibility ?? 'public',
    ...(opts.obsolete ? { properties: { obsolete: opts.obsolete } } : {}),
  });
  await cloud.image.uploadImage(img.id, DATA);
  if (opts.protected) await cloud.image.updateImage(img.id, { protected: true });
  return cloud.image.getImage(img.id);
}

/** Boots a server from the image in the cloud's project (from BUILD on it uses the image). */
export async function bootFrom(
  cloud: Cloud,
  emu: Emulator,
  imageId: string,
  name: string,
  region = 'RegionOne',
): Promise<string> {
  const s = await cloud.compute.createServer({
    name,
    imageRef: imageId,
    flavorRef: '1',
    networks: [{ uuid: emu.networks[region].id }],
  });
  return s.id;
}

export async function deleteServer(cloud: Cloud, id: string): Promise<void> {
  await cloud.compute.deleteServer(id);
  await cloud.compute.waitForServerDeleted(id, { timeoutMs: 30_000, pollMs: 200 });
}
