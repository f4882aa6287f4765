/**
 * `dibctl doctor` on a host that lacks tools: it names the package that
 * provides each missing one, and fails only when a configured image needs it.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanTemporalEnv, runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';

const IMAGES = [
  'built:',
  '  filename: built.qcow2',
  '  dib: {elements: [ubuntu, vm]}',
  'checked:',
  '  filename: checked.qcow2',
  '  tests:',
  '    tests_list:',
  '      - image: checked.qcow2',
  '        format: qcow2',
  'probed:',
  '  filename: probed.qcow2',
  '  tests:',
  '    tests_list:',
  '      - pytest: tests/probe.py',
  '',
].join('\n');

describe('dibctl doctor on a host lacking tools', () => {
  const temporal = useTemporal();
  let dir: string;
  let bin: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-doctor-fix-'));
    bin = path.join(dir, 'bin');
    await fs.mkdir(bin);
    // the only tool on PATH: a disk-image-create that answers with its version
    await fs.writeFile(path.join(bin, 'disk-image-create'), '#!/bin/sh\necho 3.31.0\n', { mode: 0o755 });
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  const doctor = (cwd: string, args: string[] = []) =>
    runDibctl([...args, 'doctor', '--image-dir', dir], {
      cwd,
      // no python but the one on PATH (there is none), no qemu-img, ssh, guestfish
      env: cleanTemporalEnv({ TEMPORAL_ADDRESS: temporal().server.address, PATH: bin, DIBCTL_PYTHON: 'python3' }),
    });

  it('exits 1 naming the image that needs each missing tool and the package that provides it', async () => {
    const project = path.join(dir, 'all');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'images.yaml'), IMAGES);
    const r = await doctor(project);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^disk-image-create\s+ok\s+3\.31\.0/m);
    expect(r.stdout).toMatch(/^qemu-img\s+MISSING/m);
    expect(r.stdout).toContain('To install what is missing:');
    expect(r.stdout).toContain('  ssh: apt-get install openssh-client');
    expect(r.stdout).toContain('  guestfish: apt-get install libguestfs-tools');
    expect(r.stdout).toContain('qemu-img is missing, needed by image checked: apt-get install qemu-utils');
    expect(r.stdout).toContain(
      'pytest is missing, needed by image probed: apt-get install python3-pytest (or: pip install pytest)',
    );
    expect(r.stdout).toContain(
      'paramiko is missing, needed by image probed: apt-get install python3-paramiko (or: pip install paramiko)',
    );
    expect(r.stdout).toContain('novaclient is missing, needed by image probed: apt-get install python3-novaclient');
    // nothing configured needs them: ssh and guestfish are listed with their fix, not blamed on an image
    expect(r.stdout).not.toMatch(/^(ssh|guestfish) is missing/m);
    expect(r.stdout).not.toMatch(/disk-image-create is missing/);
  });

  it('exits 0 when what the images need is present, although other tools are missing', async () => {
    const project = path.join(dir, 'dib-only');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'images.yaml'), IMAGES.split('checked:')[0]);
    const r = await doctor(project);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Everything the images in images.yaml need is present.');
    expect(r.stdout).toContain('  qemu-img: apt-get install qemu-utils');
  });

  it('--json gives each check with its fix and the images that need it', async () => {
    const project = path.join(dir, 'all');
    const r = await doctor(project, ['--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.imagesConfig).toEqual(['images.yaml']);
    const byName = Object.fromEntries(report.checks.map((c: { name: string }) => [c.name, c]));
    expect(byName['qemu-img']).toMatchObject({ ok: false, fix: 'apt-get install qemu-utils', neededBy: ['checked'] });
    expect(byName['disk-image-create']).toMatchObject({ ok: true, neededBy: ['built'] });
    expect(byName.glanceclient).toMatchObject({ ok: false, neededBy: ['probed'] });
    expect(byName.glanceclient.fix).toMatch(/python3-glanceclient.*pip install python-glanceclient/);
  });

  it('an invalid images config is refused before any check runs, exit 10', async () => {
    const project = path.join(dir, 'broken');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'images.yaml'), 'bad:\n  filename: x\n  dib: {elements: []}\n');
    const r = await doctor(project);
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/images\.yaml.*bad\.dib\.elements/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
