/** What every runner shares: the options, a log per entry, and the result shape. */
import fs from 'node:fs';
import path from 'node:path';
import { OutputLog } from '../process';
import type { InstanceTestContext, TestCaseResult, TestEntryResult } from './types';

export interface RunOptions {
  signal?: AbortSignal;
  /** Every output line as it arrives (the test activity heartbeats with it). */
  onOutput?: (line: string) => void;
  /** Directory for log files (and, when the context names none, the ssh_config). */
  logDir: string;
  /** Environment the tests start from (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

let counter = 0;

function slug(text: string): string {
  return (
    text
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(-60) || 'test'
  );
}

/** A fresh log file for an entry, in logDir. */
export function openLog(framework: string, what: string, opts: RunOptions): OutputLog {
  fs.mkdirSync(opts.logDir, { recursive: true });
  counter += 1;
  const file = path.join(
    opts.logDir,
    `${new Date().toISOString().replace(/[:.]/g, '-')}-${counter}-${framework}-${slug(path.basename(what))}.log`,
  );
  return new OutputLog(file, opts.onOutput);
}

export function result(
  name: string,
  framework: TestEntryResult['framework'],
  started: number,
  log: OutputLog,
  outcome: { passed: boolean; exitCode?: number | null; reason?: string; cases?: TestCaseResult[] },
): TestEntryResult {
  log.note(outcome.passed ? `dibctl: ${name}: passed` : `dibctl: ${name}: failed: ${outcome.reason ?? 'failed'}`);
  log.close();
  return {
    name,
    framework,
    passed: outcome.passed,
    durationMs: Date.now() - started,
    outputTail: log.tail(),
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    ...(outcome.passed ? {} : { reason: oneLine(outcome.reason ?? 'failed') }),
    logFile: log.file,
    ...(outcome.cases?.length ? { cases: outcome.cases } : {}),
  };
}

/** A test case's result: failures keep their reason (one line) and the end of their output. */
export function caseResult(
  name: string,
  started: number,
  outcome: { passed: boolean; skipped?: boolean; reason?: string; output?: string },
): TestCaseResult {
  return {
    name,
    passed: outcome.passed,
    ...(outcome.skipped ? { skipped: true } : {}),
    durationMs: outcome.skipped ? 0 : Date.now() - started,
    ...(outcome.passed && !outcome.skipped ? {} : { reason: oneLine(outcome.reason ?? 'failed') }),
    ...(!outcome.passed && !outcome.skipped && outcome.output ? { output: outcome.output } : {}),
  };
}

function oneLine(text: string): string {
  const line = text.replace(/\s*\n\s*/g, '; ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Seconds of a test entry to milliseconds; 0 means no limit. */
export function limitMs(seconds: number | undefined): number | undefined {
  return seconds && seconds > 0 ? seconds * 1000 : undefined;
}

/**
 * Where shell and external tests run: the directory the dibctl command
 * was started in (the config location's cwd), as in dibctl, so a test's
 * relative paths mean what they meant there.
 */
export function workingDirectory(ctx: InstanceTestContext): string {
  const dir = ctx.configOptions.cwd;
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(
      `${dir}, the directory dibctl was started in, where tests run, does not exist on this worker's host`,
    );
  return dir;
}
