/**
 * What a TypeScript/JavaScript test (a `ts:` entry) imports as `dibctl/testing`:
 *
 *   import { context, ssh, cloud, waitForPort } from 'dibctl/testing';
 *   test('hostname', async () => {
 *     const s = await ssh();
 *     expect((await s.exec('hostname')).stdout.trim()).toBe(context().instance.name.toLowerCase());
 *     s.close();
 *   });
 *
 * The same facts as dibctl's pytest fixtures, read from the private data file
 * dibctl writes for the run (DIBCTL_TEST_DATA).
 */
import net from 'node:net';
import { connectCloud, Cloud } from '../../openstack';
import { DATA_VARIABLE, readDataFile, TestData } from './data-file';
import { SshSession } from './ssh-session';
import type { InstanceTestContext } from './types';

export type { InstanceTestContext, FlavorInfo, InterfaceInfo, SshAccess, PortWait } from './types';
export { SshSession, shellQuote } from './ssh-session';
export type { ExecOptions, ExecResult } from './ssh-session';

let cached: TestData | undefined;

function data(): TestData {
  if (cached) return cached;
  const file = process.env[DATA_VARIABLE];
  if (!file) throw new Error(`${DATA_VARIABLE} is not set: run these tests with 'dibctl test'`);
  cached = readDataFile(file);
  return cached;
}

/** The instance, flavor, addresses, SSH access, image and environment variables of this run. */
export function context(): InstanceTestContext {
  return data().context;
}

/** A new SSH connection to the instance as the image's user, checking its pinned host key (close it when done). */
export async function ssh(opts: { readyTimeoutMs?: number } = {}): Promise<SshSession> {
  const access = context().ssh;
  if (!access) throw new Error('the image has no tests.ssh section: no SSH access to the instance');
  return SshSession.connect(access, opts);
}

/** An OpenStack client authenticated with the test environment's credentials (close it when done). */
export async function cloud(): Promise<Cloud> {
  const d = data();
  if (!d.cloud) throw new Error(`no cloud client: ${d.cloudError ?? 'no credentials for the test environment'}`);
  return connectCloud(d.cloud);
}

/** True once `port` accepts TCP on `host` (default: the main IP), false after `timeoutSeconds`. */
export async function waitForPort(port = 22, timeoutSeconds = 60, host?: string): Promise<boolean> {
  const target = host ?? context().mainIp;
  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: target, port });
      const done = (ok: boolean) => {
        sock.destroy();
        resolve(ok);
      };
      sock.setTimeout(Math.max(100, Math.min(3000, deadline - Date.now())), () => done(false));
      sock.once('connect', () => done(true));
      sock.once('error', () => done(false));
    });
    if (open) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 300));
  }
}
