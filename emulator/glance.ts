/** Glance v2: images, their data, members, tags, deactivation, schemas. */
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { AuthContext, Cloud } from './cloud';
import { HttpError, Reply, Request, Router, isObject, nowIso, readJson, sleep } from './http';
import { Image, RegionState, uuid } from './state';

const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'];
const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'];
const VISIBILITIES = ['public', 'private', 'shared', 'community'];
/** The id of the one store image data lives in (Glance's multi-store name of the backend). */
const STORE_ID = 'file';

const READ_ONLY = [
  'checksum',
  'created_at',
  'direct_url',
  'file',
  'location',
  'locations',
  'os_hash_algo',
  'os_hash_value',
  'schema',
  'self',
  'size',
  'status',
  'updated_at',
  'virtual_size',
  'stores',
];
const RESERVED = ['deleted', 'deleted_at'];
const CORE = [
  'id',
  'name',
  'visibility',
  'protected',
  'os_hidden',
  'owner',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'tags',
];
const LIST_PARAMS = ['limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'member_status'];
const PATCH_MEDIA = ['application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch'];
const API_LIMIT_MAX = 1000;
const LIMIT_DEFAULT = 25;

/** Waits ms, or until the request is destroyed (the emulator stops); a client that leaves is seen only by reading. */
function stalled(req: http.IncomingMessage, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      req.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    req.on('close', done);
  });
}

const schemaError = (detail: string) => new HttpError(400, `Provided object does not match schema 'image': ${detail}`);

/** Checks one core attribute's value the way Glance's image schema does. */
function checkCore(key: string, value: unknown): void {
  const typeError = (t: string) =>
    schemaError(
      `${JSON.stringify(value)} is not of type '${t}'\n\nFailed validating 'type' in schema['properties']['${key}']`,
    );
  switch (key) {
    case 'name':
      if (value !== null && typeof value !== 'string') throw typeError('string');
      if (typeof value === 'string' && value.length > 255) throw schemaError(`'${value}' is too long`);
      return;
    case 'owner':
      if (value !== null && typeof value !== 'string') throw typeError('string');
      return;
    case 'id':
      if (
        typeof value !== 'string' ||
        !/^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(value)
      ) {
        throw schemaError(
          `${JSON.stringify(value)} does not match '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'`,
        );
      }
      return;
    case 'visibility':
      if (typeof value !== 'string' || !VISIBILITIES.includes(value))
        throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify(VISIBILITIES)}`);
      return;
    case 'protected':
    case 'os_hidden':
      if (typeof value !== 'boolean') throw typeError('boolean');
      return;
    case 'min_disk':
    case 'min_ram':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError('integer');
      if (value < 0) throw schemaError(`${value} is less than the minimum of 0`);
      return;
    case 'disk_format':
      if (value !== null && (typeof value !== 'string' || !DISK_FORMATS.includes(value)))
        throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify([null, ...DISK_FORMATS])}`);
      return;
    case 'container_format':
      if (value !== null && (typeof value !== 'string' || !CONTAINER_FORMATS.includes(value)))
        throw schemaError(`${JSON.stringify(value)} is not one of ${JSON.stringify([null, ...CONTAINER_FORMATS])}`);
      return;
    case 'tags':
      if (!Array.isArray(value)) throw typeError('array');
      for (const t of value) {
        if (typeof t !== 'string') throw schemaError(`${JSON.stringify(t)} is not of type 'string'`);
        if (t.length > 255) throw schemaError(`'${t}' is too long`);
      }
      return;
  }
}

function checkExtra(key: string, value: unknown): void {
  if (READ_ONLY.includes(key)) throw new HttpError(403, `Attribute '${key}' is read-only.`);
  if (RESERVED.includes(key)) throw new HttpError(403, `Attribute '${key}' is reserved.`);
  if (typeof value !== 'string') {
    throw schemaError(
      `${JSON.stringify(value)} is not of type 'string'\n\nFailed validating 'type' in schema['additionalProperties']`,
    );
  }
}

function imageJson(img: Image): Record<string, unknown> {
  return {
    ...img.properties,
    id: img.id,
    name: img.name,
    status: img.status,
    visibility: img.visibility,
    protected: img.protected,
    os_hidden: img.os_hidden,
    owner: img.owner,
    disk_format: img.disk_format,
    container_format: img.container_format,
    min_disk: img.min_disk,
    min_ram: img.min_ram,
    size: img.size,
    virtual_size: img.virtual_size,
    checksum: img.checksum,
    os_hash_algo: img.os_hash_algo,
    os_hash_value: img.os_hash_value,
    tags: img.tags,
    created_at: img.created_at,
    updated_at: img.updated_at,
    self: `/v2/images/${img.id}`,
    file: `/v2/images/${img.id}/file`,
    schema: '/v2/schemas/image',
    // Glance names the store(s) holding the data once there is data
    ...(img.file ? { stores: STORE_ID } : {}),
  };
}

/** Can this caller see the image at all (GET by id)? */
export function canSee(ctx: AuthContext, img: Image): boolean {
  if (ctx.isAdmin || img.owner === ctx.project.id) return true;
  if (img.visibility === 'public' || img.visibility === 'community') return true;
  return img.visibility === 'shared' && img.members.some((m) => m.member_id === ctx.project.id);
}

function imageSchema() {
  const props: Record<string, unknown> = {
    id: {
      type: 'string',
      pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
    },
    name: { type: ['null', 'string'], maxLength: 255 },
    status: {
      type: 'string',
      readOnly: true,
      enum: [
        'queued',
        'saving',
        'active',
        'killed',
        'deleted',
        'uploading',
        'importing',
        'pending_delete',
        'deactivated',
      ],
    },
    visibility: { type: 'string', enum: VISIBILITIES },
    protected: { type: 'boolean' },
    os_hidden: { type: 'boolean' },
    checksum: { type: ['null', 'string'], readOnly: true, maxLength: 32 },
    os_hash_algo: { type: ['null', 'string'], readOnly: true, maxLength: 64 },
    os_hash_value: { type: ['null', 'string'], readOnly: true, maxLength: 128 },
    owner: { type: ['null', 'string'], maxLength: 255 },
    size: { type: ['null', 'integer'], readOnly: true },
    virtual_size: { type: ['null', 'integer'], readOnly: true },
    container_format: { type: ['null', 'string'], enum: [null, ...CONTAINER_FORMATS] },
    disk_format: { type: ['null', 'string'], enum: [null, ...DISK_FORMATS] },
    created_at: { type: 'string', readOnly: true },
    updated_at: { type: 'string', readOnly: true },
    tags: { type: 'array', items: { type: 'string', maxLength: 255 } },
    min_ram: { type: 'integer' },
    min_disk: { type: 'integer' },
    self: { type: 'string', readOnly: true },
    file: { type: 'string', readOnly: true },
    schema: { type: 'string', readOnly: true },
  };
  return {
    name: 'image',
    properties: props,
    additionalProperties: { type: 'string' },
    links: [
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

export function glanceRoutes(cloud: Cloud, region: string): Router {
  const rs = (): RegionState => cloud.region(region);
  const dataPath = (img: Image) => path.join(cloud.opts.dataDir, img.file ?? `${region}-${img.id}`);

  const versions = () => {
    const base = `${cloud.baseUrl}/image/${region}`;
    const list = [
      '2.15',
      '2.14',
      '2.13',
      '2.12',
      '2.11',
      '2.10',
      '2.9',
      '2.8',
      '2.7',
      '2.6',
      '2.5',
      '2.4',
      '2.3',
      '2.2',
      '2.1',
      '2.0',
    ];
    return {
      versions: list.map((v, i) => ({
        id: `v${v}`,
        status: i === 0 ? 'CURRENT' : 'SUPPORTED',
        links: [{ rel: 'self', href: `${base}/v2/` }],
      })),
    };
  };

  const lookup = (ctx: AuthContext, id: string): Image => {
    const img = rs().images.find((i) => i.id === id);
    if (!img || !canSee(ctx, img)) throw new HttpError(404, `No image found with ID ${id}`);
    return img;
  };

  const mayModify = (ctx: AuthContext, img: Image, what: string) => {
    if (!ctx.isAdmin && img.owner !== ctx.project.id)
      throw new HttpError(403, `You are not permitted to ${what} this image.`);
  };

  const removeData = (img: Image) => {
    if (img.file) fs.rm(dataPath(img), { force: true }, () => undefined);
  };

  const router = new Router();
  router.add('GET', '', (): Reply => ({ status: 300, body: versions() }));
  router.add('GET', '/versions', (): Reply => ({ status: 200, body: versions() }));
  router.add('GET', '/v2/schemas/image', (req): Reply => {
    cloud.authenticate(req);
    return { status: 200, body: imageSchema() };
  });
  router.add('GET', '/v2/schemas/images', (req): Reply => {
    cloud.authenticate(req);
    return {
      status: 200,
      body: {
        name: 'images',
        properties: {
          images: { type: 'array', items: imageSchema() },
          schema: { type: 'string' },
          first: { type: 'string' },
          next: { type: 'string' },
        },
        links: [
          { rel: 'first', href: '{first}' },
          { rel: 'next', href: '{next}' },
          { rel: 'describedby', href: '{schema}' },
        ],
      },
    };
  });

  router.add('POST', '/v2/images', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const body = await readJson(req.raw, 'Malformed JSON in request body.');
    if (!isObject(body)) throw new HttpError(400, 'Malformed JSON in request body.');
    for (const [k, v] of Object.entries(body)) {
      if (CORE.includes(k)) checkCore(k, v);
      else checkExtra(k, v);
    }
    if (body.owner !== undefined && body.owner !== ctx.project.id && !ctx.isAdmin) {
      throw new HttpError(403, "You are not permitted to create images owned by '" + String(body.owner) + "'.");
    }
    if (body.visibility === 'public' && !ctx.isAdmin) {
      throw new HttpError(403, 'You are not authorized to complete publicize_image action.');
    }
    const id = typeof body.id === 'string' ? body.id.toLowerCase() : uuid();
    if (rs().images.some((i) => i.id === id)) throw new HttpError(409, `An image with identifier ${id} already exists`);
    const now = nowIso();
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) if (!CORE.includes(k)) properties[k] = v as string;
    const img: Image = {
      id,
      name: (body.name as string | null | undefined) ?? null,
      status: 'queued',
      visibility: (body.visibility as Image['visibility'] | undefined) ?? 'shared',
      protected: (body.protected as boolean | undefined) ?? false,
      os_hidden: (body.os_hidden as boolean | undefined) ?? false,
      owner: (body.owner as string | undefined) ?? ctx.project.id,
      disk_format: (body.disk_format as string | null | undefined) ?? null,
      container_format: (body.container_format as string | null | undefined) ?? null,
      min_disk: (body.min_disk as number | undefined) ?? 0,
      min_ram: (body.min_ram as number | undefined) ?? 0,
      size: null,
      virtual_size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      tags: [...new Set((body.tags as string[] | undefined) ?? [])],
      created_at: now,
      updated_at: now,
      properties,
      members: [],
    };
    rs().images.push(img);
    cloud.changed();
    return {
      status: 201,
      body: imageJson(img),
      headers: {
        Location: `${cloud.baseUrl}/image/${region}/v2/images/${img.id}`,
        'OpenStack-Image-Store-IDs': STORE_ID,
      },
    };
  });

  router.add('GET', '/v2/images', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const q = req.query;
    const limitRaw = q.get('limit');
    let limit = LIMIT_DEFAULT;
    if (limitRaw !== null) {
      if (!/^-?\d+$/.test(limitRaw)) throw new HttpError(400, 'limit param must be an integer');
      limit = Number(limitRaw);
      if (limit < 0) throw new HttpError(400, 'limit param must be positive');
    }
    limit = Math.min(limit, API_LIMIT_MAX);

    const visibility = q.get('visibility');
    if (visibility !== null && !['public', 'private', 'shared', 'community', 'all'].includes(visibility)) {
      throw new HttpError(400, `Invalid visibility value: ${visibility}`);
    }
    const memberStatus = q.get('member_status') ?? 'accepted';
    let images = rs().images.filter((img) => {
      const own = img.owner === ctx.project.id;
      const member = img.members.find((m) => m.member_id === ctx.project.id);
      if (visibility === null) {
        if (ctx.isAdmin) return img.visibility !== 'community' || own;
        return (
          own ||
          img.visibility === 'public' ||
          (img.visibility === 'shared' &&
            member !== undefined &&
            (memberStatus === 'all' || member.status === memberStatus))
        );
      }
      if (visibility !== 'all' && img.visibility !== visibility) return false;
      if (ctx.isAdmin || own || img.visibility === 'public' || img.visibility === 'community') return true;
      return (
        img.visibility === 'shared' &&
        member !== undefined &&
        (memberStatus === 'all' || member.status === memberStatus)
      );
    });

    const inList = (v: string) =>
      v.startsWith('in:')
        ? v
            .slice(3)
            .split(',')
            .map((s) => s.replace(/^"|"$/g, ''))
        : [v];
    const tags = q.getAll('tag');
    if (tags.length) images = images.filter((img) => tags.every((t) => img.tags.includes(t)));
    const hidden = q.get('os_hidden');
    if (hidden === null) images = images.filter((img) => !img.os_hidden);
    else images = images.filter((img) => img.os_hidden === (hidden.toLowerCase() === 'true'));
    for (const [key, value] of q.entries()) {
      if (LIST_PARAMS.includes(key) || key === 'visibility' || key === 'tag' || key === 'os_hidden') continue;
      if (key === 'size_min' || key === 'size_max') {
        if (!/^\d+$/.test(value)) throw new HttpError(400, `Invalid value for ${key}: ${value}`);
        const n = Number(value);
        images = images.filter((img) => img.size !== null && (key === 'size_min' ? img.size >= n : img.size <= n));
        continue;
      }
      if (key === 'protected') {
        if (!['true', 'false'].includes(value.toLowerCase()))
          throw new HttpError(
            400,
            `Invalid value '${value}' for 'protected' filter. Valid values are 'true' or 'false'.`,
          );
        images = images.filter((img) => img.protected === (value.toLowerCase() === 'true'));
        continue;
      }
      const wanted = inList(value).map((v) => v.toLowerCase());
      images = images.filter((img) => {
        const actual =
          key in img && CORE.concat(['status', 'checksum', 'os_hash_value']).includes(key)
            ? (img as unknown as Record<string, unknown>)[key]
            : img.properties[key];
        // The database behind real clouds compares strings case-insensitively (MySQL collation)
        return actual !== undefined && actual !== null && wanted.includes(String(actual).toLowerCase());
      });
    }

    let sortKeys: { key: string; dir: 'asc' | 'desc' }[] = [];
    const sort = q.get('sort');
    if (sort) {
      sortKeys = sort.split(',').map((part) => {
        const [key, dir = 'desc'] = part.split(':');
        if (dir !== 'asc' && dir !== 'desc') throw new HttpError(400, `Invalid sort direction: ${dir}`);
        return { key, dir };
      });
    } else {
      const keys = q.getAll('sort_key');
      const dirs = q.getAll('sort_dir');
      keys.forEach((key, i) => {
        const dir = dirs[i] ?? dirs[0] ?? 'desc';
        if (dir !== 'asc' && dir !== 'desc') throw new HttpError(400, `Invalid sort direction: ${dir}`);
        sortKeys.push({ key, dir });
      });
    }
    if (!sortKeys.length) sortKeys = [{ key: 'created_at', dir: 'desc' }];
    const allowedSort = [
      'name',
      'status',
      'container_format',
      'disk_format',
      'size',
      'id',
      'created_at',
      'updated_at',
      'visibility',
      'owner',
      'min_disk',
      'min_ram',
    ];
    for (const s of sortKeys) if (!allowedSort.includes(s.key)) throw new HttpError(400, `Invalid sort key: ${s.key}.`);
    if (!sortKeys.some((s) => s.key === 'id')) sortKeys.push({ key: 'id', dir: sortKeys[0].dir });
    // Insertion order breaks ties of equal timestamps, as the database's auto ids do
    const order = new Map(rs().images.map((img, i) => [img.id, i]));
    images = [...images].sort((a, b) => {
      for (const { key, dir } of sortKeys) {
        const av = (a as unknown as Record<string, unknown>)[key];
        const bv = (b as unknown as Record<string, unknown>)[key];
        let c = 0;
        // ISO timestamps of one format order as their characters do (and far faster than localeCompare)
        if (key === 'created_at' || key === 'updated_at')
          c =
            (av as string) < (bv as string)
              ? -1
              : (av as string) > (bv as string)
                ? 1
                : order.get(a.id)! - order.get(b.id)!;
        else if (typeof av === 'number' && typeof bv === 'number') c = av - bv;
        else if (key !== 'id') c = String(av ?? '').localeCompare(String(bv ?? ''));
        if (c !== 0) return dir === 'asc' ? c : -c;
      }
      return 0;
    });

    const marker = q.get('marker');
    if (marker !== null) {
      const idx = images.findIndex((i) => i.id === marker);
      if (idx < 0) throw new HttpError(400, `Invalid marker. Image ${marker} could not be found.`);
      images = images.slice(idx + 1);
    }
    const page = images.slice(0, limit);
    const body: Record<string, unknown> = {
      images: page.map(imageJson),
      first: '/v2/images',
      schema: '/v2/schemas/images',
    };
    if (limit > 0 && page.length === limit && images.length >= limit) {
      const next = new URLSearchParams();
      for (const [k, v] of q.entries()) if (k !== 'marker') next.append(k, v);
      next.set('marker', page[page.length - 1].id);
      body.next = `/v2/images?${next.toString()}`;
    }
    if (q.toString())
      body.first = `/v2/images?${new URLSearchParams([...q.entries()].filter(([k]) => k !== 'marker')).toString()}`;
    return { status: 200, body };
  });

  router.add('GET', '/v2/images/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    return { status: 200, body: imageJson(lookup(ctx, p.id)) };
  });

  router.add('PATCH', '/v2/images/:id', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const ct = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (!PATCH_MEDIA.includes(ct)) {
      throw new HttpError(415, `Unsupported Content-Type`);
    }
    const img = lookup(ctx, p.id);
    const ops = await readJson(req.raw, 'Malformed JSON in request body.');
    if (!Array.isArray(ops)) throw new HttpError(400, 'Request body must be a JSON array of operation objects.');
    mayModify(ctx, img, 'modify');
    // Work on a copy: a failing operation leaves the image untouched
    const draft: Image = JSON.parse(JSON.stringify(img)) as Image;
    for (const op of ops) {
      if (!isObject(op)) throw new HttpError(400, 'Operations must be JSON objects.');
      const kind = op.op;
      if (kind !== 'add' && kind !== 'replace' && kind !== 'remove')
        throw new HttpError(400, `Invalid operation: \`${String(kind)}\`.`);
      if (typeof op.path !== 'string' || !/^\/[^/]+$/.test(op.path)) {
        throw new HttpError(
          400,
          "Json path should start with a '/', end with no '/', no 2 subsequent '/' are allowed.",
        );
      }
      const key = op.path.slice(1).replace(/~1/g, '/').replace(/~0/g, '~');
      if (kind !== 'remove' && !('value' in op))
        throw new HttpError(400, `Operation "${kind}" requires a member named "value".`);
      if (READ_ONLY.includes(key) || key === 'id') throw new HttpError(403, `Attribute '${key}' is read-only.`);
      if (RESERVED.includes(key)) throw new HttpError(403, `Attribute '${key}' is reserved.`);
      if (CORE.includes(key)) {
        if (kind === 'remove') throw new HttpError(403, `Attribute '${key}' cannot be removed.`);
        checkCore(key, op.value);
        if ((key === 'disk_format' || key === 'container_format') && draft.status !== 'queued') {
          throw new HttpError(403, `Attribute ${key} can be only replaced for a queued image.`);
        }
        if (key === 'visibility' && op.value === 'public' && !ctx.isAdmin)
          throw new HttpError(403, 'You are not authorized to complete publicize_image action.');
        if (key === 'owner' && !ctx.isAdmin)
          throw new HttpError(403, "You are not permitted to modify 'owner' on this image.");
        if (key === 'tags') draft.tags = [...new Set(op.value as string[])];
        else (draft as unknown as Record<string, unknown>)[key] = op.value;
        continue;
      }
      if (kind === 'remove') {
        if (!(key in draft.properties)) throw new HttpError(409, `Property ${key} does not exist.`);
        delete draft.properties[key];
        continue;
      }
      checkExtra(key, op.value);
      if (kind === 'replace' && !(key in draft.properties)) throw new HttpError(409, `Property ${key} does not exist.`);
      draft.properties[key] = op.value as string;
    }
    Object.assign(img, draft, { updated_at: nowIso() });
    cloud.changed();
    return { status: 200, body: imageJson(img) };
  });

  router.add('DELETE', '/v2/images/:id', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    mayModify(ctx, img, 'delete');
    if (img.protected) throw new HttpError(403, `Image ${img.id} is protected and cannot be deleted.`);
    // the store refuses (Ceph: the image has clones); Glance keeps the image as it was
    if (cloud.faults.get('imageDeleteConflicts').includes(img.id))
      throw new HttpError(
        409,
        `Image ${img.id} could not be deleted because it is in use: The image cannot be deleted because it is in use through the backend store outside of Glance.`,
      );
    rs().images = rs().images.filter((i) => i !== img);
    removeData(img);
    cloud.changed();
    return { status: 204 };
  });

  router.add('PUT', '/v2/images/:id/file', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    mayModify(ctx, img, 'upload data to');
    if (img.status !== 'queued') {
      throw new HttpError(409, `Image status transition from ${img.status} to saving is not allowed`);
    }
    if (!img.disk_format || !img.container_format) {
      throw new HttpError(400, 'Properties disk_format, container_format must be set prior to saving data.');
    }
    const fileName = `${region}-${img.id}`;
    const target = path.join(cloud.opts.dataDir, fileName);
    const partial = `${target}.part`;
    img.status = 'saving';
    img.updated_at = nowIso();
    cloud.changed();
    const md5 = crypto.createHash('md5');
    const sha512 = crypto.createHash('sha512');
    let size = 0;
    const out = fs.createWriteStream(partial);
    // a write error is seen by the drain or finish wait below; unheard it would end the process
    out.on('error', () => undefined);
    let stall = cloud.faults.takeUploadStall();
    try {
      for await (const chunk of req.raw) {
        const buf = chunk as Buffer;
        if (stall && size + buf.length > stall.afterBytes) {
          // reads nothing more for a while: the sender's buffers fill and its data stops moving
          await stalled(req.raw, stall.ms);
          stall = undefined;
        }
        md5.update(buf);
        sha512.update(buf);
        size += buf.length;
        if (!out.write(buf)) await once(out, 'drain');
        const bps = cloud.faults.get('uploadBytesPerSecond');
        if (bps > 0) await sleep((buf.length / bps) * 1000);
      }
      out.end();
      await once(out, 'finish');
    } catch (err) {
      out.destroy();
      fs.rm(partial, { force: true }, () => undefined);
      if (rs().images.includes(img) && img.status === 'saving') {
        img.status = 'queued';
        cloud.changed();
      }
      throw err;
    }
    if (!rs().images.includes(img)) {
      fs.rm(partial, { force: true }, () => undefined);
      throw new HttpError(410, 'Image deleted during upload.');
    }
    fs.renameSync(partial, target);
    Object.assign(img, {
      file: fileName,
      status: 'active',
      size,
      virtual_size: img.disk_format === 'raw' ? size : null,
      checksum: md5.digest('hex'),
      os_hash_algo: 'sha512',
      os_hash_value: sha512.digest('hex'),
      updated_at: nowIso(),
    });
    cloud.changed();
    return { status: 204 };
  });

  router.add('GET', '/v2/images/:id/file', (req, p, res): Reply => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    if (img.status === 'deactivated' && !ctx.isAdmin)
      throw new HttpError(403, 'The requested image has been deactivated. Image data download is forbidden.');
    if (!img.file || img.size === null) return { status: 204 };
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(img.size),
      'Content-MD5': img.checksum ?? '',
    });
    if (req.method === 'HEAD') {
      res.end();
      return { status: 200, handled: true };
    }
    fs.createReadStream(dataPath(img))
      .on('error', () => res.destroy())
      .pipe(res);
    return { status: 200, handled: true };
  });

  const action =
    (target: 'deactivated' | 'active') =>
    (req: Request, p: Record<string, string>): Reply => {
      const ctx = cloud.authenticate(req);
      const img = lookup(ctx, p.id);
      // The owner may (de)activate its own image, as Glance's policy allows admins and the owning project's members
      if (!ctx.isAdmin && img.owner !== ctx.project.id) throw new HttpError(403, 'You do not own this image');
      if (img.status === target) return { status: 204 };
      if (img.status !== 'active' && img.status !== 'deactivated') {
        throw new HttpError(
          403,
          `Not allowed to ${target === 'active' ? 'reactivate' : 'deactivate'} an image in status '${img.status}'`,
        );
      }
      img.status = target;
      img.updated_at = nowIso();
      cloud.changed();
      return { status: 204 };
    };
  router.add('POST', '/v2/images/:id/actions/deactivate', action('deactivated'));
  router.add('POST', '/v2/images/:id/actions/reactivate', action('active'));

  router.add('PUT', '/v2/images/:id/tags/:tag', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    mayModify(ctx, img, 'modify');
    if (!img.tags.includes(p.tag)) img.tags.push(p.tag);
    img.updated_at = nowIso();
    cloud.changed();
    return { status: 204 };
  });

  router.add('DELETE', '/v2/images/:id/tags/:tag', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    mayModify(ctx, img, 'modify');
    if (!img.tags.includes(p.tag)) throw new HttpError(404, `Tag ${p.tag} not found`);
    img.tags = img.tags.filter((t) => t !== p.tag);
    cloud.changed();
    return { status: 204 };
  });

  const memberJson = (img: Image, m: Image['members'][number]) => ({
    image_id: img.id,
    member_id: m.member_id,
    status: m.status,
    created_at: m.created_at,
    updated_at: m.updated_at,
    schema: '/v2/schemas/member',
  });

  router.add('GET', '/v2/images/:id/members', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    if (img.visibility !== 'shared') throw new HttpError(403, 'Only shared images have members.');
    const members =
      ctx.isAdmin || img.owner === ctx.project.id
        ? img.members
        : img.members.filter((m) => m.member_id === ctx.project.id);
    return { status: 200, body: { members: members.map((m) => memberJson(img, m)), schema: '/v2/schemas/members' } };
  });

  router.add('POST', '/v2/images/:id/members', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    const body = await readJson(req.raw, 'Malformed JSON in request body.');
    if (!isObject(body) || typeof body.member !== 'string')
      throw new HttpError(400, 'Member to be added not specified');
    if (img.owner !== ctx.project.id && !ctx.isAdmin)
      throw new HttpError(403, 'You are not permitted to modify members of this image.');
    if (img.visibility !== 'shared') throw new HttpError(403, 'Only shared images have members.');
    if (img.members.some((m) => m.member_id === body.member)) {
      throw new HttpError(409, `Member ${body.member} already associated with image ${img.id}.`);
    }
    const now = nowIso();
    const member = { member_id: body.member, status: 'pending' as const, created_at: now, updated_at: now };
    img.members.push(member);
    cloud.changed();
    return { status: 200, body: memberJson(img, member) };
  });

  router.add('GET', '/v2/images/:id/members/:member', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    const m = img.members.find((x) => x.member_id === p.member);
    if (!m || (!ctx.isAdmin && img.owner !== ctx.project.id && p.member !== ctx.project.id)) {
      throw new HttpError(404, `${p.member} is not a member of image ${img.id}`);
    }
    return { status: 200, body: memberJson(img, m) };
  });

  router.add('PUT', '/v2/images/:id/members/:member', async (req, p): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    const body = await readJson(req.raw, 'Malformed JSON in request body.');
    if (!isObject(body) || !['pending', 'accepted', 'rejected'].includes(String(body.status))) {
      throw new HttpError(
        400,
        `Provided object does not match schema 'member': ${JSON.stringify(isObject(body) ? body.status : body)} is not one of ['pending', 'accepted', 'rejected']`,
      );
    }
    const m = img.members.find((x) => x.member_id === p.member);
    if (!m) throw new HttpError(404, `${p.member} is not a member of image ${img.id}`);
    if (p.member !== ctx.project.id)
      throw new HttpError(403, 'You are not permitted to modify the status of this member.');
    m.status = body.status as typeof m.status;
    m.updated_at = nowIso();
    cloud.changed();
    return { status: 200, body: memberJson(img, m) };
  });

  router.add('DELETE', '/v2/images/:id/members/:member', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const img = lookup(ctx, p.id);
    if (img.owner !== ctx.project.id && !ctx.isAdmin)
      throw new HttpError(403, 'You are not permitted to delete members of this image.');
    if (!img.members.some((x) => x.member_id === p.member))
      throw new HttpError(404, `${p.member} is not a member of image ${img.id}`);
    img.members = img.members.filter((x) => x.member_id !== p.member);
    cloud.changed();
    return { status: 204 };
  });

  return router;
}
