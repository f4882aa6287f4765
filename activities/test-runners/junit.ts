/**
 * JUnit XML of a test run, in the shape CI servers (Jenkins, GitLab, GitHub
 * actions) read: one <testsuite>, one <testcase> per test — each script of a
 * shell directory, each pytest test, each image check, each external command
 * or other entry — a <failure> with the one-line reason and the end of the
 * output, <skipped/> for what an earlier failure stopped, and an <error> case
 * when the run failed before its tests. Every text is scrubbed of the secrets
 * given, on top of what the runners scrubbed where the tests ran.
 */
import fs from 'node:fs';
import path from 'node:path';
import { scrub } from '../../openstack/redact';
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

const seconds = (ms: number) => (Math.max(0, ms) / 1000).toFixed(3);

interface JUnitOptions {
  /** Suite name (default `dibctl`), e.g. the image label. */
  suiteName?: string;
  timestamp?: Date;
  /** The run failed outside every test (the instance never came up, ...): one <error> case says so. */
  setupFailure?: { name: string; message: string };
  /** Strings that must not appear in the report (known secrets of this host). */
  secrets?: Iterable<string>;
}

interface Case {
  classname: string;
  name: string;
  durationMs: number;
  outcome: 'passed' | 'failed' | 'skipped' | 'error';
  message?: string;
  type?: string;
  text?: string;
  out?: string;
}

function casesOf(results: TestEntryResult[], suite: string): Case[] {
  const cases: Case[] = [];
  for (const r of results) {
    const classname = `${suite}.${r.framework}`;
    if (r.cases?.length) {
      for (const c of r.cases) {
        const outcome = c.skipped ? 'skipped' : c.passed ? 'passed' : 'failed';
        cases.push({
          classname,
          name: c.name,
          durationMs: c.durationMs,
          outcome,
          ...(c.reason && !c.passed ? { message: c.reason } : {}),
          type: r.framework,
          ...(outcome === 'failed' ? { text: c.output || c.reason || 'failed' } : {}),
        });
      }
      continue;
    }
    cases.push({
      classname,
      name: r.name,
      durationMs: r.durationMs,
      outcome: r.passed ? 'passed' : 'failed',
      ...(r.passed ? {} : { message: r.reason ?? 'failed', text: r.outputTail || r.reason || 'failed' }),
      type: r.framework,
      ...(r.outputTail ? { out: r.outputTail } : {}),
    });
  }
  return cases;
}

function junitXml(results: TestEntryResult[], opts: JUnitOptions = {}): string {
  const secrets = [...(opts.secrets ?? [])];
  const text = (s: string) => xmlEscape(scrub(s, secrets));
  const suite = opts.suiteName ?? 'dibctl';
  const cases = casesOf(results, suite);
  if (opts.setupFailure) {
    cases.push({
      classname: `${suite}.dibctl`,
      name: opts.setupFailure.name,
      durationMs: 0,
      outcome: 'error',
      message: opts.setupFailure.message,
      type: 'dibctl',
      text: opts.setupFailure.message,
    });
  }
  const count = (o: Case['outcome']) => cases.filter((c) => c.outcome === o).length;
  const total = cases.reduce((s, c) => s + c.durationMs, 0);
  const stamp = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d+Z$/, '');
  const counts = `tests="${cases.length}" failures="${count('failed')}" errors="${count('error')}"`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${text(suite)}" ${counts} time="${seconds(total)}">`,
    `  <testsuite name="${text(suite)}" ${counts} skipped="${count('skipped')}" time="${seconds(total)}" timestamp="${stamp}">`,
  ];
  for (const c of cases) {
    const head = `    <testcase classname="${text(c.classname)}" name="${text(c.name)}" time="${seconds(c.durationMs)}"`;
    const body: string[] = [];
    if (c.outcome === 'failed' || c.outcome === 'error') {
      const tag = c.outcome === 'failed' ? 'failure' : 'error';
      body.push(
        `      <${tag} message="${text(c.message ?? tag)}" type="${text(c.type ?? tag)}">${text(c.text ?? '')}</${tag}>`,
      );
    } else if (c.outcome === 'skipped') {
      body.push(`      <skipped message="${text(c.message ?? 'skipped')}"/>`);
    }
    if (c.out) body.push(`      <system-out>${text(c.out)}</system-out>`);
    if (body.length) lines.push(`${head}>`, ...body, '    </testcase>');
    else lines.push(`${head}/>`);
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

/** Writes the JUnit XML report of these results to `file` (directories created, replaced whole). */
export function writeJUnitReport(results: TestEntryResult[], file: string, opts: JUnitOptions = {}): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, junitXml(results, opts));
  fs.renameSync(tmp, file);
}
