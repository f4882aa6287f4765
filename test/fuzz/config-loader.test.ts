/**
 * Hostile YAML against the config loader: random mutations of valid,
 * reference-shaped files. Whatever the input, loading either succeeds or
 * fails with a typed error (exit 10, 11 or 12) whose message names the file,
 * holds one line per problem, no stack trace and no keystone secret; and a
 * config that does not load never reaches the cloud.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, loadKind, loadTestPlan, loadUploadPlan, resolveCredentials } from '../../config';
import { DibctlError } from '../../errors';
import { connectCloud } from '../../openstack';
import { FakeServer, startFakeServer, TOKEN, v3Token } from '../openstack/fake-server';
import { runDibctl } from '../support/cli';
import { forEachCase, fuzzRuns, fuzzSeed, Rng } from './prng';
import { APP_SECRET, KINDS, Kind, MutatedFile, PASSWORD, mutatedFile, validFile } from './yaml-mutations';

const SEED = fuzzSeed(20260611);
const RUNS = fuzzRuns(150);
const CLI_RUNS = 4;
const FILE_NAMES: Record<Kind, string> = { images: 'images.yaml', test: 'test.yaml', upload: 'upload.yaml' };
const STACK_LINE = /^\s+at .+\(?.*:\d+:\d+\)?$|\n\s+at /m;
const INTERNAL_ERROR =
  /\b(TypeError|ReferenceError|SyntaxError|RangeError|Cannot read propert|is not a function|is not iterable|undefined is not|\[object Object\])/;

let keystone: FakeServer;
let root: string;

beforeAll(async () => {
  keystone = await startFakeServer((r, s) => {
    if (r.method === 'POST' && r.path === '/v3/auth/tokens') {
      return {
        status: 201,
        headers: { 'X-Subject-Token': TOKEN },
        body: v3Token([{ type: 'image', url: `${s.url}/image` }]),
      };
    }
    return { status: 404, body: { error: { message: 'not here' } } };
  });
  root = mkdtempSync(path.join(os.tmpdir(), 'dibctl-fuzz-config-'));
});

afterAll(async () => {
  await keystone.close();
  rmSync(root, { recursive: true, force: true });
});

/** Writes one mutated file next to the two valid others, in a fresh working directory. */
function workdir(index: number, mutated: MutatedFile): string {
  const dir = path.join(root, `case-${index}`);
  mkdirSync(dir, { recursive: true });
  for (const kind of KINDS) {
    writeFileSync(
      path.join(dir, FILE_NAMES[kind]),
      kind === mutated.kind ? mutated.content : validFile(kind, keystone.url),
    );
  }
  // the test paths the images refer to exist, so `validate` can succeed
  mkdirSync(path.join(dir, 'tests', 'shell.d'), { recursive: true });
  mkdirSync(path.join(dir, 'tests', 'pytest'), { recursive: true });
  writeFileSync(path.join(dir, 'tests', 'pytest', 'example.py'), 'def test_ok():\n    pass\n');
  return dir;
}

/** What an operator sees of a failure; asserts everything that must hold for it. */
function checkFailure(err: unknown, context: string): DibctlError {
  if (!(err instanceof DibctlError)) {
    throw new Error(
      `${context}: not a typed error: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err)}`,
    );
  }
  const msg = err.message;
  const where = `${context}: exit ${err.exitCode}: ${msg.slice(0, 2000)}`;
  if (![10, 11, 12].includes(err.exitCode)) throw new Error(`${where}\nexpected exit code 10, 11 or 12`);
  if (STACK_LINE.test(msg)) throw new Error(`${where}\nholds a stack trace`);
  if (INTERNAL_ERROR.test(msg)) throw new Error(`${where}\nleaks an internal error`);
  if (msg.includes(PASSWORD) || msg.includes(APP_SECRET)) throw new Error(`${where}\nechoes a keystone secret`);
  const lines = msg.split('\n');
  for (const line of lines) {
    if (!line.trim()) throw new Error(`${where}\nhas an empty line`);
    if (line.length > 4096) throw new Error(`${where}\nhas a line of ${line.length} characters`);
    if (!Object.values(FILE_NAMES).some((f) => line.includes(f)))
      throw new Error(`${where}\nline does not name the file: ${line.slice(0, 300)}`);
  }
  if (err.exitCode !== 10 && lines.length !== 1) throw new Error(`${where}\nmore than one line for one problem`);
  return err;
}

interface Outcome {
  ok: boolean;
  exitCode?: number;
}

/** Every loader entry point on one working directory; each must either succeed or fail cleanly. */
function loadEverything(
  cwd: string,
  context: string,
): {
  outcomes: Record<string, Outcome>;
  testCredentials?: ReturnType<typeof resolveCredentials>;
  uploadCredentials?: ReturnType<typeof resolveCredentials>;
} {
  const opts = { cwd, systemDir: path.join(cwd, 'no-etc'), env: {} };
  const outcomes: Record<string, Outcome> = {};
  const attempt = <T>(name: string, fn: () => T): T | undefined => {
    try {
      const v = fn();
      outcomes[name] = { ok: true };
      return v;
    } catch (err) {
      outcomes[name] = { ok: false, exitCode: checkFailure(err, `${context} ${name}`).exitCode };
      return undefined;
    }
  };
  for (const kind of KINDS) attempt(`loadConfig(${kind})`, () => loadConfig(kind, { cwd, systemDir: opts.systemDir }));
  for (const kind of KINDS) attempt(`loadKind(${kind})`, () => loadKind(kind, opts));
  const plan = attempt('loadTestPlan', () => loadTestPlan('xenial', opts));
  if (plan) JSON.stringify(plan); // what crosses Temporal must serialise
  attempt('loadUploadPlan', () => loadUploadPlan('xenial', 'prod', opts));
  const testCredentials = attempt('resolveCredentials(test)', () => resolveCredentials('test', 'lab_env', opts));
  const uploadCredentials = attempt('resolveCredentials(upload)', () => resolveCredentials('upload', 'prod', opts));
  return { outcomes, testCredentials, uploadCredentials };
}

/**
 * What an activity does before it talks to a cloud: load the plan, resolve
 * the environment's credentials, connect. Returns whether a connection was tried.
 */
async function openLikeAnActivity(cwd: string, kind: 'test' | 'upload'): Promise<boolean> {
  const opts = { cwd, systemDir: path.join(cwd, 'no-etc'), env: {} };
  let auth;
  try {
    if (kind === 'test') loadTestPlan('xenial', opts);
    else loadUploadPlan('xenial', 'prod', opts);
    auth = resolveCredentials(kind, kind === 'test' ? 'lab_env' : 'prod', opts).auth;
  } catch (err) {
    checkFailure(err, `open ${kind}`);
    return false;
  }
  try {
    const cloud = await connectCloud(auth, { timeoutMs: 2000 });
    cloud.close();
  } catch (err) {
    // a valid config with a mutated (still valid) auth URL may not reach our Keystone
    if (!(err instanceof DibctlError)) throw err;
    if (err.message.includes(PASSWORD) || err.message.includes(APP_SECRET))
      throw new Error(`connect error echoes a secret: ${err.message}`);
  }
  return true;
}

describe('hostile YAML for the config loader', () => {
  test('the unmutated configs load, resolve credentials and connect, so the cloud counter works', async () => {
    const dir = workdir(-1, { kind: 'images', content: validFile('images', keystone.url), mutations: [] });
    const { outcomes } = loadEverything(dir, 'valid');
    expect(Object.values(outcomes).every((o) => o.ok)).toBe(true);
    const before = keystone.requests.length;
    expect(await openLikeAnActivity(dir, 'test')).toBe(true);
    expect(await openLikeAnActivity(dir, 'upload')).toBe(true);
    expect(keystone.requests.length - before).toBe(2);
  });

  test(`${RUNS} mutated configs: success or exit 10/11/12, one named line per problem, no stack, no secret, no cloud call when invalid`, async () => {
    const tally = { cases: 0, loaded: 0, exit10: 0, exit11: 0, exit12: 0 };
    const started = Date.now();
    await forEachCase('config-loader', SEED, RUNS, async (rng: Rng, i) => {
      const kind = rng.pick(KINDS);
      const mutated = mutatedFile(rng, kind, keystone.url);
      const dir = workdir(i, mutated);
      const context = `${FILE_NAMES[kind]} after [${mutated.mutations.join('; ')}]`;
      const { outcomes } = loadEverything(dir, context);
      tally.cases++;
      for (const o of Object.values(outcomes)) {
        if (o.ok) tally.loaded++;
        else if (o.exitCode === 10) tally.exit10++;
        else if (o.exitCode === 11) tally.exit11++;
        else tally.exit12++;
      }
      // an invalid file of a kind fails every path that reads that kind, the same way
      const kindFailed = !outcomes[`loadKind(${kind})`].ok;
      if (kindFailed && outcomes[`loadKind(${kind})`].exitCode !== 10)
        throw new Error(`${context}: loadKind failed with exit ${outcomes[`loadKind(${kind})`].exitCode}`);
      for (const env of ['test', 'upload'] as const) {
        const hitsBefore = keystone.requests.length;
        const tried = await openLikeAnActivity(dir, env);
        const hits = keystone.requests.length - hitsBefore;
        if (!tried && hits !== 0)
          throw new Error(`${context}: ${hits} request(s) reached Keystone for a config that does not load`);
        const needsKind = env === 'test' ? ['images', 'test'] : ['images', 'upload'];
        if (kindFailed && needsKind.includes(kind) && tried)
          throw new Error(`${context}: ${env} environment opened with an invalid ${kind} file`);
      }
      rmSync(dir, { recursive: true, force: true });
    });
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(
      `config fuzz: seed ${SEED}, ${tally.cases} cases in ${seconds.toFixed(1)} s; entry points: ${tally.loaded} ok, ${tally.exit10} exit 10, ${tally.exit11} exit 11, ${tally.exit12} exit 12\n`,
    );
    // the mutations must produce both outcomes, else the test proves nothing
    expect(tally.loaded).toBeGreaterThan(0);
    expect(tally.exit10).toBeGreaterThan(RUNS / 4);
  });

  test('dibctl validate --credentials on mutated configs prints a clean error or success and contacts nothing', async () => {
    const rng = new Rng(SEED ^ 0xc11);
    const before = keystone.requests.length;
    const codes: number[] = [];
    for (let i = 0; i < CLI_RUNS; i++) {
      const kind = KINDS[i % KINDS.length];
      // the CLI cases are chosen among invalid mutations (plus one valid run) so each prints an error
      let mutated = mutatedFile(rng, kind, keystone.url);
      for (let tries = 0; tries < 20 && i > 0; tries++) {
        const probe = workdir(10_000 + i, mutated);
        const ok = loadEverything(probe, 'probe').outcomes[`loadKind(${kind})`].ok;
        rmSync(probe, { recursive: true, force: true });
        if (!ok) break;
        mutated = mutatedFile(rng, kind, keystone.url);
      }
      const dir = workdir(
        20_000 + i,
        i === 0 ? { kind, content: validFile(kind, keystone.url), mutations: [] } : mutated,
      );
      const context = `CLI case ${i} (seed ${SEED}) ${FILE_NAMES[kind]} after [${mutated.mutations.join('; ')}]`;
      const res = await runDibctl(['validate', '--credentials'], {
        cwd: dir,
        env: {
          DIBCTL_SYSTEM_CONFIG_DIR: path.join(dir, 'no-etc'),
          OS_CLOUD: undefined,
          OS_AUTH_URL: undefined,
          OS_PASSWORD: undefined,
        },
        timeoutMs: 30_000,
      });
      const all = res.stdout + res.stderr;
      codes.push(res.code ?? -1);
      if (i === 0) {
        expect(res.code).toBe(0);
        expect(res.stdout).toContain('Configs have been validated.');
      } else {
        if (![10, 11, 12].includes(res.code ?? -1)) throw new Error(`${context}: exit ${res.code}\n${all}`);
        if (STACK_LINE.test(all) || INTERNAL_ERROR.test(all))
          throw new Error(`${context}: internal error or stack shown\n${all}`);
        const errLines = res.stderr.split('\n').filter((l) => l.trim());
        expect(errLines.length).toBeGreaterThan(0);
        // every problem names its file; what to do about them comes once, last
        if (/^Next step: /.test(errLines[errLines.length - 1])) errLines.pop();
        for (const line of errLines)
          if (!/^(Error: )?\S*\.yaml/.test(line) && !Object.values(FILE_NAMES).some((f) => line.includes(f)))
            throw new Error(`${context}: line without a file: ${line}`);
      }
      expect(all).not.toContain(PASSWORD);
      expect(all).not.toContain(APP_SECRET);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(keystone.requests.length - before).toBe(0);
    expect(codes.filter((c) => c !== 0).length).toBe(CLI_RUNS - 1);
  });
});
