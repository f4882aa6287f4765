/**
 * pytest tests, as dibctl ran them: the system's pytest, stopping at the first
 * failure, with dibctl's fixtures from the plugin this project ships
 * (pytest_plugin/dibctl_pytest.py). The plugin reads its data from a private
 * file named by DIBCTL_TEST_DATA.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RunOptions, caseResult, errorText, limitMs, openLog, result } from './entry';
import { authSecrets } from '../cloud';
import { DATA_VARIABLE, testCredentials, writeDataFile } from './data-file';
import { ensureSshConfig, testProcessEnvironment } from './environment';
import { failureReason, runProcess } from '../process';
import { environmentSecrets, knownSecrets } from '../process/scrub';
import { scrub } from '../../openstack/redact';
import { sshCommandWords } from '../../common/ssh-command';
import { pythonWithPytest } from './tools';
import type { InstanceTestContext, TestCaseResult, TestEntryResult } from './types';
import { GENERIC_TESTS, GenericTest } from '../../config/test-kinds';
import type { TestSpec } from '../../config/view';

interface PytestSpec {
  path: string;
  /** Run these files of the directory `path` (in this order) instead of all of it. */
  files?: string[];
  /** What the result is called (default `pytest: PATH`). */
  name?: string;
  timeout: number;
  /** Run every test even after a failure (default: stop at the first, `-x`, as dibctl). */
  stopOnFailure?: boolean;
}

const PLUGIN_MODULE = 'dibctl_pytest';
/** Names the file the plugin appends each test's phases to (JSON lines). */
const CASES_VARIABLE = 'DIBCTL_PYTEST_CASES';
const CASE_OUTPUT_CHARS = 4 * 1024;

interface PhaseReport {
  nodeid: string;
  when: 'setup' | 'call' | 'teardown';
  outcome: 'passed' | 'failed' | 'skipped';
  duration: number;
  text: string;
  /** What pytest names as the failure (`AssertionError: assert 1 == 2`). */
  crash?: string;
}

/** What went wrong in a pytest failure (pytest's own summary, else its first `E ` line), after the phase. */
function failureLine(phase: PhaseReport): string {
  const e = phase.text
    .split('\n')
    .filter((l) => /^E\s/.test(l))
    .map((l) => l.replace(/^E\s+/, '').trim())
    .filter(Boolean);
  const what = phase.crash?.split('\n')[0].trim() || e[0] || '';
  const where = phase.when === 'call' ? 'failed' : `error in ${phase.when}`;
  return what ? `${where}: ${what}` : where;
}

/**
 * One case per pytest test from the plugin's phase reports, in the order they
 * ran; their texts are scrubbed of the secrets the run knows.
 */
function pytestCases(file: string, secrets: string[]): TestCaseResult[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const byTest = new Map<string, PhaseReport[]>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const p = JSON.parse(line) as PhaseReport;
      byTest.set(p.nodeid, [...(byTest.get(p.nodeid) ?? []), p]);
    } catch {
      // a line cut short by a killed pytest
    }
  }
  const cases: TestCaseResult[] = [];
  for (const [nodeid, phases] of byTest) {
    const durationMs = Math.round(phases.reduce((s, p) => s + (p.duration || 0), 0) * 1000);
    const failed = phases.find((p) => p.outcome === 'failed');
    const skipped = !failed && phases.find((p) => p.outcome === 'skipped');
    const output = failed ? scrub(failed.text, secrets).slice(-CASE_OUTPUT_CHARS) : undefined;
    const c = caseResult(`pytest: ${nodeid}`, Date.now(), {
      passed: !failed && !skipped,
      skipped: Boolean(skipped),
      reason: failed
        ? scrub(failureLine(failed), secrets)
        : skipped
          ? scrub(skipped.text || 'skipped', secrets)
          : undefined,
      output,
    });
    cases.push({ ...c, durationMs });
  }
  return cases;
}

/** A directory of Python files shipped beside this file (or in the source tree when running from dist/). */
function shippedDir(name: string, marker: string): string {
  const candidates = [
    path.join(__dirname, name),
    path.resolve(__dirname, '..', '..', '..', 'activities', 'test-runners', name),
  ];
  const found = candidates.find((d) => fs.existsSync(path.join(d, marker)));
  if (!found) throw new Error(`${name}/${marker} is missing (looked in ${candidates.join(', ')})`);
  return found;
}

const pluginDir = () => shippedDir('pytest_plugin', `${PLUGIN_MODULE}.py`);

/** The file of each generic test (generic_tests/test_NN_<name>.py). */
const GENERIC_FILES: Record<GenericTest, string> = {
  'root-filesystem': 'test_10_root_filesystem.py',
  interfaces: 'test_20_interfaces.py',
  dns: 'test_30_dns.py',
  hostname: 'test_40_hostname.py',
  package: 'test_50_package.py',
  reboot: 'test_90_reboot.py',
};

const EXIT_MEANING: Record<number, string> = {
  1: 'tests failed',
  2: 'pytest was interrupted or could not collect the tests',
  3: 'internal pytest error',
  4: 'pytest usage error',
  5: 'no tests were collected',
};

export async function runPytest(
  spec: PytestSpec,
  ctx: InstanceTestContext,
  opts: RunOptions,
): Promise<TestEntryResult> {
  const name = spec.name ?? `pytest: ${spec.path}`;
  const started = Date.now();
  const log = openLog('pytest', spec.path, opts);
  const fail = (reason: string) => result(name, 'pytest', started, log, { passed: false, reason });
  if (!fs.existsSync(spec.path)) return fail(`${spec.path} does not exist`);
  const base = opts.env ?? process.env;
  const python = await pythonWithPytest(base);
  if (!python)
    return fail(
      'pytest is not installed (Debian: apt-get install python3-pytest python3-testinfra python3-paramiko python3-novaclient python3-glanceclient)',
    );

  let data: ReturnType<typeof writeDataFile> | undefined;
  const casesFile = `${log.file}.cases`;
  try {
    const sshConfig = ctx.ssh ? ensureSshConfig(ctx.ssh, opts.logDir) : undefined;
    const context: InstanceTestContext =
      ctx.ssh && sshConfig ? { ...ctx, ssh: { ...ctx.ssh, configFile: sshConfig } } : ctx;
    const credentials = testCredentials(ctx, base);
    data = writeDataFile({
      context,
      ...credentials,
      ...(context.ssh ? { sshCommandWords: sshCommandWords(context.ssh) } : {}),
    });
    const env: NodeJS.ProcessEnv = {
      ...testProcessEnvironment(ctx, sshConfig, base, opts.logDir),
      [DATA_VARIABLE]: data.file,
      [CASES_VARIABLE]: casesFile,
      PYTHONPATH: [pluginDir(), base.PYTHONPATH].filter(Boolean).join(':'),
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
    };
    const dir = fs.statSync(spec.path).isDirectory() ? spec.path : path.dirname(spec.path);
    // -s: what tests print reaches the log as it happens, as with dibctl
    const args = ['-m', 'pytest', '-p', PLUGIN_MODULE, '-p', 'no:cacheprovider', '-v', '-s', '--color=no', '-rfE'];
    if (spec.stopOnFailure !== false) args.push('-x');
    args.push(...(spec.files ?? [spec.path]));
    log.note(`dibctl: running ${python} ${args.join(' ')}`);
    const outcome = await runProcess(python, args, {
      cwd: dir,
      env,
      timeoutMs: limitMs(spec.timeout),
      signal: opts.signal,
      output: log,
      secrets: authSecrets(credentials.cloud),
    });
    let why = failureReason(outcome, spec.timeout);
    if (why && outcome.code !== null && EXIT_MEANING[outcome.code])
      why = `${EXIT_MEANING[outcome.code]} (pytest exit code ${outcome.code})`;
    if (why && outcome.code === 1) {
      const first = /^(FAILED|ERROR) (\S+)/m.exec(log.tail());
      if (first) why = `${first[1] === 'FAILED' ? 'failed' : 'error in'} ${first[2]} (pytest exit code 1)`;
    }
    const secrets = knownSecrets([...authSecrets(credentials.cloud), ...environmentSecrets(env, process.env)]);
    return result(name, 'pytest', started, log, {
      passed: !why,
      exitCode: outcome.code,
      ...(why ? { reason: why } : {}),
      cases: pytestCases(casesFile, secrets),
    });
  } catch (err) {
    return fail(errorText(err));
  } finally {
    data?.remove();
    fs.rmSync(casesFile, { force: true });
  }
}

/** dibctl's generic tests (`{generic: all}` or some of their names): pytest on the files it ships. */
export function runGeneric(spec: TestSpec, ctx: InstanceTestContext, opts: RunOptions): Promise<TestEntryResult> {
  const dir = shippedDir('generic_tests', GENERIC_FILES.reboot);
  const names = spec.generic?.length ? spec.generic : GENERIC_TESTS;
  return runPytest(
    {
      path: dir,
      files: names.map((g) => path.join(dir, GENERIC_FILES[g])),
      name: `generic: ${spec.path}`,
      timeout: spec.timeout,
      stopOnFailure: spec.stopOnFailure,
    },
    ctx,
    opts,
  );
}
