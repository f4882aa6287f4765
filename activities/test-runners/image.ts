/**
 * `image:` tests: a passive check of an image file, no instance needed.
 * qemu-img reads the format and virtual size, which are compared with the
 * entry's assertions; `files_exist` looks inside the image with libguestfs
 * (guestfish). A check whose tool is missing fails and names the package.
 */
import fs from 'node:fs';
import { CAPTURE_LIMIT, CapturedOutput, capture, runProcess } from '../process';
import { RunOptions, caseResult, limitMs, openLog, result } from './entry';
import { onPath } from './tools';
import type { ImageAssertions } from '../../config/view';
import type { InstanceTestContext, TestCaseResult, TestEntryResult } from './types';

interface ImageSpec {
  /** The image file to check. */
  path: string;
  timeout: number;
  image?: ImageAssertions;
}

interface ImageFacts {
  format: string;
  virtualSize: number;
  actualSize?: number;
}

const GIB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GIB).toFixed(2).replace(/\.?0+$/, '')} GiB`;

async function imageFacts(file: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ImageFacts> {
  // -U: read even while another process (an upload) holds the image open
  const r = await capture('qemu-img', ['info', '-U', '--output=json', file], { timeoutMs, env });
  if (r.code !== 0) throw new Error(`qemu-img info failed: ${(r.error ?? r.stderr).trim() || `exit code ${r.code}`}`);
  const info = JSON.parse(r.stdout) as { format: string; 'virtual-size': number; 'actual-size'?: number };
  return {
    format: info.format,
    virtualSize: info['virtual-size'],
    ...(info['actual-size'] !== undefined ? { actualSize: info['actual-size'] } : {}),
  };
}

export async function runImage(spec: ImageSpec, _ctx: InstanceTestContext, opts: RunOptions): Promise<TestEntryResult> {
  const name = `image: ${spec.path}`;
  const started = Date.now();
  const log = openLog('image', spec.path, opts);
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  // one case per check, for the JUnit report
  const cases: TestCaseResult[] = [];
  const check = (what: string, checkStarted: number, problem: string | undefined) => {
    if (problem) problems.push(problem);
    cases.push(caseResult(`${name}: ${what}`, checkStarted, { passed: !problem, reason: problem, output: problem }));
  };
  const done = () =>
    result(name, 'image', started, log, {
      passed: problems.length === 0,
      // a missing tool fails each of its checks: the entry names it once
      ...(problems.length ? { reason: [...new Set(problems)].join('; ') } : {}),
      cases,
    });
  if (!fs.existsSync(spec.path)) {
    check('exists', started, `${spec.path} does not exist`);
    return done();
  }
  const a = spec.image ?? {};
  const sizeChecks: Array<[string, (f: ImageFacts) => string | undefined]> = [];
  if (a.format !== undefined)
    sizeChecks.push([
      `format ${a.format}`,
      (f) => (f.format !== a.format ? `format is ${f.format}, expected ${a.format}` : undefined),
    ]);
  if (a.maxVirtualSizeGb !== undefined)
    sizeChecks.push([
      `max_virtual_size_gb ${a.maxVirtualSizeGb}`,
      (f) =>
        f.virtualSize > a.maxVirtualSizeGb! * GIB
          ? `virtual size ${gib(f.virtualSize)} is above max_virtual_size_gb ${a.maxVirtualSizeGb}`
          : undefined,
    ]);
  if (a.minVirtualSizeGb !== undefined)
    sizeChecks.push([
      `min_virtual_size_gb ${a.minVirtualSizeGb}`,
      (f) =>
        f.virtualSize < a.minVirtualSizeGb! * GIB
          ? `virtual size ${gib(f.virtualSize)} is below min_virtual_size_gb ${a.minVirtualSizeGb}`
          : undefined,
    ]);
  const infoStarted = Date.now();
  if (!onPath('qemu-img', env)) {
    const missing =
      'the format and size checks need qemu-img, which is not installed (Debian: apt-get install qemu-utils)';
    if (sizeChecks.length) for (const [what] of sizeChecks) check(what, infoStarted, missing);
    else check('qemu-img info', infoStarted, missing);
  } else {
    try {
      const facts = await imageFacts(spec.path, env, limitMs(spec.timeout));
      log.note(
        `dibctl: ${spec.path}: format ${facts.format}, virtual size ${gib(facts.virtualSize)} (${facts.virtualSize} bytes)`,
      );
      if (sizeChecks.length) for (const [what, problem] of sizeChecks) check(what, infoStarted, problem(facts));
      else check('qemu-img info', infoStarted, undefined);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (sizeChecks.length) for (const [what] of sizeChecks) check(what, infoStarted, why);
      else check('qemu-img info', infoStarted, why);
    }
  }
  if (a.filesExist?.length) {
    const filesStarted = Date.now();
    if (!onPath('guestfish', env)) {
      const missing = 'files_exist needs guestfish, which is not installed (Debian: apt-get install libguestfs-tools)';
      for (const f of a.filesExist) check(`files_exist ${f}`, filesStarted, missing);
    } else {
      const script = a.filesExist.map((f) => `exists ${JSON.stringify(f)}`).join('\n') + '\n';
      const r = await guestfish(spec.path, script, env, limitMs(spec.timeout));
      if (r.code !== 0) {
        const why = `guestfish could not inspect the image: ${r.stderr.trim().split('\n').pop() ?? `exit code ${r.code}`}`;
        for (const f of a.filesExist) check(`files_exist ${f}`, filesStarted, why);
      } else {
        const answers = r.stdout.trim().split('\n');
        a.filesExist.forEach((f, i) => {
          const ok = answers[i] === 'true';
          log.note(`dibctl: ${f}: ${ok ? 'exists' : 'missing'}`);
          check(`files_exist ${f}`, filesStarted, ok ? undefined : `${f} does not exist in the image`);
        });
      }
    }
  }
  return done();
}

async function guestfish(
  file: string,
  script: string,
  env: NodeJS.ProcessEnv,
  timeoutMs?: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const output = new CapturedOutput(CAPTURE_LIMIT);
  const o = await runProcess('guestfish', ['--ro', '-a', file, '-i'], {
    env,
    timeoutMs,
    killGraceMs: 0,
    input: script,
    output,
  });
  return {
    code: o.code,
    stdout: output.of('stdout'),
    stderr: o.startError ? o.startError.message : output.of('stderr'),
  };
}
