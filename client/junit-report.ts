/**
 * `--junit-xml FILE` of `test` and `run`: a JUnit XML report written on the
 * host of the command from the image test's result, whatever the outcome (a
 * failed run writes it too and keeps its exit code). Texts come scrubbed from
 * the worker; they are scrubbed again here of every secret this host knows.
 */
import { authSecrets } from '../activities/cloud';
import { environmentSecrets, knownSecrets } from '../activities/process/scrub';
import { writeJUnitReport } from '../activities/test-runners';
import type { TestEntryResult } from '../activities';
import { ConfigOptions, resolveCredentials } from '../config';
import { describeError } from '../errors';
import type { Output } from './render';

/** What the report is made of: the results so far, and why the run failed when no test says it. */
export interface TestReport {
  tests: TestEntryResult[];
  /** The run's failure (exit code not 0), as printed. */
  failure?: string;
}

/**
 * The secrets this host knows for a run: its secret-named variables, the
 * image's secret-named test variables, and the passwords of the environments'
 * credentials where they resolve here.
 */
export function hostSecrets(
  config: ConfigOptions,
  environments: Array<['test' | 'upload', string]>,
  testVariables: Record<string, string> = {},
): string[] {
  const found = [...environmentSecrets(process.env, testVariables)];
  for (const [kind, label] of environments) {
    try {
      found.push(...authSecrets(resolveCredentials(kind, label, { ...config, env: process.env }).auth));
    } catch {
      // credentials that do not resolve here hold nothing this report could leak
    }
  }
  return knownSecrets(found);
}

/**
 * Writes the report; a run that failed without a failing test gets one error
 * case naming why. Returns false (after saying why) when the file could not
 * be written.
 */
export function writeTestReport(
  file: string,
  suiteName: string,
  report: TestReport,
  secrets: string[],
  o: Output,
): boolean {
  const testFailed = report.tests.some((t) => !t.passed);
  try {
    writeJUnitReport(report.tests, file, {
      suiteName,
      secrets,
      ...(report.failure && !testFailed
        ? { setupFailure: { name: `dibctl test ${suiteName}`, message: report.failure } }
        : {}),
    });
    o.err(`JUnit report written to ${file}`);
    return true;
  } catch (err) {
    o.err(`Error: --junit-xml ${file}: the report could not be written (${describeError(err)})`);
    return false;
  }
}
