import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { tcpAccepts } from '../../temporal/free-port';
import { call, login, until } from './client';
import { generateSshKeyPair } from '../../emulator/keys';

describe('emulator fault knobs and state', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne', 'RegionTwo'] });
  });
  afterAll(() => emu.stop());
  afterEach(() => emu.faults.reset());

  test('the control endpoint is for admins: 401 without a token, 403 for users', async () => {
    const user = await login(emu, 'user');
    expect((await call('GET', `${emu.url}/_emulator/state`)).status).toBe(401);
    expect((await call('GET', `${emu.url}/_emulator/state`, { token: user.token })).status).toBe(403);
    expect(
      (await call('PUT', `${emu.url}/_emulator/faults`, { token: user.token, body: { errorRate: 1 } })).status,
    ).toBe(403);
  });

  test('knobs set over HTTP apply and are validated; DELETE resets them', async () => {
    const admin = await login(emu, 'admin');
    const set = await call('PUT', `${emu.url}/_emulator/faults`, {
      token: admin.token,
      body: { errorRate: 1, errorServices: ['image'] },
    });
    expect(set.status).toBe(200);
    expect(set.json.faults).toMatchObject({ errorRate: 1, errorServices: ['image'] });
    const images = await call('GET', `${admin.url('image')}/v2/images`, { token: admin.token });
    expect(images.status).toBe(503);
    expect(images.json.code).toBe('503 Service Unavailable');
    expect((await call('GET', `${admin.url('compute')}/flavors`, { token: admin.token })).status).toBe(200);
    const bad = await call('PUT', `${emu.url}/_emulator/faults`, { token: admin.token, body: { errorRate: 'often' } });
    expect(bad.status).toBe(400);
    expect(
      (await call('PUT', `${emu.url}/_emulator/faults`, { token: admin.token, body: { flood: true } })).status,
    ).toBe(400);
    expect((await call('DELETE', `${emu.url}/_emulator/faults`, { token: admin.token })).json.faults.errorRate).toBe(0);
    expect((await call('GET', `${admin.url('image')}/v2/images`, { token: admin.token })).status).toBe(200);
  });

  test('a failing region answers 503 while the other region and Keystone keep working', async () => {
    emu.faults.set({ failingRegions: ['RegionTwo'] });
    const s = await login(emu, 'user');
    const two = await call('GET', `${s.url('compute', 'RegionTwo')}/servers`, { token: s.token });
    expect(two.status).toBe(503);
    expect(two.json.serviceUnavailable.code).toBe(503);
    expect(
      (await call('GET', `${s.url('network', 'RegionTwo')}/v2.0/networks`, { token: s.token })).json.NeutronError,
    ).toBeDefined();
    expect((await call('GET', `${s.url('compute', 'RegionOne')}/servers`, { token: s.token })).status).toBe(200);
  });

  test('a partial error rate fails some requests and serves the others', async () => {
    emu.faults.set({ errorRate: 0.5, errorServices: ['compute'] });
    const s = await login(emu, 'user');
    const statuses = await Promise.all(
      Array.from({ length: 60 }, () =>
        call('GET', `${s.url('compute')}/flavors`, { token: s.token }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((x) => x === 503).length).toBeGreaterThan(5);
    expect(statuses.filter((x) => x === 200).length).toBeGreaterThan(5);
    expect(new Set(statuses)).toEqual(new Set([200, 503]));
  });

  test('latency delays every answer', async () => {
    emu.faults.set({ latencyMs: 300 });
    const started = Date.now();
    await call('GET', emu.authUrl);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  test('programmatic knobs refuse unknown names and wrong types', () => {
    expect(() => emu.faults.set({ errorRate: 2 })).toThrow(/between 0 and 1/);
    expect(() => emu.faults.set({ nonsense: 1 } as never)).toThrow(/unknown fault setting/);
    expect(() => emu.faults.set({ bootErrorNamePattern: '(' })).toThrow();
  });

  test('the state snapshot is a copy that lists every region', () => {
    const snap = emu.state();
    expect(Object.keys(snap.regions)).toEqual(['RegionOne', 'RegionTwo']);
    snap.regions.RegionOne.flavors.length = 0;
    expect(emu.state().regions.RegionOne.flavors.length).toBeGreaterThan(0);
  });
});

describe('emulator persistence', () => {
  test('images, keypairs, tokens and running servers survive a restart from the state file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-persist-'));
    const stateFile = path.join(dir, 'cloud.json');
    const dataDir = path.join(dir, 'data');
    const key = generateSshKeyPair('ed25519');
    let emu = await startEmulator({ regions: ['RegionOne'], stateFile, dataDir, faults: { bootDelayMs: 50 } });
    try {
      const s = await login(emu, 'user');
      const glance = `${s.url('image')}/v2`;
      const img = await call('POST', `${glance}/images`, {
        token: s.token,
        body: { name: 'kept', disk_format: 'raw', container_format: 'bare' },
      });
      await call('PUT', `${glance}/images/${img.json.id}/file`, {
        token: s.token,
        rawBody: 'persisted bytes',
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      await call('POST', `${s.url('compute')}/os-keypairs`, {
        token: s.token,
        body: { keypair: { name: 'kk', public_key: key.public } },
      });
      const boot = await call('POST', `${s.url('compute')}/servers`, {
        token: s.token,
        body: {
          server: {
            name: 'survivor',
            imageRef: img.json.id,
            flavorRef: '1',
            key_name: 'kk',
            networks: [{ uuid: emu.networks.RegionOne.id }],
          },
        },
      });
      const id = boot.json.server.id;
      await until(async () =>
        (await call('GET', `${s.url('compute')}/servers/${id}`, { token: s.token })).json.server.status === 'ACTIVE'
          ? true
          : undefined,
      );
      const ip = emu.state().regions.RegionOne.servers[0].addresses[0].ip;
      const port = emu.sshPort;
      await emu.stop();
      expect(await tcpAccepts(ip, port, 300)).toBe(false);

      emu = await startEmulator({ stateFile, dataDir, port: Number(new URL(emu.url).port) });
      expect(emu.regions).toEqual(['RegionOne']);
      const file = await call('GET', `${glance}/images/${img.json.id}/file`, { token: s.token });
      expect(file.text).toBe('persisted bytes');
      const server = await call('GET', `${s.url('compute')}/servers/${id}`, { token: s.token });
      expect(server.json.server.status).toBe('ACTIVE');
      expect(await tcpAccepts(ip, emu.sshPort, 1000)).toBe(true);
      expect((await call('GET', `${s.url('compute')}/os-keypairs/kk`, { token: s.token })).status).toBe(200);
    } finally {
      await emu.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
