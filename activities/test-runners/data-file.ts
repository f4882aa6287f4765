/**
 * The private file a pytest or TypeScript test run reads its context from:
 * the instance test context plus, when they resolve, the test environment's
 * cloud credentials. Written 0600 in a 0700 directory, named by the
 * DIBCTL_TEST_DATA variable, deleted when the run ends. Secrets never go on
 * a command line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveCredentials } from '../../config/credentials';
import type { CloudAuth } from '../../openstack/auth-types';
import type { InstanceTestContext } from './types';

export const DATA_VARIABLE = 'DIBCTL_TEST_DATA';

export interface TestData {
  version: 1;
  context: InstanceTestContext;
  /** Credentials of the test environment, when they resolved. */
  cloud?: CloudAuth;
  /** Why there are no credentials (secret-free). */
  cloudError?: string;
  /** The ssh command line of `context.ssh` as unquoted words (pytest's `ssh['command_line']`). */
  sshCommandWords?: string[];
}

interface DataFile {
  file: string;
  remove(): void;
}

/** The test environment's credentials, resolved on this host the way the rest of dibctl resolves them. */
export function testCredentials(
  ctx: InstanceTestContext,
  env: NodeJS.ProcessEnv = process.env,
): { cloud?: CloudAuth; cloudError?: string } {
  if (!ctx.testEnvironment) return { cloudError: 'the context names no test environment' };
  try {
    const { auth } = resolveCredentials('test', ctx.testEnvironment, {
      cwd: ctx.configOptions.cwd,
      env,
      ...(ctx.configOptions.testConfig ? { testConfig: ctx.configOptions.testConfig } : {}),
    });
    return { cloud: auth };
  } catch (err) {
    return {
      cloudError: `credentials of test environment '${ctx.testEnvironment}': ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

/** Data directories are named after the worker process that wrote them: `dibctl-test-data-PID-` and a random suffix. */
const DIR_PREFIX = 'dibctl-test-data-';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the data files of test runs whose worker is gone (killed before it
 * could delete them: they hold the test environment's credentials). Returns
 * the directories removed.
 */
export function removeOrphanedDataFiles(tmp: string = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const dir = path.join(tmp, name);
    try {
      if (fs.lstatSync(dir).uid !== (process.getuid?.() ?? -1)) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

export function writeDataFile(data: Omit<TestData, 'version'>): DataFile {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  fs.chmodSync(dir, 0o700);
  const file = path.join(dir, 'context.json');
  fs.writeFileSync(file, JSON.stringify({ version: 1, ...data }), { mode: 0o600 });
  return {
    file,
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function readDataFile(file: string): TestData {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TestData;
}
