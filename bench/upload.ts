/**
 * Upload benchmark: the client's streamed, hashed, verified upload against
 * `curl -T` of the same file to the same endpoint, the bundled emulator's
 * Glance running in a process of its own (it hashes and stores what it
 * receives in both cases), alternately in the same run. Prints throughput and
 * the ratio of throughputs (≥ 0.95 is the target).
 *
 * `npm run bench -- upload` runs it alone (BENCH_UPLOAD_MIB sets the file size).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectCloud } from '../openstack';
import { startEmulatorProcess } from './emulator';
import { BenchRow, median } from './support';

/** A file of mib MiB whose content differs from block to block (nothing compresses or dedupes it). */
export function writeBenchFile(file: string, mib: number): void {
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < mib; i++) {
    for (let j = 0; j < block.length; j += 4096) block.writeUInt32LE((i * 7919 + j) >>> 0, j);
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
}

function curlUpload(url: string, token: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'curl',
      [
        '-sS',
        '-f',
        '-o',
        '/dev/null',
        '-T',
        file,
        '-H',
        `X-Auth-Token: ${token}`,
        '-H',
        'Content-Type: application/octet-stream',
        url,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`curl exited ${code}: ${err}`))));
  });
}

/** Median seconds of both uploads of a file of mib MiB, and the client's peak memory growth. */
export async function uploadBench(mib: number, rounds: number): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-bench-'));
  const file = path.join(dir, 'image.raw');
  writeBenchFile(file, mib);
  const emu = await startEmulatorProcess();
  const cloud = await connectCloud({
    authUrl: emu.authUrl,
    username: emu.admin.username,
    password: emu.admin.password,
    projectName: emu.admin.projectName,
    userDomainName: 'Default',
    projectDomainName: 'Default',
    regionName: 'RegionOne',
  });
  try {
    const newImage = async (name: string) =>
      (await cloud.image.createImage({ name, disk_format: 'raw', container_format: 'bare' })).id;
    const token = await cloud.identity.token();
    const glance = await cloud.image.http.baseUrl();
    const base: number[] = [];
    const ours: number[] = [];
    let peakRss = 0;
    for (let r = 0; r < rounds; r++) {
      const plainId = await newImage(`bench-curl-${r}`);
      let t = process.hrtime.bigint();
      await curlUpload(`${glance}/images/${plainId}/file`, token, file);
      base.push(Number(process.hrtime.bigint() - t) / 1e9);
      await cloud.image.deleteImage(plainId);
      const id = await newImage(`bench-${r}`);
      const rssBefore = process.memoryUsage().rss;
      t = process.hrtime.bigint();
      const result = await cloud.image.uploadImage(id, file, {
        pollMs: 50,
        onProgress: () => (peakRss = Math.max(peakRss, process.memoryUsage().rss - rssBefore)),
      });
      ours.push(Number(process.hrtime.bigint() - t) / 1e9);
      if (!result.verified.md5 || !result.verified.sha512) throw new Error('the upload was not verified');
      await cloud.image.deleteImage(id);
    }
    const b = median(base);
    const o = median(ours);
    return [
      {
        bench: `upload ${mib} MiB to the emulator: uploadImage (md5 + sha512 + verify)`,
        figure: mib / o,
        unit: 'MiB/s',
        reference: 'curl -T, same file and endpoint',
        referenceFigure: mib / b,
        target: '≥ 0.95',
        note: `${o.toFixed(2)} vs ${b.toFixed(2)} s; peak RSS growth ${(peakRss / 1048576).toFixed(1)} MiB`,
      },
    ];
  } finally {
    cloud.close();
    await emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
