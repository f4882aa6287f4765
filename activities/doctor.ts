/**
 * Host checks: what a lifecycle needs on the worker host that builds and tests
 * images. Each check reports; none throws for a missing tool, so one report
 * shows everything that is missing at once.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { capture } from './process';
import { pythonWithPytest } from './test-runners/tools';

export interface HostInfo {
  hostname: string;
  platform: string;
  pid: number;
  node: string;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  /** A version or a measurement when ok, what is wrong otherwise. */
  detail: string;
  /** What the check is needed for. */
  neededFor: string;
  /** How to install what is missing (only when not ok). */
  fix?: string;
}

export type HostTool =
  | 'disk-image-create'
  | 'qemu-img'
  | 'ssh'
  | 'python3'
  | 'pytest'
  | 'testinfra'
  | 'paramiko'
  | 'novaclient'
  | 'glanceclient'
  | 'guestfish';

interface Probe {
  cmd: string;
  args: string[];
  neededFor: string;
  /** Pulls a version out of the combined output. */
  version: (out: string) => string;
  /** The Debian/Ubuntu package, and the pip alternative, that provide it. */
  fix: string;
}

const firstLine = (out: string) => out.trim().split('\n')[0] ?? '';
const lastLine = (out: string) => out.trim().split('\n').pop() ?? '';
const semver = (out: string) => /\d+\.\d+(\.\d+)?/.exec(out)?.[0] ?? firstLine(out);

/** A python distribution's version, asked through importlib.metadata. */
function pythonPackage(distribution: string, neededFor: string, fix: string): Probe {
  return {
    cmd: 'python3',
    args: ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(distribution)}))`],
    neededFor,
    version: semver,
    fix,
  };
}

const PROBES: Record<HostTool, Probe> = {
  'disk-image-create': {
    cmd: 'disk-image-create',
    args: ['--version'],
    neededFor: 'build',
    version: semver,
    fix: 'apt-get install python3-diskimage-builder (or: pip install diskimage-builder)',
  },
  'qemu-img': {
    cmd: 'qemu-img',
    args: ['--version'],
    neededFor: 'image checks, format conversion',
    version: semver,
    fix: 'apt-get install qemu-utils',
  },
  ssh: {
    cmd: 'ssh',
    args: ['-V'],
    neededFor: 'shell tests, --shell',
    version: firstLine,
    fix: 'apt-get install openssh-client',
  },
  python3: {
    cmd: 'python3',
    args: ['--version'],
    neededFor: 'pytest tests',
    version: semver,
    fix: 'apt-get install python3',
  },
  pytest: {
    cmd: 'python3',
    args: ['-m', 'pytest', '--version'],
    neededFor: 'pytest tests',
    version: semver,
    fix: 'apt-get install python3-pytest (or: pip install pytest)',
  },
  testinfra: pythonPackage(
    'pytest-testinfra',
    'pytest tests (ssh_backend)',
    'apt-get install python3-testinfra (or: pip install pytest-testinfra)',
  ),
  paramiko: pythonPackage(
    'paramiko',
    'pytest tests (ssh_backend)',
    'apt-get install python3-paramiko (or: pip install paramiko)',
  ),
  novaclient: pythonPackage(
    'python-novaclient',
    'pytest tests (nova fixture)',
    'apt-get install python3-novaclient (or: pip install python-novaclient)',
  ),
  glanceclient: pythonPackage(
    'python-glanceclient',
    'pytest tests (glance calls)',
    'apt-get install python3-glanceclient (or: pip install python-glanceclient)',
  ),
  guestfish: {
    cmd: 'guestfish',
    args: ['--version'],
    neededFor: 'image tests with files_exist',
    version: semver,
    fix: 'apt-get install libguestfs-tools',
  },
};

/** Below this much free space in the image directory a build is unlikely to fit. */
const MIN_FREE_BYTES = 10 * 1024 ** 3;

export function createDoctorActivities(deps: { env?: NodeJS.ProcessEnv } = {}) {
  const env = deps.env ?? process.env;

  async function hostInfo(): Promise<HostInfo> {
    return {
      hostname: os.hostname(),
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      pid: process.pid,
      node: process.version,
    };
  }

  async function checkHostTool(input: { tool: HostTool }): Promise<CheckResult> {
    const probe = PROBES[input.tool];
    // The python checks ask the interpreter the pytest runner will use.
    const cmd = probe.cmd === 'python3' ? ((await pythonWithPytest(env)) ?? 'python3') : probe.cmd;
    const r = await capture(cmd, probe.args, { env, timeoutMs: 30_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.code === 0) return { name: input.tool, ok: true, detail: probe.version(out), neededFor: probe.neededFor };
    const why = r.error ?? (lastLine(r.stderr) || `exit code ${r.code}`);
    return { name: input.tool, ok: false, detail: `${probe.cmd}: ${why}`, neededFor: probe.neededFor, fix: probe.fix };
  }

  async function checkDiskSpace(input: { dir: string; minFreeBytes?: number }): Promise<CheckResult> {
    const min = input.minFreeBytes ?? MIN_FREE_BYTES;
    const name = 'disk space';
    const neededFor = `image files in ${input.dir}`;
    try {
      const dir = path.resolve(input.dir);
      const st = await fs.statfs(dir);
      const free = st.bavail * st.bsize;
      const gib = (free / 1024 ** 3).toFixed(1);
      const ok = free >= min;
      const detail = ok ? `${gib} GiB free` : `${gib} GiB free, below ${(min / 1024 ** 3).toFixed(1)} GiB`;
      return { name, ok, detail, neededFor };
    } catch (err) {
      return { name, ok: false, detail: (err as Error).message, neededFor };
    }
  }

  return { hostInfo, checkHostTool, checkDiskSpace };
}
