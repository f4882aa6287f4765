/**
 * Nova v2.1 for one region: version documents and limits here; flavors,
 * keypairs, servers (create, read, actions, interfaces) and the boot of a
 * server each in a module of their own (nova-*.ts), sharing nova-api.ts.
 */
import { Cloud } from './cloud';
import { Reply, Router } from './http';
import { actionRoutes } from './nova-actions';
import { MAX_VERSION, MIN_VERSION, NovaHooks, NovaRegion } from './nova-api';
import { Boots } from './nova-boot';
import { flavorRoutes } from './nova-flavors';
import { interfaceRoutes } from './nova-interfaces';
import { keypairRoutes } from './nova-keypairs';
import { serverCreateRoute } from './nova-server-create';
import { serverRoutes } from './nova-servers';

export { requestedVersion, versionHeaders } from './nova-api';

export interface NovaService {
  router: Router;
  /** Continues boots that a previous process left unfinished. */
  resume(): void;
  stopTimers(): void;
}

export function novaRoutes(cloud: Cloud, region: string, hooks: NovaHooks): NovaService {
  const nova = new NovaRegion(cloud, region, hooks);
  const rs = () => nova.rs();
  const base = () => nova.base();
  const boots = new Boots(nova);
  const router = new Router();

  const versionDoc = () => ({
    id: 'v2.1',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${base()}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  });

  router.add('GET', '', (): Reply => ({
    status: 200,
    body: {
      versions: [
        {
          id: 'v2.0',
          status: 'SUPPORTED',
          version: '',
          min_version: '',
          updated: '2011-01-21T11:33:21Z',
          links: [{ rel: 'self', href: `${base()}/v2/` }],
        },
        { ...versionDoc(), 'media-types': undefined },
      ],
    },
  }));
  router.add('GET', '/v2.1', (): Reply => ({ status: 200, body: { version: versionDoc() } }));

  flavorRoutes(router, nova);
  keypairRoutes(router, nova);
  serverCreateRoute(router, nova, boots);
  serverRoutes(router, nova, boots);
  interfaceRoutes(router, nova);
  actionRoutes(router, nova, boots);

  router.add('GET', '/v2.1/limits', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const mine = rs().servers.filter((s) => s.project_id === ctx.project.id);
    return {
      status: 200,
      body: {
        limits: {
          rate: [],
          absolute: {
            maxTotalInstances: 100,
            maxTotalCores: 200,
            maxTotalRAMSize: 512000,
            maxServerMeta: 128,
            maxServerGroups: 10,
            maxServerGroupMembers: 10,
            maxTotalKeypairs: 100,
            totalInstancesUsed: mine.length,
            totalCoresUsed: mine.reduce((n, s) => n + (rs().flavors.find((f) => f.id === s.flavor_id)?.vcpus ?? 0), 0),
            totalRAMUsed: mine.reduce((n, s) => n + (rs().flavors.find((f) => f.id === s.flavor_id)?.ram ?? 0), 0),
            totalServerGroupsUsed: 0,
          },
        },
      },
    };
  });

  return {
    router,
    resume: () => boots.resume(),
    stopTimers: () => boots.stopTimers(),
  };
}
