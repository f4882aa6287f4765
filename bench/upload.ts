/**
 * Upload benchmark: the client's streamed, verified upload against `curl -T`
 * of the same file to the same endpoint, alternately in the same run, to the
 * bundled emulator's Glance in a process of its own and to a real Glance
 * (Debian's, started by scripts/real-openstack.js; BENCH_REAL_GLANCE=0 skips
 * it). Both kinds of upload dibctl makes are measured: hashing as it sends
 * and with the digests known beforehand. Prints throughput and the ratio of
 * throughputs (≥ 0.95 is the target).
 *
 * `npm run bench -- upload` runs it alone (BENCH_UPLOAD_MIB sets the file size).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cloud, Digests, hashFile } from '../openstack';
import { startEmulatorProcess } from './emulator';
import { startRealOpenStack } from './real-openstack';
import { BenchRow, adminCloud, median } from './support';

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

interface Endpoint {
  name: string;
  cloud: Cloud;
  stop(): Promise<void>;
}

/** The bundled emulator's Glance, in a process of its own. */
async function emulatorEndpoint(): Promise<Endpoint> {
  const emu = await startEmulatorProcess();
  try {
    const cloud = await adminCloud(emu, 'RegionOne');
    return { name: 'the emulator', cloud, stop: () => emu.stop() };
  } catch (err) {
    await emu.stop();
    throw err;
  }
}

/** A real Keystone and Glance, started for the bench; undefined where they cannot run. */
async function realGlanceEndpoint(): Promise<Endpoint | undefined> {
  const real = await startRealOpenStack('upload');
  if (!real) return undefined;
  try {
    const cloud = await adminCloud(real, real.region);
    return { name: 'a real Glance', cloud, stop: () => real.stop() };
  } catch (err) {
    await real.stop();
    throw err;
  }
}

/**
 * Rounds of three uploads of the same file to one endpoint, alternately:
 * `curl -T`; the client hashing (sha512, Glance's algorithm) as it sends (a
 * file's first upload, as the image test does); the client with the digests known
 * beforehand, comparing Glance's checksums with them (every region's upload
 * of a lifecycle: the tested-file check read the file once).
 */
async function uploadRows(endpoint: Endpoint, file: string, mib: number, rounds: number): Promise<BenchRow[]> {
  const { cloud } = endpoint;
  const newImage = async (name: string) =>
    (await cloud.image.createImage({ name, disk_format: 'raw', container_format: 'bare' })).id;
  const token = await cloud.identity.token();
  const glance = await cloud.image.http.baseUrl();
  const { digests } = await hashFile(file);
  const known = { md5: digests.md5, sha512: digests.sha512 };
  const base: number[] = [];
  const hashing: number[] = [];
  const knownRuns: number[] = [];
  let peakRss = 0;
  const ours = async (name: string, expected?: Digests): Promise<number> => {
    const id = await newImage(name);
    const rssBefore = process.memoryUsage().rss;
    const t = process.hrtime.bigint();
    const result = await cloud.image.uploadImage(id, file, {
      pollMs: 50,
      ...(expected ? { expected } : {}),
      onProgress: () => (peakRss = Math.max(peakRss, process.memoryUsage().rss - rssBefore)),
    });
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    if (!result.verified.sha512) throw new Error('the upload was not verified');
    await cloud.image.deleteImage(id);
    return seconds;
  };
  for (let r = 0; r < rounds; r++) {
    const plainId = await newImage(`bench-curl-${r}`);
    const t = process.hrtime.bigint();
    await curlUpload(`${glance}/images/${plainId}/file`, token, file);
    base.push(Number(process.hrtime.bigint() - t) / 1e9);
    await cloud.image.deleteImage(plainId);
    hashing.push(await ours(`bench-hashing-${r}`));
    knownRuns.push(await ours(`bench-known-${r}`, known));
  }
  const b = median(base);
  const row = (what: string, runs: number[], target: string): BenchRow => {
    const o = median(runs);
    return {
      bench: `upload ${mib} MiB to ${endpoint.name}: ${what}`,
      figure: mib / o,
      unit: 'MiB/s',
      reference: 'curl -T, same file and endpoint',
      referenceFigure: mib / b,
      target,
      note: `${o.toFixed(2)} vs ${b.toFixed(2)} s`,
    };
  };
  const last = row('publish (tested digests known, Glance verified)', knownRuns, '≥ 0.95');
  last.note += `; peak RSS growth ${(peakRss / 1048576).toFixed(1)} MiB over both kinds`;
  return [row('first upload (sha512 while sending, verified)', hashing, ''), last];
}

/** Both kinds of upload against curl, to the emulator and (where it runs) a real Glance. */
export async function uploadBench(mib: number, rounds: number): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-bench-'));
  const file = path.join(dir, 'image.raw');
  const rows: BenchRow[] = [];
  try {
    writeBenchFile(file, mib);
    for (const start of [emulatorEndpoint, realGlanceEndpoint]) {
      const endpoint = await start();
      if (!endpoint) continue;
      try {
        rows.push(...(await uploadRows(endpoint, file, mib, rounds)));
      } finally {
        endpoint.cloud.close();
        await endpoint.stop();
      }
    }
    return rows;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
