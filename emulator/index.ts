/**
 * An OpenStack cloud in one process: Keystone, Glance, Nova and Neutron over
 * HTTP with the real JSON shapes, servers reachable over SSH on loopback
 * addresses, fault knobs, and state that can outlive restarts.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../temporal/free-port';
import { Cloud } from './cloud';
import { ApiService, FaultSettings, Faults, validateFaults } from './faults';
import { glanceRoutes } from './glance';
import {
  HttpError,
  Reply,
  Request,
  Router,
  ServiceName,
  errorBody,
  glanceErrorFormat,
  isObject,
  readJson,
  sleep,
} from './http';
import { ExternalAccount, ExternalIdentityOptions, RealKeystone } from './external';
import { keystoneRoutes } from './keystone';
import { neutronRoutes } from './neutron';
import { NovaService, novaRoutes, requestedVersion, versionHeaders } from './nova';
import { seedState } from './seed';
import { QemuGuests, qemuMissing } from './qemu';
import { qemuSpec } from './qemu-spec';
import { Guests } from './ssh';
import { CloudState, Server, loadState, uuid } from './state';

export type { FaultSettings } from './faults';
export type { CloudState } from './state';

interface EmulatorOptions {
  /** Address the API listens on (default 127.0.0.1). */
  host?: string;
  /** API port (default: a free one). */
  port?: number;
  /** Region names in the catalog (default RegionOne and RegionTwo). Ignored when a state file already exists. */
  regions?: string[];
  /** Persist the state to this JSON file, and load it at start when it exists. */
  stateFile?: string;
  /** Where image data and per-server directories live (default: a temporary directory removed at stop). */
  dataDir?: string;
  /** Lifetime of issued tokens (default 3600 s). */
  tokenTtlSeconds?: number;
  /** The port every server's SSH endpoint listens on at its own address (default 22 as root, else a free port). */
  sshPort?: number;
  /** Initial fault knobs. */
  faults?: Partial<FaultSettings>;
  /**
   * Use a real Keystone instead of the emulated one: tokens are validated there,
   * Nova and Neutron are registered in its catalog (public endpoints, one per
   * region; removed at stop) and the emulated Keystone is not served.
   */
  identity?: ExternalIdentityOptions;
  /** `external`: images come from the Glance in the real Keystone's catalog and the emulated Glance is not served (needs `identity`). */
  imageService?: 'emulated' | 'external';
  /**
   * What a booted server is: `host` (the default) answers SSH at its address with a
   * shell on this host; `qemu` is a QEMU virtual machine of the server's image with a
   * config drive, reachable at its fixed IP (needs root, QEMU and genisoimage; a fresh
   * state then gets private networks instead of loopback ones).
   */
  guests?: 'host' | 'qemu';
}

export interface Credentials {
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  userId: string;
  projectId: string;
}

interface EmulatorFaults {
  /** Changes some knobs (unknown knobs and wrong types throw); returns all knobs. */
  set(changes: Partial<FaultSettings>): FaultSettings;
  /** Back to a well-behaved cloud. */
  reset(): FaultSettings;
  current(): FaultSettings;
}

export interface Emulator {
  /** Base URL of the API (Keystone answers at its root). */
  url: string;
  /** Keystone v3 auth URL (…/v3). */
  authUrl: string;
  /** Keystone v2.0 auth URL (…/v2.0). */
  authUrlV2: string;
  regions: string[];
  /** Admin user in the admin project. */
  admin: Credentials;
  /** A member (not admin) of another project. */
  user: Credentials;
  /** An application credential of `user`, scoped to its project. */
  applicationCredential: { id: string; name: string; secret: string };
  /** The shared network every project can boot on, per region (its subnet is in 127.0.0.0/8). */
  networks: Record<string, { id: string; name: string; cidr: string }>;
  /** Port of the servers' SSH endpoints. */
  sshPort: number;
  faults: EmulatorFaults;
  /** A deep copy of everything the cloud holds (servers, keypairs, images per region, ...). */
  state(): CloudState;
  /** An openrc snippet for one of the users. */
  openrc(who?: 'admin' | 'user', region?: string): string;
  /** A clouds.yaml document with both users as clouds `emulator-admin` and `emulator`. */
  cloudsYaml(): string;
  stop(): Promise<void>;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Splits a path into the service it addresses, the region and the rest. */
function classify(pathname: string): { service: ServiceName; region?: string; rest: string } {
  const m = /^\/(image|compute|network)\/([^/]+)(\/.*)?$/.exec(pathname);
  if (m) {
    const service = m[1] as 'image' | 'compute' | 'network';
    return { service, region: decodeURIComponent(m[2]), rest: m[3] ?? '' };
  }
  if (pathname === '/_emulator' || pathname.startsWith('/_emulator/'))
    return { service: 'emulator', rest: pathname.slice('/_emulator'.length) };
  return { service: 'identity', rest: pathname === '/' ? '' : pathname };
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  if (opts.imageService === 'external' && !opts.identity)
    throw new Error('imageService "external" needs the identity option: the image service is found in its catalog');
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const ownDataDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'openstack-emulator-'));
  fs.mkdirSync(dataDir, { recursive: true });

  const loaded = opts.stateFile ? loadState(opts.stateFile) : undefined;
  const realGuests = opts.guests === 'qemu';
  if (realGuests) {
    const missing = qemuMissing();
    if (missing) throw new Error(`real guests need QEMU: ${missing}`);
    if (opts.imageService === 'external') throw new Error('real guests boot images of the emulated Glance only');
  }
  const state = loaded ?? seedState(opts.regions ?? ['RegionOne', 'RegionTwo'], realGuests);
  const faults = new Faults();
  if (opts.faults) faults.set(opts.faults);
  const cloud = new Cloud(state, faults, {
    tokenTtlSeconds: opts.tokenTtlSeconds ?? 3600,
    stateFile: opts.stateFile,
    dataDir,
  });
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  cloud.baseUrl = url;
  const external = opts.identity ? new RealKeystone(cloud, opts.identity) : undefined;
  const externalImages = opts.imageService === 'external' ? external : undefined;
  const keystoneUri = external ? external.authUrl : `${url}/v3`;

  const sshPort = opts.sshPort ?? (isRoot() ? 22 : await freePort());
  const guests = new Guests(sshPort, path.join(dataDir, 'servers'));
  const guestKey = (region: string, id: string) => `${region}/${id}`;
  const hooks = {
    startGuest: async (region: string, s: CloudState['regions'][string]['servers'][number]) => {
      const rs = cloud.region(region);
      const kp = s.key_name ? rs.keypairs.find((k) => k.name === s.key_name && k.user_id === s.user_id) : undefined;
      await guests.start({
        id: guestKey(region, s.id),
        hostname: s.hostname,
        ip: s.addresses[0].ip,
        users: s.login_users,
        publicKey: kp?.public_key ?? null,
        impostor: faults.sshImpostor(s.name),
      });
    },
    hostKeys: (region: string, s: { id: string }) => guests.publicHostKeys(guestKey(region, s.id)),
    stopGuest: (region: string, s: { id: string }, removeFiles: boolean) =>
      guests.stop(guestKey(region, s.id), removeFiles),
    ...(externalImages ? { findImage: externalImages.findImage.bind(externalImages) } : {}),
  };
  let vms: QemuGuests | undefined;
  if (realGuests) {
    vms = new QemuGuests(path.join(dataDir, 'vms'), (key) => {
      // the guest powered itself off: Nova's power-state sync finds the server SHUTOFF
      const [region, id] = key.split('/');
      const s = cloud.region(region)?.servers.find((x) => x.id === id);
      if (!s || s.status !== 'ACTIVE') return;
      Object.assign(s, { status: 'SHUTOFF', vm_state: 'stopped', power_state: 4, task_state: null });
      cloud.changed();
    });
    const qemu = vms;
    Object.assign(hooks, {
      startGuest: (region: string, s: Server) =>
        qemu.start(qemuSpec(cloud.region(region), dataDir, s, guestKey(region, s.id), sshPort)),
      stopGuest: (region: string, s: { id: string }, removeFiles: boolean) =>
        qemu.stop(guestKey(region, s.id), removeFiles),
      hostKeys: () => [],
      console: (region: string, s: { id: string }) => qemu.console(guestKey(region, s.id)),
    });
  }

  const identity = keystoneRoutes(cloud);
  const images = new Map<string, Router>();
  const networks = new Map<string, Router>();
  const computes = new Map<string, NovaService>();
  for (const region of cloud.regionNames) {
    images.set(region, glanceRoutes(cloud, region));
    networks.set(region, neutronRoutes(cloud, region));
    computes.set(region, novaRoutes(cloud, region, hooks));
  }

  const adminRouter = new Router();
  const requireAdmin = (req: Request) => {
    if (!cloud.authenticate(req).isAdmin)
      throw new HttpError(403, 'Only admins may use the emulator control endpoint.');
  };
  adminRouter.add('GET', '/state', (req): Reply => {
    requireAdmin(req);
    return { status: 200, body: JSON.parse(JSON.stringify(cloud.state)) as unknown };
  });
  // API requests served (the control endpoint's own are not counted): what a client's work costs the cloud
  let served = 0;
  const byRoute = new Map<string, number>();
  adminRouter.add('GET', '/requests', (req): Reply => {
    requireAdmin(req);
    return { status: 200, body: { requests: served, byRoute: Object.fromEntries(byRoute) } };
  });
  adminRouter.add('GET', '/faults', (req): Reply => {
    requireAdmin(req);
    return { status: 200, body: { faults: faults.current() } };
  });
  adminRouter.add('PUT', '/faults', async (req): Promise<Reply> => {
    requireAdmin(req);
    const body = await readJson(req.raw, 'The request body is not valid JSON.');
    if (!isObject(body)) throw new HttpError(400, 'The request body must be an object of fault settings.');
    try {
      return { status: 200, body: { faults: faults.set(validateFaults(body)) } };
    } catch (err) {
      throw new HttpError(400, (err as Error).message);
    }
  });
  adminRouter.add('DELETE', '/faults', (req): Reply => {
    requireAdmin(req);
    return { status: 200, body: { faults: faults.reset() } };
  });

  const handle = async (raw: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const parsed = new URL(raw.url ?? '/', 'http://emulator');
    const { service, region, rest } = classify(parsed.pathname.replace(/\/{2,}/g, '/'));
    if (service !== 'emulator') served++;
    const acceptsJson = glanceErrorFormat(raw.headers.accept);
    const requestId = `req-${uuid()}`;
    let extraHeaders: Record<string, string> = {};
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.headersSent) return;
      const payload = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
      const hasBody = payload !== '' && status !== 204 && status !== 304;
      res.writeHead(status, {
        'x-openstack-request-id': requestId,
        ...(hasBody ? { 'Content-Type': 'application/json' } : {}),
        ...extraHeaders,
        ...headers,
        'Content-Length': String(hasBody ? Buffer.byteLength(payload) : 0),
      });
      res.end(hasBody && raw.method !== 'HEAD' ? payload : undefined);
    };
    const sendError = (status: number, message: string, kind?: string) => {
      const { body, contentType } = errorBody(service, status, message, kind, acceptsJson);
      send(status, body, {
        'Content-Type': contentType,
        ...(status === 401 && service !== 'emulator' ? { 'WWW-Authenticate': `Keystone uri="${keystoneUri}"` } : {}),
      });
    };
    try {
      const latency = faults.get('latencyMs');
      if (latency > 0) await sleep(latency);
      if (external) {
        if (service === 'identity') throw new HttpError(404, `Identity is served by ${external.authUrl}.`);
        if (service === 'image' && externalImages)
          throw new HttpError(404, 'Images are served by the image service in the catalog.');
        const header = raw.headers['x-auth-token'];
        await external.recognize(Array.isArray(header) ? header[0] : header);
      }
      let router: Router | undefined;
      if (service === 'identity') router = identity;
      else if (service === 'emulator') router = adminRouter;
      else if (region !== undefined) {
        router =
          service === 'image'
            ? images.get(region)
            : service === 'network'
              ? networks.get(region)
              : computes.get(region)?.router;
        if (!router) throw new HttpError(404, `The region ${region} is not served here.`);
      }
      if (service === 'compute') {
        try {
          extraHeaders = versionHeaders(requestedVersion({ headers: raw.headers } as Request));
        } catch {
          extraHeaders = versionHeaders({ major: 2, minor: 1 });
        }
      }
      if (service !== 'emulator' && faults.shouldFail(service as ApiService, region)) {
        throw new HttpError(503, 'The server is currently unavailable. Please try again at a later time.');
      }
      const match = router!.match(raw.method ?? 'GET', rest);
      if (match === undefined) throw new HttpError(404, 'The resource could not be found.');
      if (match === 'method') throw new HttpError(405, 'The method specified is not allowed for this resource.');
      if (service !== 'emulator') {
        const route = `${service} ${match.route}`;
        byRoute.set(route, (byRoute.get(route) ?? 0) + 1);
      }
      const req: Request = {
        method: raw.method ?? 'GET',
        path: rest,
        query: parsed.searchParams,
        headers: raw.headers,
        raw,
        base: url,
      };
      const reply = await match.handler(req, match.params, res);
      if (reply.handled) return;
      send(reply.status, reply.body, reply.headers);
    } catch (err) {
      if (err instanceof HttpError) return sendError(err.status, err.message, err.kind);
      if (raw.destroyed || res.headersSent) {
        res.destroy();
        return;
      }
      sendError(500, 'An unexpected error prevented the server from fulfilling your request.');
    } finally {
      if (!res.headersSent && !res.destroyed) sendError(500, 'No answer was produced for this request.');
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  // Servers of a persisted state come back as they were
  for (const region of cloud.regionNames) {
    for (const s of cloud.region(region).servers) {
      if (s.status !== 'ACTIVE' || s.ssh_disabled || !s.addresses.length) continue;
      try {
        await hooks.startGuest(region, s);
      } catch (err) {
        Object.assign(s, {
          status: 'ERROR',
          vm_state: 'error',
          fault: {
            code: 500,
            message: `SSH endpoint could not start: ${(err as Error).message}`,
            details: '',
            created: new Date().toISOString(),
          },
        });
      }
    }
    computes.get(region)!.resume();
  }
  cloud.flush();

  // Beside a real Keystone: who the accounts are there, and the catalog entries of this emulator
  let externalAccounts: Pick<Emulator, 'admin' | 'user' | 'applicationCredential'> | undefined;
  if (external && opts.identity) {
    const ids = opts.identity;
    try {
      const account = async (a: ExternalAccount): Promise<Credentials> => {
        const who = await external.whoIs(a);
        return {
          username: a.username,
          password: a.password,
          projectName: a.projectName,
          userDomainName: a.userDomainName ?? 'Default',
          projectDomainName: a.projectDomainName ?? 'Default',
          userId: who.userId,
          projectId: who.projectId,
        };
      };
      const adminAccount = await account(ids.adminCredentials);
      const userAccount = ids.userCredentials ? await account(ids.userCredentials) : adminAccount;
      await external.register(url, cloud.regionNames);
      const applicationCredential =
        ids.applicationCredential ??
        (await external.createApplicationCredential(
          ids.userCredentials ?? ids.adminCredentials,
          `openstack-emulator-${uuid().slice(0, 8)}`,
        ));
      externalAccounts = { admin: adminAccount, user: userAccount, applicationCredential };
    } catch (err) {
      await external.unregister().catch(() => undefined);
      for (const c of computes.values()) c.stopTimers();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await guests.stopAll();
      if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  const admin = state.users.find((u) => u.name === 'admin')!;
  const demo = state.users.find((u) => u.name === 'demo')!;
  const cred = (u: typeof admin): Credentials => {
    const project = state.projects.find((p) => p.id === u.default_project_id)!;
    return {
      username: u.name,
      password: u.password,
      projectName: project.name,
      userDomainName: 'Default',
      projectDomainName: 'Default',
      userId: u.id,
      projectId: project.id,
    };
  };
  const appCred = state.application_credentials.find((a) => a.user_id === demo.id)!;
  const sharedNets: Emulator['networks'] = {};
  for (const region of cloud.regionNames) {
    const rs = cloud.region(region);
    const net = rs.networks.find((n) => n.shared && n.subnets.length)!;
    sharedNets[region] = { id: net.id, name: net.name, cidr: rs.subnets.find((s) => s.network_id === net.id)!.cidr };
  }

  let stopped = false;
  const emulator: Emulator = {
    url,
    authUrl: external ? external.authUrl : `${url}/v3`,
    authUrlV2: external ? external.authUrl.replace(/\/v3$/, '/v2.0') : `${url}/v2.0`,
    regions: cloud.regionNames,
    admin: externalAccounts?.admin ?? cred(admin),
    user: externalAccounts?.user ?? cred(demo),
    applicationCredential: externalAccounts?.applicationCredential ?? {
      id: appCred.id,
      name: appCred.name,
      secret: appCred.secret,
    },
    networks: sharedNets,
    sshPort,
    faults: {
      set: (changes) => faults.set(changes),
      reset: () => faults.reset(),
      current: () => faults.current(),
    },
    state: () => JSON.parse(JSON.stringify(cloud.state)) as CloudState,
    openrc(who = 'user', region = cloud.regionNames[0]) {
      const c = who === 'admin' ? emulator.admin : emulator.user;
      return [
        `export OS_AUTH_URL=${emulator.authUrl}`,
        'export OS_IDENTITY_API_VERSION=3',
        `export OS_USERNAME=${c.username}`,
        `export OS_PASSWORD=${c.password}`,
        `export OS_PROJECT_NAME=${c.projectName}`,
        `export OS_USER_DOMAIN_NAME=${c.userDomainName}`,
        `export OS_PROJECT_DOMAIN_NAME=${c.projectDomainName}`,
        `export OS_REGION_NAME=${region}`,
        'export OS_INTERFACE=public',
      ].join('\n');
    },
    cloudsYaml() {
      const entry = (name: string, c: Credentials) =>
        [
          `  ${name}:`,
          '    auth:',
          `      auth_url: ${emulator.authUrl}`,
          `      username: ${c.username}`,
          `      password: ${c.password}`,
          `      project_name: ${c.projectName}`,
          `      user_domain_name: ${c.userDomainName}`,
          `      project_domain_name: ${c.projectDomainName}`,
          `    region_name: ${cloud.regionNames[0]}`,
          '    interface: public',
          '    identity_api_version: 3',
        ].join('\n');
      return ['clouds:', entry('emulator', emulator.user), entry('emulator-admin', emulator.admin)].join('\n') + '\n';
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of computes.values()) c.stopTimers();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await guests.stopAll();
      await vms?.stopAll();
      cloud.flush();
      if (ownDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
      if (external) await external.unregister();
    },
  };
  return emulator;
}
