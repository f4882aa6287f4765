/**
 * A real Keystone and Glance (Debian's) for the benches, started by
 * scripts/real-openstack.js in a directory of its own and stopped by the
 * PIDs it recorded. BENCH_REAL_GLANCE=0 leaves them out; where they cannot
 * run, the benches say so and go on without them.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'real-openstack.js');

export interface RealOpenStack {
  region: string;
  authUrl: string;
  admin: { username: string; password: string; projectName: string };
  stop(): Promise<void>;
}

export async function startRealOpenStack(bench: string): Promise<RealOpenStack | undefined> {
  if (process.env.BENCH_REAL_GLANCE === '0') return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-bench-glance-'));
  const stop = async () => {
    await promisify(execFile)(process.execPath, [SCRIPT, 'stop', '--dir', dir]).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, 'start', '--dir', dir, '--json'], {
      timeout: 600_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    const info = JSON.parse(stdout) as {
      region: string;
      keystone: { authUrl: string };
      admin: { username: string; password: string; projectName: string };
    };
    return { region: info.region, authUrl: info.keystone.authUrl, admin: info.admin, stop };
  } catch (err) {
    await stop();
    process.stderr.write(`bench ${bench}: no real Glance (${(err as Error).message.split('\n')[0]})\n`);
    return undefined;
  }
}
