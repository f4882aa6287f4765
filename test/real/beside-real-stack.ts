/**
 * What the tier's end-to-end suites share: the emulator as compute and network
 * only beside the real Keystone and Glance, dibctl's workers on a Temporal dev
 * server with a state directory of their own, and the environment that points
 * the built CLI at that server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { envWithout } from '../config/helpers';
import { dibctlEnv } from '../stages/cli-support';
import { TestTemporal, useTemporal } from '../support/temporal';
import { stack, user } from './stack';

interface BesideRealStack {
  emu: Emulator;
  temporal: TestTemporal;
  stateDir: string;
  /** The environment for the built CLI: the suite's Temporal server, its state directory, no OS_* settings of the caller. */
  cliEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
}

/** Call at describe level inside `describeReal`; everything is stopped and removed after the suite. */
export function useDibctlBesideRealStack(opts: { bootDelayMs?: number } = {}): () => BesideRealStack {
  const temporal = useTemporal();
  let emu: Emulator | undefined;
  let stateDir: string | undefined;
  beforeAll(async () => {
    const account = (who: 'admin' | 'demo') => ({
      username: user(who).username,
      password: user(who).password,
      projectName: user(who).projectName,
    });
    emu = await startEmulator({
      regions: [stack!.region],
      identity: {
        authUrl: stack!.keystone.authUrl,
        adminCredentials: account('admin'),
        userCredentials: account('demo'),
      },
      imageService: 'external',
      faults: { bootDelayMs: opts.bootDelayMs ?? 200 },
    });
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-state-'));
    await temporal().startWorkers('dibctl', { env: envWithout({ DIBCTL_STATE_DIR: stateDir }) });
  }, 120_000);
  afterAll(async () => {
    await emu?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });
  return () => {
    if (!emu || !stateDir) throw new Error('the emulator beside the real stack is not started');
    const dir = stateDir;
    const noOpenStackSettings = Object.fromEntries(
      Object.keys(process.env)
        .filter((k) => k.startsWith('OS_'))
        .map((k) => [k, undefined]),
    );
    return {
      emu,
      temporal: temporal(),
      stateDir: dir,
      cliEnv: (extra = {}) => dibctlEnv(temporal(), dir, { ...noOpenStackSettings, ...extra }),
    };
  };
}
