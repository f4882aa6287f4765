/**
 * Upload benchmark: the client's streamed, hashed, verified upload against a
 * plain `fs.createReadStream(file).pipe(http.request(...))` to the same local
 * server, measured in the same run. Prints throughput and the ratio.
 *
 * The server runs in this process and hashes in both cases, so the ratio shows
 * what the client's own hashing, counting and checks cost.
 *
 * `npm run bench -- upload` runs it alone (BENCH_UPLOAD_MIB sets the file size).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectCloud } from '../openstack';
import { BenchRow, median } from './support';

interface Stored {
  id: string;
  status: string;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  size: number | null;
}

/** Keystone + a Glance that hashes what it receives and keeps nothing. */
async function startServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const images = new Map<string, Stored>();
  let url = '';
  const server = http.createServer((req, res) => {
    const md5 = createHash('md5');
    const sha = createHash('sha512');
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      md5.update(c);
      sha.update(c);
      size += c.length;
      if (size < 65536) chunks.push(c);
    });
    req.on('end', () => {
      const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      const p = (req.url ?? '').split('?')[0];
      if (p === '/v3/auth/tokens') {
        return send(
          201,
          {
            token: {
              expires_at: new Date(Date.now() + 3600_000).toISOString(),
              project: { id: 'p', name: 'p' },
              user: { id: 'u', name: 'u' },
              roles: [],
              catalog: [{ type: 'image', endpoints: [{ interface: 'public', region_id: 'R', url }] }],
            },
          },
          { 'X-Subject-Token': 'bench-token' },
        );
      }
      if (p === '/v2/images' && req.method === 'POST') {
        const img: Stored = {
          id: `i${images.size}`,
          status: 'queued',
          checksum: null,
          os_hash_algo: null,
          os_hash_value: null,
          size: null,
        };
        images.set(img.id, img);
        return send(201, img);
      }
      const m = /^\/v2\/images\/([^/]+)(\/file)?$/.exec(p);
      const img = m ? images.get(m[1]) : undefined;
      if (m?.[2] === '/file' && req.method === 'PUT') {
        if (img)
          Object.assign(img, {
            status: 'active',
            checksum: md5.digest('hex'),
            os_hash_algo: 'sha512',
            os_hash_value: sha.digest('hex'),
            size,
          });
        return send(204);
      }
      if (img) return send(200, img);
      return send(404, { message: 'not found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function plainUpload(url: string, file: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/v2/images/baseline/file`,
      { method: 'PUT', headers: { 'Content-Length': String(size), 'Content-Type': 'application/octet-stream' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve());
      },
    );
    req.on('error', reject);
    fs.createReadStream(file, { highWaterMark: 1 << 20 }).pipe(req);
  });
}

/** Median seconds of both uploads of a file of mib MiB, and the client's peak memory growth. */
export async function uploadBench(mib: number, rounds: number): Promise<BenchRow[]> {
  const size = mib * 1024 * 1024;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-bench-'));
  const file = path.join(dir, 'image.raw');
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < mib; i++) {
    for (let j = 0; j < block.length; j += 4096) block.writeUInt32LE((i * 7919 + j) >>> 0, j);
    fs.writeSync(fd, block);
  }
  fs.closeSync(fd);
  const server = await startServer();
  const cloud = await connectCloud({ authUrl: `${server.url}/v3`, username: 'bench', password: 'bench-password' });
  try {
    const base: number[] = [];
    const ours: number[] = [];
    let peakRss = 0;
    for (let r = 0; r < rounds; r++) {
      let t = process.hrtime.bigint();
      await plainUpload(server.url, file, size);
      base.push(Number(process.hrtime.bigint() - t) / 1e9);
      const img = await cloud.image.createImage({ name: `bench-${r}` });
      const rssBefore = process.memoryUsage().rss;
      t = process.hrtime.bigint();
      await cloud.image.uploadImage(img.id, file, {
        onProgress: () => (peakRss = Math.max(peakRss, process.memoryUsage().rss - rssBefore)),
      });
      ours.push(Number(process.hrtime.bigint() - t) / 1e9);
    }
    const b = median(base);
    const o = median(ours);
    return [
      {
        bench: `upload ${mib} MiB: uploadImage (md5 + sha512 + verify)`,
        figure: o,
        reference: 'fs.createReadStream → http.request',
        referenceFigure: b,
        note: `${(mib / o).toFixed(0)} vs ${(mib / b).toFixed(0)} MiB/s; peak RSS growth ${(peakRss / 1048576).toFixed(1)} MiB`,
      },
    ];
  } finally {
    cloud.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
