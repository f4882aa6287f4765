/**
 * `ts:` tests: TypeScript or JavaScript test files run by jest (through swc,
 * no type-checking) in a jest invocation of their own, with `dibctl/testing`
 * mapped to the typed context module. A file runs whatever its name; a
 * directory runs its `*.test.{ts,js}` and `*.spec.{ts,js}` files.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunOptions, errorText, limitMs, openLog, result } from './entry';
import { authSecrets } from '../cloud';
import { DATA_VARIABLE, testCredentials, writeDataFile } from './data-file';
import { ensureSshConfig, testProcessEnvironment } from './environment';
import { failureReason, runProcess } from '../process';
import type { InstanceTestContext, TestEntryResult } from './types';

interface TsSpec {
  path: string;
  timeout: number;
  /** false: run every file even after one fails (default: jest --bail). */
  stopOnFailure?: boolean;
}

function resolveFrom(id: string): string | undefined {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}

/** The module test files get for `dibctl/testing` (source when running from the tree, compiled in dist/). */
function testingModule(): string {
  for (const ext of ['.js', '.ts']) {
    const p = path.join(__dirname, `testing${ext}`);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`the dibctl/testing module is missing next to ${__filename}`);
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function jestConfig(testPath: string, cacheDirectory: string): Record<string, unknown> {
  const swc = resolveFrom('@swc/jest');
  const isDir = fs.statSync(testPath).isDirectory();
  const root = isDir ? testPath : path.dirname(testPath);
  return {
    rootDir: root,
    roots: [root],
    testEnvironment: 'node',
    ...(isDir
      ? { testMatch: ['**/*.test.[jt]s', '**/*.spec.[jt]s'] }
      : { testMatch: undefined, testRegex: [`^${escapeRegex(testPath)}$`] }),
    transform: {
      '^.+\\.[jt]s$': [
        swc,
        { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
      ],
    },
    moduleNameMapper: { '^dibctl/testing$': testingModule() },
    cacheDirectory,
    watchman: false,
    testTimeout: 600_000,
  };
}

export async function runTs(spec: TsSpec, ctx: InstanceTestContext, opts: RunOptions): Promise<TestEntryResult> {
  const name = `ts: ${spec.path}`;
  const started = Date.now();
  const log = openLog('ts', spec.path, opts);
  const fail = (reason: string) => result(name, 'ts', started, log, { passed: false, reason });
  if (!fs.existsSync(spec.path)) return fail(`${spec.path} does not exist`);
  const jestBin = resolveFrom('jest/bin/jest');
  if (!jestBin || !resolveFrom('@swc/jest'))
    return fail('ts tests need jest and @swc/jest installed with dibctl (npm install jest @swc/jest @swc/core)');
  const base = opts.env ?? process.env;
  let data: ReturnType<typeof writeDataFile> | undefined;
  try {
    const sshConfig = ctx.ssh ? ensureSshConfig(ctx.ssh, opts.logDir) : undefined;
    const context: InstanceTestContext =
      ctx.ssh && sshConfig ? { ...ctx, ssh: { ...ctx.ssh, configFile: sshConfig } } : ctx;
    const credentials = testCredentials(ctx, base);
    data = writeDataFile({ context, ...credentials });
    // paths only, no secrets: the configuration goes inline
    const config = JSON.stringify(jestConfig(spec.path, path.join(os.tmpdir(), 'dibctl-jest-cache')));
    const env: NodeJS.ProcessEnv = {
      ...testProcessEnvironment(ctx, sshConfig, base, opts.logDir),
      [DATA_VARIABLE]: data.file,
      FORCE_COLOR: '0',
      NODE_ENV: 'test',
    };
    const args = [jestBin, '--config', config, '--ci', '--runInBand', '--verbose'];
    if (spec.stopOnFailure !== false) args.push('--bail');
    log.note(`dibctl: running jest on ${spec.path}`);
    const cwd = fs.statSync(spec.path).isDirectory() ? spec.path : path.dirname(spec.path);
    const outcome = await runProcess(process.execPath, args, {
      cwd,
      env,
      timeoutMs: limitMs(spec.timeout),
      signal: opts.signal,
      output: log,
      secrets: authSecrets(credentials.cloud),
    });
    let why = failureReason(outcome, spec.timeout);
    if (why && outcome.code === 1) {
      const first = /^\s*● (?!Test suite failed to run)(.+)$/m.exec(log.tail());
      if (first) why = `failed: ${first[1].trim()} (jest exit code 1)`;
      else if (/No tests found/.test(log.tail())) why = `no test files found in ${spec.path}`;
      else if (/Test suite failed to run/.test(log.tail())) why = 'a test file failed to load (jest exit code 1)';
    }
    return result(name, 'ts', started, log, { passed: !why, exitCode: outcome.code, ...(why ? { reason: why } : {}) });
  } catch (err) {
    return fail(errorText(err));
  } finally {
    data?.remove();
  }
}
