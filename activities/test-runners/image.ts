/**
 * `image:` tests: a passive check of an image file, no instance needed.
 * qemu-img reads the format and virtual size, which are compared with the
 * entry's assertions; `files_exist` looks inside the image with libguestfs
 * (guestfish). A check whose tool is missing fails and names the package.
 */
import fs from 'node:fs';
import { CAPTURE_LIMIT, CapturedOutput, capture, runProcess } from '../process';
import { RunOptions, limitMs, openLog, result } from './entry';
import { onPath } from './tools';
import type { ImageAssertions } from '../../config/view';
import type { InstanceTestContext, TestEntryResult } from './types';

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
  const done = () =>
    result(name, 'image', started, log, {
      passed: problems.length === 0,
      ...(problems.length ? { reason: problems.join('; ') } : {}),
    });
  if (!fs.existsSync(spec.path)) {
    problems.push(`${spec.path} does not exist`);
    return done();
  }
  const a = spec.image ?? {};
  if (!onPath('qemu-img', env)) {
    problems.push(
      'the format and size checks need qemu-img, which is not installed (Debian: apt-get install qemu-utils)',
    );
  } else {
    try {
      const facts = await imageFacts(spec.path, env, limitMs(spec.timeout));
      log.note(
        `dibctl: ${spec.path}: format ${facts.format}, virtual size ${gib(facts.virtualSize)} (${facts.virtualSize} bytes)`,
      );
      if (a.format !== undefined && facts.format !== a.format)
        problems.push(`format is ${facts.format}, expected ${a.format}`);
      if (a.maxVirtualSizeGb !== undefined && facts.virtualSize > a.maxVirtualSizeGb * GIB) {
        problems.push(`virtual size ${gib(facts.virtualSize)} is above max_virtual_size_gb ${a.maxVirtualSizeGb}`);
      }
      if (a.minVirtualSizeGb !== undefined && facts.virtualSize < a.minVirtualSizeGb * GIB) {
        problems.push(`virtual size ${gib(facts.virtualSize)} is below min_virtual_size_gb ${a.minVirtualSizeGb}`);
      }
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (a.filesExist?.length) {
    if (!onPath('guestfish', env)) {
      problems.push('files_exist needs guestfish, which is not installed (Debian: apt-get install libguestfs-tools)');
    } else {
      const script = a.filesExist.map((f) => `exists ${JSON.stringify(f)}`).join('\n') + '\n';
      const r = await guestfish(spec.path, script, env, limitMs(spec.timeout));
      if (r.code !== 0)
        problems.push(
          `guestfish could not inspect the image: ${r.stderr.trim().split('\n').pop() ?? `exit code ${r.code}`}`,
        );
      else {
        const answers = r.stdout.trim().split('\n');
        a.filesExist.forEach((f, i) => {
          const ok = answers[i] === 'true';
          log.note(`dibctl: ${f}: ${ok ? 'exists' : 'missing'}`);
          if (!ok) problems.push(`${f} does not exist in the image`);
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
