/**
 * What publish tests share: an emulator with two regions, real config files in
 * a temporary directory, an image file, dibctl's workers on a real dev server,
 * and the built CLI pointed at that server.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Emulator, startEmulator } from '../../emulator';
import { Cloud, CloudAuth, connectCloud } from '../../openstack';
import { envWithout, TempTree } from '../config/helpers';
import { CliResult, cleanTemporalEnv, runDibctl } from '../support/cli';
import { TestTemporal, useTemporal } from '../support/temporal';

interface PublishFixture {
  emu: Emulator;
  tree: TempTree;
  temporal: TestTemporal;
  /** Runs the built dibctl in the config directory against the suite's Temporal server. */
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>;
  cloud(who: 'admin' | 'user', region?: 'RegionOne' | 'RegionTwo'): Promise<Cloud>;
  /** Images of a region as the emulator holds them. */
  images(region?: 'RegionOne' | 'RegionTwo'): ReturnType<Emulator['state']>['regions'][string]['images'];
  writeUploadConfig(extra?: string): void;
}

function keystone(emu: Emulator, who: 'admin' | 'user', region: string): string {
  const c = emu[who];
  return [
    '  keystone:',
    `    auth_url: ${emu.authUrl}`,
    `    username: ${c.username}`,
    `    password: ${c.password}`,
    `    project_name: ${c.projectName}`,
    `    user_domain_name: ${c.userDomainName}`,
    `    project_domain_name: ${c.projectDomainName}`,
    `    region_name: ${region}`,
  ].join('\n');
}

/** An upload environment entry with the emulator's credentials and extra lines (already indented). */
export function environmentEntry(
  emu: Emulator,
  label: string,
  who: 'admin' | 'user',
  region: string,
  ...lines: string[]
): string {
  return [`${label}:`, keystone(emu, who, region), ...lines].join('\n');
}

/** The standard environments: `one` and `two` (admin, one per region) and `demo` (no admin rights). */
function uploadConfig(emu: Emulator, extra = ''): string {
  return (
    [
      'one:',
      keystone(emu, 'admin', 'RegionOne'),
      '  glance:',
      '    properties: {region: one}',
      '    tags: [prod]',
      'two:',
      keystone(emu, 'admin', 'RegionTwo'),
      '  glance:',
      '    properties: {region: two}',
      // the tests take RegionTwo down for good: give up after a few seconds, not minutes
      '  retry: {attempts: 3, upload_attempts: 2, max_interval: 1s}',
      'demo:',
      keystone(emu, 'user', 'RegionOne'),
      extra,
    ].join('\n') + '\n'
  );
}

export const IMAGES_YAML = [
  'base:',
  '  filename: base.qcow2',
  '  glance:',
  '    name: Base Image',
  '    properties: {build: 7, gpu: false}',
  '    tags: [base]',
  '    min_disk: 1',
  '    min_ram: 64',
  'shared:',
  '  filename: base.qcow2',
  '  glance:',
  '    name: Shared Image',
  '    share_with: [demo]',
  'guarded:',
  '  filename: base.qcow2',
  '  glance:',
  '    name: Guarded Image',
  '    protected: true',
  'public:',
  '  filename: base.qcow2',
  '  glance:',
  '    name: Public Image',
  '    public: true',
  '',
].join('\n');

export const IMAGE_BYTES = 3 * 1024 * 1024 + 17;

export function usePublishFixture(): () => PublishFixture {
  const temporal = useTemporal();
  let fixture: PublishFixture | undefined;
  const clouds: Cloud[] = [];
  beforeAll(async () => {
    const emu = await startEmulator({ regions: ['RegionOne', 'RegionTwo'] });
    const tree = new TempTree('dibctl-publish-');
    tree.write('images.yaml', IMAGES_YAML);
    tree.write('upload.yaml', uploadConfig(emu));
    writeFileSync(tree.path('base.qcow2'), randomBytes(IMAGE_BYTES));
    const t = temporal();
    await t.startWorkers('dibctl', { env: envWithout() });
    fixture = {
      emu,
      tree,
      temporal: t,
      cli: (args, env = {}) =>
        runDibctl(args, {
          cwd: tree.root,
          env: envWithout(
            cleanTemporalEnv({ TEMPORAL_ADDRESS: t.server.address, TEMPORAL_NAMESPACE: t.server.namespace, ...env }),
          ),
          timeoutMs: 110_000,
        }),
      async cloud(who, region = 'RegionOne') {
        const c = emu[who];
        const auth: CloudAuth = {
          authUrl: emu.authUrl,
          username: c.username,
          password: c.password,
          projectName: c.projectName,
          userDomainName: c.userDomainName,
          projectDomainName: c.projectDomainName,
          regionName: region,
        };
        const cloud = await connectCloud(auth);
        clouds.push(cloud);
        return cloud;
      },
      images: (region = 'RegionOne') => emu.state().regions[region].images,
      writeUploadConfig: (extra = '') => tree.write('upload.yaml', uploadConfig(emu, extra)),
    };
  }, 120_000);
  afterAll(async () => {
    for (const c of clouds) c.close();
    await fixture?.emu.stop();
    fixture?.tree.remove();
  });
  return () => {
    if (!fixture) throw new Error('publish fixture not started');
    return fixture;
  };
}
