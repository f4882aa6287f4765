/**
 * Building an image with diskimage-builder on this host, as dibctl did
 * (what to run is read from this host's config, see BuildInput):
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
import { ConfigError, loadImage } from '../config';
import type { ImageConfig } from '../config/view';
import type { ConfigLocation } from './cloud';
import { DibctlError, ExitCode } from '../errors';
import { OutputLog, capture, failureReason, runCommandLine, runProcess } from './process';
import { stageActivities } from './stage-failure';
import { UnknownPlaceholder, interpolateCommand } from '../common/shell';

/**
 * What to build: the image's label and where its config is. The commands
 * (the `dib` section, external_build) are read from that config on the
 * building host, never carried in the input.
 */
export interface BuildInput {
  label: string;
  /** Absolute path of the image file to produce (`-o`); default: the configured filename. */
  output?: string;
  /** Where the configs are on the building host; `cwd` is also the commands' working directory. */
  config: ConfigLocation;
}

/** What the build runs, read from the host's config. */
interface BuildPlan {
  output: string;
  dib?: NonNullable<ImageConfig['dib']>;
  externalBuild: string[];
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

/**
 * An external_build command line with its `%(filename)s` (the image file) and
 * `%(label)s` placeholders filled in, each value shell-quoted (as dibctl's
 * `%(filename)s`, and as the other commands' placeholders).
 */
function externalBuildCommand(template: string, values: { filename: string; label: string }): string {
  try {
    return interpolateCommand(template, values);
  } catch (err) {
    if (err instanceof UnknownPlaceholder)
      throw new ConfigError(`${values.label}.external_build: '${template}': ${err.message}`);
    throw err;
  }
}

/** The command line dibctl runs (without the program name). */
export function dibArguments(output: string, dib: NonNullable<ImageConfig['dib']>): string[] {
  return ['-a', DIB_ARCH, '-o', output, ...dib.cliOptions, ...dib.elements];
}

/** The environment added to the process's for disk-image-create. */
export function dibEnvironment(dib: NonNullable<ImageConfig['dib']>): Record<string, string> {
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

  /**
   * The image's dib section and external_build commands from the config on
   * this host. An input without a config location is of an older dibctl that
   * carried the commands themselves: refused, they are never run.
   */
  function buildPlan(input: BuildInput): BuildPlan {
    if (!input || typeof input.label !== 'string' || !input.config || typeof input.config.cwd !== 'string') {
      throw new ConfigError(
        `build of '${String(input?.label)}': the input names no config location (a build started by an older dibctl, whose input carried commands); start the build again`,
      );
    }
    const image = loadImage(input.label, {
      ...input.config,
      env: baseEnv,
      ...(input.output ? { filename: path.resolve(input.config.cwd, input.output) } : {}),
    });
    if (!image.dib && image.externalBuild.length === 0) {
      throw new ConfigError(
        `${image.file}: ${input.label}: has neither a dib section nor external_build: nothing to build`,
      );
    }
    return { output: image.filename, ...(image.dib ? { dib: image.dib } : {}), externalBuild: image.externalBuild };
  }

  async function buildImage(input: BuildInput): Promise<BuildResult> {
    const started = Date.now();
    const plan = buildPlan(input);
    const cwd = input.config.cwd;
    await fs.mkdir(path.dirname(plan.output), { recursive: true });
    const logFile = `${plan.output}.log`;
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
      // a wrong placeholder is found before disk-image-create runs
      const commands = plan.externalBuild.map((t) =>
        externalBuildCommand(t, { filename: plan.output, label: input.label }),
      );
      if (plan.dib) {
        const dib = plan.dib;
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
        const args = dibArguments(plan.output, dib);
        log.note(`dibctl: disk-image-create ${args.join(' ')}`);
        const o = await runProcess('disk-image-create', args, { cwd, env, signal, output: log });
        if (o.aborted) throw new CancelledFailure('build cancelled; its process group was killed');
        const why = failureReason(o);
        if (why) throw new BuildFailedError(`disk-image-create failed: ${why}`, o.code ?? ExitCode.GENERIC);
      }
      for (const cmdline of commands) {
        step = `external_build: ${cmdline}`;
        log.note(`dibctl: external_build: ${cmdline}`);
        const o = await runCommandLine(cmdline, { cwd, env: baseEnv, signal, output: log });
        if (o.aborted) throw new CancelledFailure('external_build cancelled; its process group was killed');
        const why = failureReason(o);
        if (why)
          throw new BuildFailedError(`external_build command '${cmdline}' failed: ${why}`, o.code ?? ExitCode.GENERIC);
      }
      const st = await fs.stat(plan.output).catch(() => undefined);
      return {
        file: plan.output,
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
