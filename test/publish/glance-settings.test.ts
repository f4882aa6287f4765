/**
 * Glance settings as dibctl users wrote them: a published image that is not
 * public is `shared` (members can be added later) unless the config says
 * `visibility: private`; an image's own glance.endpoint is where its upload
 * goes when the environment names none, and the environment's wins otherwise.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { IMAGES_YAML, environmentEntry, usePublishFixture } from './fixture';

jest.setTimeout(120_000);

const f = usePublishFixture();

/** An HTTP proxy in front of one Glance that counts the requests it passes on. */
async function countingProxy(target: string): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const base = new URL(target);
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const upstream = http.request(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: `${base.pathname.replace(/\/$/, '')}${req.url}`,
        headers: { ...req.headers, host: base.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('glance settings of published images', () => {
  const glanceUrl = () => `${f().emu.url}/image/RegionOne`;

  it('an image that is not public is published shared; private and public when configured', async () => {
    f().tree.write(
      'images.yaml',
      [
        IMAGES_YAML,
        'closed:',
        '  filename: base.qcow2',
        '  glance: { name: Closed Image, visibility: private }',
        '',
      ].join('\n'),
    );
    for (const label of ['base', 'closed', 'public']) expect((await f().cli(['upload', label, 'one'])).code).toBe(0);
    const visibility = (name: string) =>
      f()
        .images()
        .find((i) => i.name === name && !i.properties?.obsolete)?.visibility;
    expect(visibility('Base Image')).toBe('shared');
    expect(visibility('Closed Image')).toBe('private');
    expect(visibility('Public Image')).toBe('public');
  });

  it('refuses a visibility Glance does not know, naming the allowed ones', async () => {
    f().tree.write('images.yaml', `${IMAGES_YAML}odd:\n  filename: base.qcow2\n  glance: { visibility: hidden }\n`);
    const r = await f().cli(['validate']);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/odd\.glance\.visibility: must be shared, private, community or public/);
    f().tree.write('images.yaml', IMAGES_YAML);
  });

  it("uploads through the image's glance.endpoint; the environment's wins when both are set", async () => {
    const imageProxy = await countingProxy(glanceUrl());
    const envProxy = await countingProxy(glanceUrl());
    try {
      f().tree.write(
        'images.yaml',
        [
          IMAGES_YAML,
          'routed:',
          '  filename: base.qcow2',
          `  glance: { name: Routed Image, endpoint: "${imageProxy.url}" }`,
          '',
        ].join('\n'),
      );
      f().writeUploadConfig(
        environmentEntry(f().emu, 'routed-env', 'admin', 'RegionOne', '  glance:', `    endpoint: "${envProxy.url}"`),
      );
      const r = await f().cli(['upload', 'routed', 'one']);
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.code).toBe(0);
      expect(imageProxy.requests.some((q) => /^PUT \/v2\/images\/[^/]+\/file$/.test(q))).toBe(true);
      expect(envProxy.requests).toEqual([]);
      const seen = imageProxy.requests.length;

      expect((await f().cli(['upload', 'routed', 'routed-env'])).code).toBe(0);
      expect(envProxy.requests.some((q) => /^PUT \/v2\/images\/[^/]+\/file$/.test(q))).toBe(true);
      expect(imageProxy.requests.length).toBe(seen);
      expect(
        f()
          .images()
          .filter((i) => i.name === 'Routed Image'),
      ).toHaveLength(1);
    } finally {
      await imageProxy.close();
      await envProxy.close();
      f().tree.write('images.yaml', IMAGES_YAML);
      f().writeUploadConfig();
    }
  });
});
