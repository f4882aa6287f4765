/** Nova flavors: list and detail (public/private, minRam/minDisk, sorting, pages), show, extra specs, admin create/delete. */
import { HttpError, Reply, Request, Router, isObject, readJson } from './http';
import {
  MALFORMED,
  Microversion,
  NovaRegion,
  adminOnly,
  atLeast,
  invalid,
  onlyKeys,
  requestedVersion,
} from './nova-api';
import { Flavor, uuid } from './state';

export function flavorRoutes(router: Router, nova: NovaRegion): void {
  const { cloud } = nova;
  const rs = () => nova.rs();
  const base = () => nova.base();

  const flavorLinks = (f: Flavor) => [
    { rel: 'self', href: `${base()}/v2.1/flavors/${f.id}` },
    { rel: 'bookmark', href: `${base()}/flavors/${f.id}` },
  ];
  const flavorJson = (f: Flavor, v: Microversion, detail: boolean) => {
    if (!detail)
      return {
        id: f.id,
        name: f.name,
        links: flavorLinks(f),
        ...(atLeast(v, '2.55') ? { description: f.description } : {}),
      };
    return {
      id: f.id,
      name: f.name,
      ram: f.ram,
      disk: f.disk,
      vcpus: f.vcpus,
      swap: atLeast(v, '2.75') ? f.swap : f.swap || '',
      'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
      'OS-FLV-DISABLED:disabled': f.disabled,
      'os-flavor-access:is_public': f.is_public,
      rxtx_factor: f.rxtx_factor,
      links: flavorLinks(f),
      ...(atLeast(v, '2.55') ? { description: f.description } : {}),
      ...(atLeast(v, '2.61') ? { extra_specs: f.extra_specs } : {}),
    };
  };
  const findFlavor = (id: string): Flavor => {
    const f = rs().flavors.find((x) => x.id === id);
    if (!f) throw new HttpError(404, `Flavor ${id} could not be found.`);
    return f;
  };

  const listFlavors =
    (detail: boolean) =>
    (req: Request): Reply => {
      const ctx = cloud.authenticate(req);
      const v = requestedVersion(req);
      const isPublic = req.query.get('is_public');
      let flavors = rs().flavors.filter((f) => !f.disabled);
      if (!ctx.isAdmin || isPublic === null || ['true', 't', '1', 'yes', 'y'].includes(isPublic.toLowerCase())) {
        flavors = flavors.filter((f) => f.is_public || (ctx.isAdmin && isPublic?.toLowerCase() === 'none'));
      } else if (['false', 'f', '0', 'no', 'n'].includes(isPublic.toLowerCase())) {
        flavors = flavors.filter((f) => !f.is_public);
      }
      const minRam = req.query.get('minRam');
      const minDisk = req.query.get('minDisk');
      if (minRam !== null) {
        if (!/^\d+$/.test(minRam)) throw new HttpError(400, `Invalid minRam filter [${minRam}]`);
        flavors = flavors.filter((f) => f.ram >= Number(minRam));
      }
      if (minDisk !== null) {
        if (!/^\d+$/.test(minDisk)) throw new HttpError(400, `Invalid minDisk filter [${minDisk}]`);
        flavors = flavors.filter((f) => f.disk >= Number(minDisk));
      }
      const sortKey = req.query.get('sort_key') ?? 'flavorid';
      const sortDir = req.query.get('sort_dir') ?? 'asc';
      const keyOf = (f: Flavor): string | number =>
        sortKey === 'flavorid' || sortKey === 'id'
          ? f.id
          : ((f as unknown as Record<string, string | number>)[sortKey] ?? '');
      flavors = [...flavors].sort((a, b) => {
        const x = keyOf(a);
        const y = keyOf(b);
        const c =
          typeof x === 'number' && typeof y === 'number'
            ? x - y
            : String(x).localeCompare(String(y), undefined, { numeric: true });
        return sortDir === 'desc' ? -c : c;
      });
      const { page, links } = nova.paginate(req, flavors, (f) => f.id, 'flavors');
      return { status: 200, body: { flavors: page.map((f) => flavorJson(f, v, detail)), ...links } };
    };
  router.add('GET', '/v2.1/flavors', listFlavors(false));
  router.add('GET', '/v2.1/flavors/detail', listFlavors(true));
  router.add('GET', '/v2.1/flavors/:id', (req, p): Reply => {
    cloud.authenticate(req);
    return { status: 200, body: { flavor: flavorJson(findFlavor(p.id), requestedVersion(req), true) } };
  });
  router.add('GET', '/v2.1/flavors/:id/os-extra_specs', (req, p): Reply => {
    cloud.authenticate(req);
    return { status: 200, body: { extra_specs: findFlavor(p.id).extra_specs } };
  });
  router.add('GET', '/v2.1/flavors/:id/os-extra_specs/:key', (req, p): Reply => {
    cloud.authenticate(req);
    const f = findFlavor(p.id);
    if (!(p.key in f.extra_specs)) throw new HttpError(404, `Flavor ${p.id} has no extra specs with key ${p.key}.`);
    return { status: 200, body: { [p.key]: f.extra_specs[p.key] } };
  });
  router.add('POST', '/v2.1/flavors/:id/os-extra_specs', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    adminOnly(ctx, 'os_compute_api:os-flavor-extra-specs:create');
    const f = findFlavor(p.id);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.extra_specs))
      throw invalid('extra_specs', body, "'extra_specs' is a required property");
    for (const [k, val] of Object.entries(body.extra_specs)) {
      if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean')
        throw invalid(
          `extra_specs/${k}`,
          val,
          `${JSON.stringify(val)} is not of type 'string', 'integer', 'number', 'boolean'`,
        );
      f.extra_specs[k] = String(val);
    }
    cloud.changed();
    return { status: 200, body: { extra_specs: f.extra_specs } };
  });
  router.add('POST', '/v2.1/flavors', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    adminOnly(ctx, 'os_compute_api:os-flavor-manage:create');
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.flavor)) throw invalid('flavor', body, "'flavor' is a required property");
    const f = body.flavor;
    const allowed = [
      'name',
      'id',
      'ram',
      'vcpus',
      'disk',
      'OS-FLV-EXT-DATA:ephemeral',
      'swap',
      'rxtx_factor',
      'os-flavor-access:is_public',
      'description',
    ];
    onlyKeys('flavor', f, allowed);
    if (typeof f.name !== 'string' || !f.name.trim())
      throw invalid('flavor/name', f.name, "'name' is a required property");
    for (const k of ['ram', 'vcpus', 'disk']) {
      if (f[k] === undefined) throw invalid('flavor', f, `'${k}' is a required property`);
      if (!Number.isInteger(Number(f[k])) || Number(f[k]) < (k === 'disk' ? 0 : 1))
        throw invalid(`flavor/${k}`, f[k], `${JSON.stringify(f[k])} is not of type 'integer', 'string'`);
    }
    const id = f.id === undefined || f.id === null ? uuid() : String(f.id);
    if (rs().flavors.some((x) => x.id === id)) throw new HttpError(409, `Flavor with ID ${id} already exists.`);
    if (rs().flavors.some((x) => x.name === f.name))
      throw new HttpError(409, `Flavor with name ${String(f.name)} already exists.`);
    const flavor: Flavor = {
      id,
      name: f.name,
      ram: Number(f.ram),
      vcpus: Number(f.vcpus),
      disk: Number(f.disk),
      ephemeral: Number(f['OS-FLV-EXT-DATA:ephemeral'] ?? 0),
      swap: Number(f.swap ?? 0),
      rxtx_factor: Number(f.rxtx_factor ?? 1),
      is_public: f['os-flavor-access:is_public'] !== false,
      disabled: false,
      description: typeof f.description === 'string' ? f.description : null,
      extra_specs: {},
    };
    rs().flavors.push(flavor);
    cloud.changed();
    return { status: 200, body: { flavor: flavorJson(flavor, v, true) } };
  });
  router.add('DELETE', '/v2.1/flavors/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    adminOnly(ctx, 'os_compute_api:os-flavor-manage:delete');
    const f = findFlavor(p.id);
    rs().flavors = rs().flavors.filter((x) => x !== f);
    cloud.changed();
    return { status: 202 };
  });
}
