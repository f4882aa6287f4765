import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDibctl } from '../support/cli';
import { recordHistory } from '../support/histories';
import { useTemporal } from '../support/temporal';
import { dibctlEnv, startDibctl } from './cli-support';
import { failureOf } from '../../errors/failure';
import { localHostQueue } from '../../worker/worker';
import { imageBuildWorkflow } from '../../workflows';
import type { ImageBuildInput } from '../../workflows';

/** A stand-in disk-image-create: records its arguments and environment, writes the file, prints, exits as told. */
const STAND_IN = `#!/bin/sh
if [ "$1" = "--version" ]; then echo "\${FAKE_DIB_VERSION:-3.31.0}"; exit 0; fi
rec="\${FAKE_DIB_RECORD:?}"
printf '%s\\n' "$@" > "$rec.args"
echo "ARCH=$ARCH" > "$rec.env"
echo "DIB_RELEASE=$DIB_RELEASE" >> "$rec.env"
echo "ELEMENTS_PATH=$ELEMENTS_PATH" >> "$rec.env"
out=""
while [ $# -gt 0 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done
for i in 1 2 3; do echo "building step $i"; done
echo "warning on stderr" >&2
if [ -n "$FAKE_DIB_SLEEP" ]; then sleep "$FAKE_DIB_SLEEP" & echo $! > "$rec.child"; wait; fi
if [ "\${FAKE_DIB_EXIT:-0}" != 0 ]; then echo "dib failed"; exit "$FAKE_DIB_EXIT"; fi
echo "qcow2 data" > "$out"
echo "Image file $out created..."
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Why a real diskimage-builder build cannot run here, or undefined when it can. */
function realDibSkipReason(): string | undefined {
  if (process.env.DIBCTL_REAL_DIB === '0') return 'DIBCTL_REAL_DIB=0';
  const has = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!has('disk-image-create', ['--version']))
    return 'disk-image-create is not installed (Debian: python3-diskimage-builder)';
  if (!has('sh', ['-c', 'command -v debootstrap'])) return 'debootstrap is not installed';
  if (process.getuid?.() !== 0) return 'needs root for loop devices';
  return undefined;
}

describe('dibctl build with a stand-in disk-image-create', () => {
  const temporal = useTemporal();
  let dir: string;
  let stateDir: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-build-'));
    stateDir = path.join(dir, 'state');
    await fs.mkdir(path.join(dir, 'bin'));
    await fs.writeFile(path.join(dir, 'bin', 'disk-image-create'), STAND_IN, { mode: 0o755 });
    await fs.mkdir(path.join(dir, 'elements'));
    await fs.writeFile(
      path.join(dir, 'images.yaml'),
      [
        'xenial:',
        '  filename: out/xenial.qcow2',
        '  dib:',
        '    elements: [ubuntu-minimal, vm]',
        '    cli_options: ["--no-tmpfs", "-x"]',
        '    environment_variables: { DIB_RELEASE: "xenial", ELEMENTS_PATH: "elements" }',
        '    min_version: "2.0.0"',
        '    max_version: "4.0.0"',
        '  external_build:',
        '    - cmdline: "test -f out/xenial.qcow2 && echo after-dib >> out/external.txt"',
        'old-dib:',
        '  filename: out/old.qcow2',
        '  dib:',
        '    elements: [vm]',
        '    min_version: "9.0.0"',
        // dibctl's example: external_build commands name the image file with %(filename)s
        'spaced:',
        '  filename: out/with space.qcow2',
        '  dib: { elements: [vm] }',
        '  external_build:',
        '    - cmdline: "cp %(filename)s %(filename)s.copy && echo %(label)s > out/label.txt"',
        'misspelt:',
        '  filename: out/misspelt.qcow2',
        '  dib: { elements: [vm] }',
        '  external_build:',
        '    - cmdline: "qemu-img convert %(file_name)s out/x.raw"',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const buildEnv = (extra: NodeJS.ProcessEnv = {}) =>
    dibctlEnv(temporal(), stateDir, {
      PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
      FAKE_DIB_RECORD: path.join(dir, 'rec'),
      ...extra,
    });

  it('runs disk-image-create as dibctl did, prints command, environment and output, then external_build', async () => {
    const r = await runDibctl(['build', 'xenial'], { cwd: dir, env: buildEnv() });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const out = path.join(dir, 'out', 'xenial.qcow2');
    expect(r.stdout.split('\n')[0]).toBe(`disk-image-create -a amd64 -o ${out} --no-tmpfs -x ubuntu-minimal vm`);
    expect(r.stdout).toContain(
      `Environment: ARCH=amd64 DIB_RELEASE=xenial ELEMENTS_PATH=${path.join(dir, 'elements')}`,
    );
    expect(r.stdout).toMatch(/building step 1\n.*building step 2\n.*building step 3/s);
    expect(r.stdout).toContain('warning on stderr');
    expect((await fs.readFile(path.join(dir, 'rec.args'), 'utf8')).trim().split('\n')).toEqual([
      '-a',
      'amd64',
      '-o',
      out,
      '--no-tmpfs',
      '-x',
      'ubuntu-minimal',
      'vm',
    ]);
    expect(await fs.readFile(path.join(dir, 'rec.env'), 'utf8')).toBe(
      `ARCH=amd64\nDIB_RELEASE=xenial\nELEMENTS_PATH=${path.join(dir, 'elements')}\n`,
    );
    expect(await fs.readFile(out, 'utf8')).toBe('qcow2 data\n');
    expect(await fs.readFile(path.join(dir, 'out', 'external.txt'), 'utf8')).toBe('after-dib\n');
    const id = /Build workflow (\S+)/.exec(r.stderr)![1];
    await recordHistory(temporal().client.workflow.getHandle(id), 'image-build');
  });

  it('-o chooses the output file; a rebuild shows only its own output', async () => {
    const first = await runDibctl(['build', 'xenial', '-o', 'custom.img'], { cwd: dir, env: buildEnv() });
    expect(first.code).toBe(0);
    const r = await runDibctl(['build', 'xenial', '-o', 'custom.img'], { cwd: dir, env: buildEnv() });
    expect(r.code).toBe(0);
    expect(r.stdout.match(/building step 1/g)).toHaveLength(1);
    expect(await fs.readFile(path.join(dir, 'custom.img.log'), 'utf8')).toMatch(/building step 1[^]*building step 1/);
    expect(await fs.readFile(path.join(dir, 'custom.img'), 'utf8')).toBe('qcow2 data\n');
  });

  it('fills %(filename)s and %(label)s into external_build commands, quoted; a wrong placeholder runs nothing', async () => {
    const r = await runDibctl(['build', 'spaced'], { cwd: dir, env: buildEnv() });
    expect(r.code).toBe(0);
    const image = path.join(dir, 'out', 'with space.qcow2');
    expect(await fs.readFile(`${image}.copy`, 'utf8')).toBe('qcow2 data\n');
    expect(await fs.readFile(path.join(dir, 'out', 'label.txt'), 'utf8')).toBe('spaced\n');

    await fs.rm(path.join(dir, 'rec.args'), { force: true });
    const bad = await runDibctl(['build', 'misspelt'], { cwd: dir, env: buildEnv() });
    expect(bad.code).toBe(10);
    expect(bad.stderr).toMatch(
      /misspelt\.external_build: .*unknown placeholder %\(file_name\)s \(known: %\(filename\)s, %\(label\)s\)/,
    );
    await expect(fs.access(path.join(dir, 'rec.args'))).rejects.toThrow();
  });

  it("exits with disk-image-create's own exit code and skips external_build when the build fails", async () => {
    await fs.rm(path.join(dir, 'out'), { recursive: true, force: true });
    const r = await runDibctl(['build', 'xenial'], { cwd: dir, env: buildEnv({ FAKE_DIB_EXIT: '3' }) });
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('dib failed');
    expect(r.stderr).toMatch(/disk-image-create failed: exit code 3/);
    // 3 is disk-image-create's code, not dibctl's: the next step points to the build's output
    expect(r.stderr).toMatch(
      /^Next step: the build's output is above and in \S+\.log on the worker's host; 'dibctl doctor'/m,
    );
    await expect(fs.access(path.join(dir, 'out', 'external.txt'))).rejects.toThrow();
  });

  it('refuses an installed diskimage-builder outside min_version/max_version without running it', async () => {
    await fs.rm(path.join(dir, 'rec.args'), { force: true });
    const r = await runDibctl(['build', 'old-dib'], { cwd: dir, env: buildEnv() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/diskimage-builder 3\.31\.0 is older than dib\.min_version 9\.0\.0 of image 'old-dib'/);
    await expect(fs.access(path.join(dir, 'rec.args'))).rejects.toThrow();
    const newer = await runDibctl(['build', 'xenial'], { cwd: dir, env: buildEnv({ FAKE_DIB_VERSION: '4.1.0' }) });
    expect(newer.code).toBe(1);
    expect(newer.stderr).toMatch(/newer than dib\.max_version 4\.0\.0/);
    expect(newer.stderr).toMatch(/^Next step: install a diskimage-builder within the image's dib\.min_version/m);
  });

  it('exits 11 for an unknown label and 10 for an invalid images config, before any workflow', async () => {
    expect((await runDibctl(['build', 'nope'], { cwd: dir, env: buildEnv() })).code).toBe(11);
    const bad = path.join(dir, 'bad.yaml');
    await fs.writeFile(bad, 'x:\n  filename: a\n  dib: { elements: [] }\n');
    const r = await runDibctl(['build', 'x', '--images-config', bad], { cwd: dir, env: buildEnv() });
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(/bad\.yaml/);
  });

  it('Ctrl-C cancels the build and kills its whole process group', async () => {
    await fs.rm(path.join(dir, 'rec.child'), { force: true });
    const live = startDibctl(['build', 'xenial'], { cwd: dir, env: buildEnv({ FAKE_DIB_SLEEP: '120' }) });
    await live.waitFor(/building step 3/);
    const child = Number(await fs.readFile(path.join(dir, 'rec.child'), 'utf8'));
    expect(alive(child)).toBe(true);
    live.child.kill('SIGINT');
    const code = await live.exited;
    expect(code).not.toBe(0);
    const deadline = Date.now() + 10_000;
    while (alive(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(child)).toBe(false);
  });

  // A real build: Debian's diskimage-builder, as root (loop devices), debootstrapping a
  // Debian release from the Debian mirror into a filesystem image (no partitions: the
  // kernel here has no device-mapper for kpartx, so `vm` cannot be built).
  const skipReal = realDibSkipReason();
  (skipReal ? it.skip : it)(
    `builds with the real diskimage-builder${skipReal ? ` (skipped: ${skipReal})` : ''}`,
    async () => {
      const elements = (process.env.DIBCTL_REAL_DIB_ELEMENTS ?? 'debian-minimal').split(/\s+/).filter(Boolean);
      const dibEnv: Record<string, string> = {
        DIB_RELEASE: process.env.DIB_RELEASE ?? 'bookworm',
        DIB_DISTRIBUTION_MIRROR: process.env.DIB_DISTRIBUTION_MIRROR ?? 'http://deb.debian.org/debian',
        DIB_DEBIAN_SECURITY_MIRROR: process.env.DIB_DEBIAN_SECURITY_MIRROR ?? 'http://deb.debian.org/debian-security',
        // the security suite is <release>-security since bullseye; the element still defaults to <release>/updates
        DIB_DEBIAN_SECURITY_SUBPATH: process.env.DIB_DEBIAN_SECURITY_SUBPATH ?? '-security',
      };
      const cfg = path.join(dir, 'real.yaml');
      await fs.writeFile(
        cfg,
        [
          'real:',
          '  filename: out/real.qcow2',
          '  dib:',
          `    elements: [${elements.join(', ')}]`,
          `    environment_variables: ${JSON.stringify(dibEnv)}`,
          '    min_version: "3.0.0"',
          '',
        ].join('\n'),
      );
      const r = await runDibctl(['build', 'real', '--images-config', cfg], {
        cwd: dir,
        env: dibctlEnv(temporal(), stateDir),
        timeoutMs: 3_000_000,
      });
      if (r.code !== 0)
        throw new Error(`dibctl build exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
      const out = path.join(dir, 'out', 'real.qcow2');
      expect(r.stdout.split('\n')[0]).toBe(`disk-image-create -a amd64 -o ${out} ${elements.join(' ')}`);
      // disk-image-create's own output, streamed through the workflow
      expect(r.stdout).toContain('Build completed successfully');
      const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', out], { encoding: 'utf8' })) as {
        format: string;
        'virtual-size': number;
      };
      expect(info.format).toBe('qcow2');
      expect(info['virtual-size']).toBeGreaterThan(100 * 1024 * 1024);
      await fs.rm(out, { force: true });
    },
    3_600_000,
  );
});

describe('a build workflow runs only what the config on its host says', () => {
  const temporal = useTemporal();
  const queue = 'dibctl-build-inputs';
  let dir: string;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-build-inputs-'));
    await fs.mkdir(path.join(dir, 'bin'));
    await fs.writeFile(path.join(dir, 'bin', 'disk-image-create'), STAND_IN, { mode: 0o755 });
    await fs.writeFile(
      path.join(dir, 'images.yaml'),
      [
        'plain:',
        '  filename: out/plain.img',
        '  external_build:',
        '    - cmdline: "echo built > out/plain.img"',
        '',
      ].join('\n'),
    );
    await temporal().startWorkers(queue, {
      env: {
        ...process.env,
        PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
        FAKE_DIB_RECORD: path.join(dir, 'rec'),
      },
    });
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const start = (build: Record<string, unknown>, id: string) =>
    temporal().client.workflow.start(imageBuildWorkflow, {
      taskQueue: queue,
      workflowId: id,
      args: [{ build, hostQueue: localHostQueue(queue) } as unknown as ImageBuildInput],
    });

  it('commands and dib variables in a hand-started input are not run; the config of the host is', async () => {
    const marker = path.join(dir, 'injected');
    const handle = await start(
      {
        label: 'plain',
        config: { cwd: dir },
        externalBuild: [`touch ${marker}`],
        dib: { elements: ['vm'], cliOptions: [], environmentVariables: { BASH_ENV: marker }, touch: marker },
      },
      'build-inputs-new',
    );
    const r = await handle.result();
    expect(r.file).toBe(path.join(dir, 'out', 'plain.img'));
    expect(await fs.readFile(r.file, 'utf8')).toBe('built\n');
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(path.join(dir, 'rec.args'))).toBe(false);
  });

  it('an input of the older shape (commands, no config location) is refused and runs nothing', async () => {
    const marker = path.join(dir, 'injected-old');
    const handle = await start(
      { label: 'plain', output: path.join(dir, 'old.img'), externalBuild: [`touch ${marker}`], cwd: dir },
      'build-inputs-old',
    );
    await expect(handle.result()).rejects.toThrow();
    const failure = await handle.result().catch((err: unknown) => failureOf(err as Error).message);
    expect(failure).toContain('names no config location');
    expect(existsSync(marker)).toBe(false);
  });
});
