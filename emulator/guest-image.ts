/**
 * The guest image scripts/guest-image.sh builds (a Debian root file system with
 * cloud-init and OpenSSH, and the kernel and initramfs that boot it), and how to
 * put its kernel and initramfs into an emulated Glance for images to name.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Credentials } from './index';
import { passwordToken } from './password-token';

export interface GuestImage {
  /** The root disk (qcow2). */
  disk: string;
  kernel: string;
  ramdisk: string;
  /** The kernel command line it boots with (`os_command_line`). */
  commandLine: string;
  /** The user cloud-init gives the keypair to. */
  user: string;
}

/** Where the image is cached: $DIBCTL_GUEST_IMAGE_DIR, else ~/.cache/dibctl/guest-image-v1. */
export function guestImageDir(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.DIBCTL_GUEST_IMAGE_DIR ??
    path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'dibctl', 'guest-image-v1')
  );
}

/** The built image, or undefined when it has not been built (completely) yet. */
export function guestImage(dir = guestImageDir()): GuestImage | undefined {
  if (!fs.existsSync(path.join(dir, 'ready'))) return undefined;
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'image.json'), 'utf8')) as Record<string, string>;
  return {
    disk: path.join(dir, info.disk),
    kernel: path.join(dir, info.kernel),
    ramdisk: path.join(dir, info.ramdisk),
    commandLine: info.os_command_line,
    user: info.default_user,
  };
}

/**
 * Uploads the image's kernel and initramfs to a region's Glance as `who`
 * (`aki`/`ari` images); returns the image properties that make Nova boot an
 * image with them: kernel_id, ramdisk_id, os_command_line.
 */
export async function uploadGuestKernel(
  emu: { url: string; authUrl: string },
  region: string,
  who: Credentials,
  image: GuestImage,
): Promise<Record<string, string>> {
  const auth = { 'X-Auth-Token': await passwordToken(emu.authUrl, who) };
  const base = `${emu.url}/image/${encodeURIComponent(region)}/v2/images`;
  const upload = async (name: string, file: string, format: string) => {
    const created = await fetch(base, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name, disk_format: format, container_format: format }),
    });
    if (created.status !== 201) throw new Error(`cannot create ${name}: ${created.status} ${await created.text()}`);
    const { id } = (await created.json()) as { id: string };
    const put = await fetch(`${base}/${id}/file`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: fs.readFileSync(file),
    });
    if (put.status !== 204) throw new Error(`cannot upload ${name}: ${put.status} ${await put.text()}`);
    return id;
  };
  return {
    kernel_id: await upload('dibctl-guest-kernel', image.kernel, 'aki'),
    ramdisk_id: await upload('dibctl-guest-ramdisk', image.ramdisk, 'ari'),
    os_command_line: image.commandLine,
  };
}
