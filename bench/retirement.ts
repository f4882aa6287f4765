/**
 * Retirement bench: a check over a large cloud. The emulator (its own
 * process) starts from a state file holding `images` obsolete images of the
 * environment's project and `servers` servers of other projects booted from
 * 80% of them; retirement's steps then run as the workflow runs them (the
 * survey, then the deletes of what it found unused, in batches), with the
 * figure the time of both and the requests the emulator served, set against
 * the list pages they had to read (Glance's 1000 and Nova's 1000 per page).
 * The reference is one listing of the same images and servers alone.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPublishActivities } from '../activities/publish';
import { seedState } from '../emulator/seed';
import { CloudState, hexId, saveState, uuid } from '../emulator/state';
import { RequestCount, startEmulatorProcess } from './emulator';
import { BenchRow } from './support';

type Server = CloudState['regions'][string]['servers'][number];

/** A state file: the seeded cloud plus the obsolete images and the servers using most of them. */
function writeState(file: string, images: number, servers: number): { used: number } {
  const state = seedState(['RegionOne']);
  const admin = state.projects.find((p) => p.name === 'admin')!;
  const rs = state.regions.RegionOne;
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const at = (i: number) => new Date(t0 + i * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  for (let i = 0; i < images; i++) {
    rs.images.push({
      id: uuid(),
      name: `bench-image-${i % 50}`,
      status: 'active',
      visibility: 'private',
      protected: false,
      os_hidden: false,
      owner: admin.id,
      disk_format: 'raw',
      container_format: 'bare',
      min_disk: 0,
      min_ram: 0,
      size: 0,
      virtual_size: 0,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      tags: [],
      created_at: at(i),
      updated_at: at(i),
      properties: { obsolete: 'true' },
      members: [],
    });
  }
  const used = Math.floor(images * 0.8);
  const projects = Array.from({ length: 20 }, () => hexId());
  for (let i = 0; i < servers; i++) {
    const server: Server = {
      id: uuid(),
      name: `bench-server-${i}`,
      hostname: `bench-server-${i}`,
      project_id: projects[i % projects.length],
      user_id: hexId(),
      status: 'ACTIVE',
      task_state: null,
      vm_state: 'active',
      power_state: 1,
      image_id: rs.images[i % used].id,
      flavor_id: '1',
      key_name: null,
      login_users: [],
      addresses: [],
      metadata: {},
      tags: [],
      availability_zone: 'nova',
      config_drive: '',
      user_data: null,
      created: at(i),
      updated: at(i),
      launched_at: at(i),
      fault: null,
      console_log: [],
      ssh_disabled: true,
    };
    rs.servers.push(server);
  }
  saveState(file, state);
  return { used };
}

/** Runs an activity function as a worker would (heartbeats go nowhere). */
function inActivity<A, R>(fn: (a: A) => Promise<R>, a: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, a) as Promise<R>;
}

/** Requests served between two counts, by route. */
function served(before: RequestCount, after: RequestCount): (route: string) => number {
  return (route) => (after.byRoute[route] ?? 0) - (before.byRoute[route] ?? 0);
}

export async function retirementBench(images: number, servers: number): Promise<BenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-bench-retire-'));
  const stateFile = path.join(dir, 'cloud.json');
  const { used } = writeState(stateFile, images, servers);
  const emu = await startEmulatorProcess({ stateFile });
  try {
    const c = emu.admin;
    fs.writeFileSync(
      path.join(dir, 'upload.yaml'),
      [
        'bench:',
        '  keystone:',
        `    auth_url: ${emu.authUrl}`,
        `    username: ${c.username}`,
        `    password: ${c.password}`,
        `    project_name: ${c.projectName}`,
        '    user_domain_name: Default',
        '    project_domain_name: Default',
        '    region_name: RegionOne',
        '',
      ].join('\n'),
    );
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_')) env[k] = v;
    Object.assign(env, { HOME: dir, DIBCTL_SYSTEM_CONFIG_DIR: path.join(dir, 'no-etc') });
    const where = { environment: 'bench', config: { cwd: dir } };
    const held = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as CloudState;
    const ids = held.regions.RegionOne.images.map((i) => i.id);

    // the reference: one listing of the obsolete images and of every server
    const acts = createPublishActivities({ env });
    let t = process.hrtime.bigint();
    await inActivity(acts.surveyObsoleteImages, where);
    const listing = Number(process.hrtime.bigint() - t) / 1e9;

    // the check as retirement runs it: the survey of the held images, then the deletes in batches
    const before = await emu.requests();
    t = process.hrtime.bigint();
    const survey = await inActivity(acts.surveyObsoleteImages, { ...where, ids });
    const surveyed = Number(process.hrtime.bigint() - t) / 1e9;
    const unused = survey.images.filter((i) => i.obsolete && !i.protected && i.usedBy === 0).map((i) => i.id);
    let deleted = 0;
    for (let i = 0; i < unused.length; i += 2500) {
      const verdicts = await inActivity(acts.deleteUnusedImages, {
        ...where,
        imageIds: unused.slice(i, i + 2500),
      });
      deleted += verdicts.filter((v) => v.outcome === 'deleted').length;
    }
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const after = await emu.requests();
    const total = after.requests - before.requests;
    const count = served(before, after);
    const imagePages = count('image GET /v2/images');
    const serverPages = count('compute GET /v2.1/servers/detail');
    const deletes = count('image DELETE /v2/images/:id');
    const pages = imagePages + serverPages;
    if (deleted !== images - used) throw new Error(`deleted ${deleted} images, expected ${images - used}`);
    return [
      {
        bench: `retirement check: ${images} obsolete images, ${servers} servers, ${deleted} deleted`,
        figure: seconds,
        reference: 'one listing of those images and servers',
        referenceFigure: listing,
        target: '≤ 10 s',
        note:
          `survey ${surveyed.toFixed(1)} s, deletes ${(seconds - surveyed).toFixed(1)} s; ` +
          `${total} requests = ${pages} list pages (${imagePages} Glance, ${serverPages} Nova) + ${deletes} deletes ` +
          `+ ${total - pages - deletes} other (${count('image GET /v2/images/:id')} image GETs, authentication)`,
      },
    ];
  } finally {
    await emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
