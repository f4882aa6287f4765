/**
 * dibctl's shell tests: an executable file, or a directory whose executable
 * files (its subdirectories' too) run in name order, outside the instance, in
 * the directory the dibctl command was started in, with the DIBCTL_* variables.
 * The entry's time limit covers all of them; the first failure stops the rest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RunOptions, caseResult, errorText, limitMs, openLog, result, workingDirectory } from './entry';
import { ensureSshConfig, testProcessEnvironment } from './environment';
import { failureReason, runProcess } from '../process';
import type { InstanceTestContext, TestCaseResult, TestEntryResult } from './types';

interface ShellSpec {
  path: string;
  /** Seconds for the whole entry; 0: no limit. */
  timeout: number;
  /** Keep running the other files of a directory after one fails (default false, as dibctl). */
  stopOnFailure?: boolean;
}

function isExecutableFile(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Byte order of the UTF-8 names, as Python sorted dibctl's file names (not UTF-16 order). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The programs a shell entry runs, as dibctl gathered them: a directory's
 * entries sorted by name, each subdirectory walked in its place (depth
 * first), every executable file run, hidden ones too; other files are
 * skipped with a note. Symbolic links count as what they point to; a link
 * back to a directory being walked is skipped, not followed forever.
 */
function shellPrograms(p: string): { programs: string[]; skipped: string[] } {
  const programs: string[] = [];
  const skipped: string[] = [];
  const walking = new Set<string>();
  const walk = (dir: string) => {
    const real = fs.realpathSync(dir);
    if (walking.has(real)) {
      skipped.push(`${dir}: a link back to a directory being walked`);
      return;
    }
    walking.add(real);
    for (const name of fs.readdirSync(dir).sort(byteOrder)) {
      const file = path.join(dir, name);
      if (isDirectory(file)) walk(file);
      else if (isExecutableFile(file)) programs.push(file);
      else skipped.push(`${file}: not executable`);
    }
    walking.delete(real);
  };
  if (isDirectory(p)) walk(p);
  else if (isExecutableFile(p)) programs.push(p);
  else throw new Error(`${p} is not executable: a shell test must be (chmod +x ${p}), or a directory of them`);
  return { programs, skipped };
}

export async function runShell(spec: ShellSpec, ctx: InstanceTestContext, opts: RunOptions): Promise<TestEntryResult> {
  const name = `shell: ${spec.path}`;
  const started = Date.now();
  const log = openLog('shell', spec.path, opts);
  if (!fs.existsSync(spec.path))
    return result(name, 'shell', started, log, { passed: false, reason: `${spec.path} does not exist` });
  let listed: ReturnType<typeof shellPrograms>;
  let env: NodeJS.ProcessEnv;
  let cwd: string;
  try {
    cwd = workingDirectory(ctx);
    listed = shellPrograms(spec.path);
    const sshConfig = ctx.ssh ? ensureSshConfig(ctx.ssh, opts.logDir) : undefined;
    env = testProcessEnvironment(ctx, sshConfig, opts.env, opts.logDir);
  } catch (err) {
    return result(name, 'shell', started, log, { passed: false, reason: errorText(err) });
  }
  for (const s of listed.skipped) log.note(`dibctl: skipping ${s}`);
  if (listed.programs.length === 0)
    return result(name, 'shell', started, log, { passed: false, reason: `no executable files in ${spec.path}` });

  const deadline = limitMs(spec.timeout) !== undefined ? started + limitMs(spec.timeout)! : undefined;
  const failures: string[] = [];
  // one case per script, for the JUnit report; scripts after a stopping failure are listed as skipped
  const cases: TestCaseResult[] = [];
  let stopped: string | undefined;
  let lastCode: number | null | undefined;
  for (const program of listed.programs) {
    if (stopped) {
      cases.push(caseResult(`shell: ${program}`, Date.now(), { passed: false, skipped: true, reason: stopped }));
      continue;
    }
    const remaining = deadline !== undefined ? Math.max(1, deadline - Date.now()) : undefined;
    const caseStarted = Date.now();
    const output = log.startSection();
    log.note(`dibctl: running ${program}`);
    const outcome = await runProcess(program, [], {
      cwd,
      env,
      timeoutMs: remaining,
      signal: opts.signal,
      output: log,
    });
    lastCode = outcome.code;
    const why = failureReason(outcome, spec.timeout);
    cases.push(caseResult(`shell: ${program}`, caseStarted, { passed: !why, reason: why, output: output() }));
    if (!why) continue;
    failures.push(`${path.basename(program)}: ${why}`);
    if (outcome.timedOut || outcome.aborted || spec.stopOnFailure !== false)
      stopped = `not run: ${path.basename(program)} failed before it`;
  }
  if (failures.length === 0) return result(name, 'shell', started, log, { passed: true, exitCode: 0, cases });
  return result(name, 'shell', started, log, {
    passed: false,
    exitCode: lastCode,
    reason: failures.join('; '),
    cases,
  });
}
