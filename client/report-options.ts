/**
 * `--junit-xml FILE` on the command line, and the check of its path that runs
 * before anything starts; writing the report is junit-report.ts's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import { DibctlError, ExitCode, describeError } from '../errors';

export function junitXmlOption(): Option {
  return new Option(
    '--junit-xml <file>',
    'write a JUnit XML report of the tests to FILE (one case per script, pytest test, image check, command), also when they fail',
  );
}

/** Refuses, before anything runs, a report path that cannot be written (a directory, an unwritable place). */
export function checkReportPath(file: string): void {
  const target = path.resolve(file);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(target);
  } catch {
    // does not exist yet: its directory must take it
  }
  if (st?.isDirectory()) throw new DibctlError(`--junit-xml ${file}: is a directory`, ExitCode.GENERIC);
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.accessSync(path.dirname(target), fs.constants.W_OK);
    if (st) fs.accessSync(target, fs.constants.W_OK);
  } catch (err) {
    throw new DibctlError(`--junit-xml ${file}: cannot be written (${describeError(err)})`, ExitCode.GENERIC);
  }
}
