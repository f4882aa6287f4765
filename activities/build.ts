/**
 * Building an image with diskimage-builder on this host, as dibctl did:
 * `disk-image-create -a amd64 -o FILE [cli_options] ELEMENTS` with ARCH=amd64
 * and dib.environment_variables, then each external_build command. Output is
 * kept in FILE.log and its tail travels in heartbeats (for the CLI to show);
 * cancellation kills the whole process group. A failed build is final and
 * carries disk-image-create's own exit code.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cancellationSignal, heartbeat } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ImageConfig } from '../config/view';
import { DibctlError, ExitCode } from '../errors';
import { OutputLog, capture, failureReason, runCommandLine, runProcess } from './process';
import { stageActivities } from './stage-failure';

export interface BuildInput {
  label: string;
  /** Absolute path of the image file to produce. */
  output: string;
  /** The image's `dib` section as the config loader reads it. */
  dib?: ImageConfig['dib'];
  externalBuild: string[];
  /** Working directory of the commands (where the CLI read the configs). */
  cwd: string;
}

export interface BuildResult {
  file: string;
  bytes: number | null;
  durationMs: number;
  dibVersion?: string;
  logFile: string;
}

/** Heartbeat of a running build: how many lines so far and the last few (shown live by the CLI). */
export interface BuildHeartbeat {
  step: string;
  lines: number;
  tail: string[];
}

/** disk-image-create (or an external_build command) failed; exits with its code. */
class BuildFailedError extends DibctlError {
  constructor(message: string, exitCode: number) {
    super(message, exitCode === 0 ? ExitCode.GENERIC : exitCode);
  }
}

/** The installed diskimage-builder is outside dib.min_version / dib.max_version. */
class DibVersionError extends DibctlError {}

const DIB_ARCH = 'amd64';

/** The command line dibctl runs (without the program name). */
export function dibArguments(output: string, dib: NonNullable<BuildInput['dib']>): string[] {
  return ['-a', DIB_ARCH, '-o', output, ...dib.cliOptions, ...dib.elements];
}

/** The environment added to the process's for disk-image-create. */
export function dibEnvironment(dib: NonNullable<BuildInput['dib']>): Record<string, string> {
  return { ARCH: DIB_ARCH, ...dib.environmentVariables };
}

function versionParts(v: string): number[] {
  return v.split('.').map((x) => parseInt(x, 10) || 0);
}

/** -1, 0, 1 as a < b, a = b, a > b (numeric X.Y.Z). */
function compareVersions(a: string, b: string): number {
  const x = versionParts(a);
  const y = versionParts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const TAIL_LINES = 20;

export function createBuildActivities(deps: { env?: NodeJS.ProcessEnv } = {}) {
  const baseEnv = deps.env ?? process.env;

  async function dibVersion(env: NodeJS.ProcessEnv): Promise<string> {
    const r = await capture('disk-image-create', ['--version'], { env, timeoutMs: 60_000 });
    if (r.code !== 0)
      throw new BuildFailedError(
        `disk-image-create --version failed: ${r.error ?? (r.stderr.trim() || `exit code ${r.code}`)}`,
        r.code ?? ExitCode.GENERIC,
      );
    const v = /\d+\.\d+(\.\d+)?/.exec(`${r.stdout}\n${r.stderr}`)?.[0];
    if (!v) throw new DibVersionError(`cannot read a version from 'disk-image-create --version': ${r.stdout.trim()}`);
    return v;
  }

  async function buildImage(input: BuildInput): Promise<BuildResult> {
    const started = Date.now();
    await fs.mkdir(path.dirname(input.output), { recursive: true });
    const logFile = `${input.output}.log`;
    let lines = 0;
    let tail: string[] = [];
    let step = 'starting';
    const beat = () => heartbeat({ step, lines, tail } satisfies BuildHeartbeat);
    const log = new OutputLog(logFile, (line) => {
      lines += 1;
      tail = [...tail, line].slice(-TAIL_LINES);
    });
    const ticker = setInterval(beat, 1_000);
    const signal = cancellationSignal();
    let version: string | undefined;
    try {
      if (input.dib) {
        const dib = input.dib;
        const env = { ...baseEnv, ...dibEnvironment(dib) };
        version = await dibVersion(env);
        if (dib.minVersion && compareVersions(version, dib.minVersion) < 0) {
          throw new DibVersionError(
            `diskimage-builder ${version} is older than dib.min_version ${dib.minVersion} of image '${input.label}'`,
          );
        }
        if (dib.maxVersion && compareVersions(version, dib.maxVersion) > 0) {
          throw new DibVersionError(
            `diskimage-builder ${version} is newer than dib.max_version ${dib.maxVersion} of image '${input.label}'`,
          );
        }
        step = 'disk-image-create';
        const args = dibArguments(input.output, dib);
        log.note(`dibctl: disk-image-create ${args.join(' ')}`);
        const o = await runProcess('disk-image-create', args, { cwd: input.cwd, env, signal, output: log });
        if (o.aborted) throw new CancelledFailure('build cancelled; its process group was killed');
        const why = failureReason(o);
        if (why) throw new BuildFailedError(`disk-image-create failed: ${why}`, o.code ?? ExitCode.GENERIC);
      }
      for (const cmdline of input.externalBuild) {
        step = `external_build: ${cmdline}`;
        log.note(`dibctl: external_build: ${cmdline}`);
        const o = await runCommandLine(cmdline, { cwd: input.cwd, env: baseEnv, signal, output: log });
        if (o.aborted) throw new CancelledFailure('external_build cancelled; its process group was killed');
        const why = failureReason(o);
        if (why)
          throw new BuildFailedError(`external_build command '${cmdline}' failed: ${why}`, o.code ?? ExitCode.GENERIC);
      }
      const st = await fs.stat(input.output).catch(() => undefined);
      return {
        file: input.output,
        bytes: st?.size ?? null,
        durationMs: Date.now() - started,
        ...(version ? { dibVersion: version } : {}),
        logFile,
      };
    } finally {
      clearInterval(ticker);
      log.close();
      beat();
    }
  }

  return stageActivities({ buildImage }, { reportsProgress: ['buildImage'] });
}
