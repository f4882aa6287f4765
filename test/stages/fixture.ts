/**
 * A project directory for stage tests: images.yaml and test.yaml pointing at a
 * running emulator, a small image file, and shell tests written on demand.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator } from '../../emulator';
import type { CloudRef } from '../../activities';

export interface StageProject {
  dir: string;
  imageFile: string;
  imagesConfig: string;
  testConfig: string;
  cloud: CloudRef;
  /** Writes an executable shell test and returns its path. */
  shellTest(name: string, body: string): Promise<string>;
  remove(): Promise<void>;
}

export interface ImageOptions {
  tests?: Array<
    { shell: string; timeout?: number } | { ssh: string; timeout?: number } | { pytest: string; timeout?: number }
  >;
  waitForPort?: number | null;
  /** tests.ssh.host_key_check, as written in YAML (default: not written). */
  hostKeyCheck?: string;
  portWaitTimeout?: number;
  nova?: Record<string, number>;
  glance?: Record<string, unknown>;
  /** tests.ssh.key_type (absent: dibctl's default). */
  sshKeyType?: string;
  extra?: string;
}

function yamlList(items: Array<Record<string, unknown>>, indent: string): string {
  return items
    .map(
      (i) =>
        `${indent}- ${Object.entries(i)
          .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
          .join(`\n${indent}  `)}`,
    )
    .join('\n');
}

function imagesYaml(label: string, o: ImageOptions = {}): string {
  const lines = [
    `${label}:`,
    `  filename: image.qcow2`,
    `  glance:`,
    `    name: "Test image ${label}"`,
    `    properties: { default_user: "cirros", os_distro: "cirros" }`,
  ];
  for (const [k, v] of Object.entries(o.glance ?? {})) lines.push(`    ${k}: ${JSON.stringify(v)}`);
  if (o.nova) {
    lines.push('  nova:');
    for (const [k, v] of Object.entries(o.nova)) lines.push(`    ${k}: ${v}`);
  }
  const keyType = o.sshKeyType ? `, key_type: ${o.sshKeyType}` : '';
  const hostKeyCheck = o.hostKeyCheck !== undefined ? `, host_key_check: ${o.hostKeyCheck}` : '';
  lines.push('  tests:', '    environment_name: emu', `    ssh: { username: cirros${hostKeyCheck}${keyType} }`);
  if (o.waitForPort !== null) lines.push(`    wait_for_port: ${o.waitForPort ?? 22}`);
  lines.push(`    port_wait_timeout: ${o.portWaitTimeout ?? 20}`);
  lines.push('    environment_variables: { GREETING: "hello" }');
  if (o.tests?.length) lines.push('    tests_list:', yamlList(o.tests, '      '));
  if (o.extra) lines.push(o.extra);
  return lines.join('\n') + '\n';
}

export function testYaml(emu: Emulator, opts: { password?: string; flavor?: string; netId?: string } = {}): string {
  const u = emu.user;
  return [
    'emu:',
    '  keystone:',
    `    auth_url: ${emu.authUrl}`,
    `    username: ${u.username}`,
    `    password: ${opts.password ?? u.password}`,
    `    project_name: ${u.projectName}`,
    `    user_domain_name: ${u.userDomainName}`,
    `    project_domain_name: ${u.projectDomainName}`,
    '  nova:',
    `    flavor: ${opts.flavor ?? 'm1.tiny'}`,
    '    nics:',
    `      - net_id: ${opts.netId ?? emu.networks[emu.regions[0]].id}`,
    '    main_nic_regexp: "^private$"',
    '    active_timeout: 30',
    '    cleanup_timeout: 20',
    '',
  ].join('\n');
}

export async function stageProject(
  emu: Emulator,
  label: string,
  image: ImageOptions = {},
  env: { password?: string; flavor?: string; netId?: string } = {},
): Promise<StageProject> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-stage-'));
  const imageFile = path.join(dir, 'image.qcow2');
  await fs.writeFile(imageFile, Buffer.alloc(256 * 1024, 7));
  const imagesConfig = path.join(dir, 'images.yaml');
  const testConfig = path.join(dir, 'test.yaml');
  await fs.writeFile(imagesConfig, imagesYaml(label, image));
  await fs.writeFile(testConfig, testYaml(emu, env));
  await fs.mkdir(path.join(dir, 'tests'), { recursive: true });
  return {
    dir,
    imageFile,
    imagesConfig,
    testConfig,
    cloud: { kind: 'test', environment: 'emu', config: { cwd: dir, imagesConfig, testConfig } },
    async shellTest(name, body) {
      const p = path.join(dir, 'tests', name);
      await fs.writeFile(p, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      return p;
    },
    remove: () => fs.rm(dir, { recursive: true, force: true }),
  };
}
