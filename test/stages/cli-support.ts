/** Runs `dibctl` against a stage test's dev server and emulator project, and reads what the cloud holds. */
import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { connectCloud } from '../../openstack';
import { DIBCTL_BIN, cleanTemporalEnv, runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';
import type { TestTemporal } from '../support/temporal';
import { ImageOptions, StageProject, stageProject } from './fixture';

export function dibctlEnv(t: TestTemporal, stateDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return cleanTemporalEnv({
    TEMPORAL_ADDRESS: t.server.address,
    TEMPORAL_NAMESPACE: t.server.namespace,
    DIBCTL_STATE_DIR: stateDir,
    ...extra,
  });
}

export function configArgs(p: StageProject): string[] {
  return ['--images-config', p.imagesConfig, '--test-config', p.testConfig];
}

/** A running dibctl whose output can be awaited line by line. */
interface LiveDibctl {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

export function startDibctl(args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string }): LiveDibctl {
  const env = { ...process.env, ...opts.env };
  for (const [k, v] of Object.entries(opts.env)) if (v === undefined) delete env[k];
  const child = spawn(process.execPath, [DIBCTL_BIN, ...args], {
    env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(re, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(out + err)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output:\n${out}\n${err}`);
        if (child.exitCode !== null)
          throw new Error(`dibctl exited (${child.exitCode}) before ${re}; output:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Test objects (DIBCTL-*) the first region still holds. */
export function dibctlObjects(emu: Emulator): { servers: string[]; keypairs: string[]; images: string[] } {
  const r = emu.state().regions[emu.regions[0]];
  const mine = (n: string | null) => Boolean(n && n.startsWith('DIBCTL-'));
  return {
    servers: r.servers.filter((s) => mine(s.name)).map((s) => s.id),
    keypairs: r.keypairs.filter((k) => mine(k.name)).map((k) => k.name),
    images: r.images.filter((i) => mine(i.name)).map((i) => i.id),
  };
}

export const NOTHING_LEFT = { servers: [], keypairs: [], images: [] };

/** Removes what a test deliberately kept (dibctlObjects' answer), as the emulator's user. */
export async function removeByHand(
  emu: Emulator,
  left: { servers: string[]; keypairs: string[]; images: string[] },
): Promise<void> {
  const u = emu.user;
  const cloud = await connectCloud({
    authUrl: emu.authUrl,
    username: u.username,
    password: u.password,
    projectName: u.projectName,
    userDomainName: u.userDomainName,
    projectDomainName: u.projectDomainName,
  });
  try {
    for (const s of left.servers) await cloud.compute.deleteServer(s);
    for (const k of left.keypairs) await cloud.compute.deleteKeypair(k);
    for (const i of left.images) await cloud.image.deleteImage(i);
  } finally {
    cloud.close();
  }
}

/** The workflow id dibctl test prints on stderr. */
export function workflowIdOf(stderr: string): string {
  const m = /Image test workflow (\S+)/.exec(stderr);
  if (!m) throw new Error(`no workflow id in: ${stderr}`);
  return m[1];
}

/** What the stage suites boot with: one region, quick boots. */
const SUITE_FAULTS = { bootDelayMs: 200 };

/**
 * What a stage suite shares: an emulator, dibctl's workers on the suite's dev
 * server with a state directory of their own, and the projects its tests make
 * (removed after the suite); faults a test sets are undone after it. Call at
 * describe level.
 */
export function useStageCloud(stateDirPrefix: string) {
  const temporal = useTemporal();
  let emu: Emulator;
  let stateDir: string;
  const projects: StageProject[] = [];
  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], faults: SUITE_FAULTS });
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), stateDirPrefix));
    await temporal().startWorkers('dibctl', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterAll(async () => {
    for (const p of projects) await p.remove();
    await emu?.stop();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });
  afterEach(() => {
    emu.faults.reset();
    emu.faults.set(SUITE_FAULTS);
  });
  return {
    temporal,
    emu: () => emu,
    stateDir: () => stateDir,
    /** A project of image `cirros` (removed after the suite). */
    async project(image: ImageOptions = {}): Promise<StageProject> {
      const p = await stageProject(emu, 'cirros', image);
      projects.push(p);
      return p;
    },
    /** The built dibctl in the project's directory, with its config files, against the suite's server. */
    dibctl: (p: StageProject, args: string[]) =>
      runDibctl([...args, ...configArgs(p)], { cwd: p.dir, env: dibctlEnv(temporal(), stateDir), timeoutMs: 120_000 }),
  };
}
