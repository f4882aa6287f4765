/**
 * A real Keystone and Glance for tests, started by scripts/real-openstack.js in
 * a directory of its own and stopped by the PIDs the script recorded.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'real-openstack.js');

export interface RealUser {
  username: string;
  password: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  userId: string;
  projectId: string;
}

export interface RealOpenStack {
  dir: string;
  region: string;
  keystone: { url: string; authUrl: string; log: string };
  glance: { url: string; log: string };
  admin: RealUser;
  /** Ordinary member of project demo. */
  demo: RealUser;
  /** Ordinary member of project alt. */
  alt: RealUser;
  pids: { keystone: number; glance: number };
  startSeconds: number;
  stop(): Promise<void>;
}

/** Why the real services cannot run here, or undefined when they can. */
export function realOpenStackUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the real Keystone and Glance run only on Linux';
  const installed = (() => {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import keystone, glance'], { stdio: 'ignore' });
      return fs.existsSync('/usr/bin/keystone-wsgi-public');
    } catch {
      return false;
    }
  })();
  if (installed) return undefined;
  if (typeof process.getuid === 'function' && process.getuid() === 0 && fs.existsSync('/usr/bin/apt-get'))
    return undefined;
  return 'python3-keystone and python3-glance are not installed and installing them needs root and apt-get';
}

/** Starts the services in a fresh directory (or the given one) and returns where they are. */
export async function startRealOpenStack(dir?: string): Promise<RealOpenStack> {
  const stateDir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'real-openstack-'));
  const ownDir = !dir;
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)(process.execPath, [SCRIPT, 'start', '--dir', stateDir, '--json'], {
      maxBuffer: 4 * 1024 * 1024,
      timeout: 600_000,
    }));
  } catch (err) {
    // A half-started stack must not outlive the failure
    execFileSync(process.execPath, [SCRIPT, 'stop', '--dir', stateDir], { stdio: 'ignore' });
    const e = err as { stderr?: string; message: string };
    throw new Error(`real Keystone/Glance did not start: ${e.stderr || e.message}`);
  }
  const info = JSON.parse(stdout) as Omit<RealOpenStack, 'stop'>;
  return {
    ...info,
    async stop() {
      await promisify(execFile)(process.execPath, [SCRIPT, 'stop', '--dir', stateDir]);
      if (ownDir) fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
