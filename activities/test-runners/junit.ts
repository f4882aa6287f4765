/**
 * JUnit XML of a test run, in the shape CI servers (Jenkins, GitLab, GitHub
 * actions) read: one <testsuite name="dibctl">, one <testcase> per entry, a
 * <failure> with the one-line reason and the end of the output.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestEntryResult } from './types';

// characters XML 1.0 cannot carry at all
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function xmlEscape(text: string): string {
  return text
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

interface JUnitOptions {
  /** Suite name (default `dibctl`), e.g. the image label. */
  suiteName?: string;
  timestamp?: Date;
}

function junitXml(results: TestEntryResult[], opts: JUnitOptions = {}): string {
  const suite = opts.suiteName ?? 'dibctl';
  const failures = results.filter((r) => !r.passed).length;
  const total = results.reduce((s, r) => s + r.durationMs, 0);
  const stamp = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d+Z$/, '');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(suite)}" tests="${results.length}" failures="${failures}" errors="0" time="${seconds(total)}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(total)}" timestamp="${stamp}">`,
  ];
  for (const r of results) {
    const head = `    <testcase classname="${xmlEscape(`${suite}.${r.framework}`)}" name="${xmlEscape(r.name)}" time="${seconds(r.durationMs)}"`;
    const out = r.outputTail ? `      <system-out>${xmlEscape(r.outputTail)}</system-out>` : undefined;
    if (r.passed) {
      if (out) lines.push(`${head}>`, out, '    </testcase>');
      else lines.push(`${head}/>`);
      continue;
    }
    const reason = r.reason ?? 'failed';
    lines.push(
      `${head}>`,
      `      <failure message="${xmlEscape(reason)}" type="${xmlEscape(r.framework)}">${xmlEscape(r.outputTail || reason)}</failure>`,
    );
    if (out) lines.push(out);
    lines.push('    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/** Writes the JUnit XML report of these results to `file` (directories created). */
export function writeJUnitReport(results: TestEntryResult[], file: string, opts: JUnitOptions = {}): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, junitXml(results, opts));
  fs.renameSync(tmp, file);
}
