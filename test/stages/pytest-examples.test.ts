/**
 * The pytest examples of activities/test-runners/README.md, copied unchanged
 * into a project's test directory and run by `dibctl test` against the
 * emulator: what the documentation shows is what an operator's suite gets.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Emulator, startEmulator } from '../../emulator';
import { runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';
import { StageProject, stageProject } from './fixture';
import { NOTHING_LEFT, configArgs, dibctlEnv, dibctlObjects } from './cli-support';

const README = path.resolve(__dirname, '..', '..', 'activities', 'test-runners', 'README.md');

interface Example {
  file: string;
  fails: boolean;
  text: string;
}

/** The README's ```python blocks whose first line names a test file (`# test_x.py`, `(fails)` for a failing one). */
function documentedExamples(): Example[] {
  const out: Example[] = [];
  for (const m of readFileSync(README, 'utf8').matchAll(/```python\n(# (test_\w+\.py)( \(fails\))?\n[\s\S]*?)```/g))
    out.push({ file: m[2], fails: Boolean(m[3]), text: m[1] });
  return out;
}

function pytestMissing(): string | undefined {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import pytest, testinfra, paramiko, novaclient, glanceclient'], {
      stdio: 'ignore',
    });
    return undefined;
  } catch {
    return 'Debian python3-pytest, -testinfra, -paramiko, -novaclient or -glanceclient is not installed';
  }
}

const missing = pytestMissing();
if (missing) console.warn(`pytest example tests skipped: ${missing}`);
const maybe = missing ? it.skip : it;

interface TestResult {
  passed: boolean;
  exitCode: number;
  tests: Array<{
    passed: boolean;
    framework: string;
    logFile?: string;
    cases?: Array<{ name: string; passed: boolean }>;
  }>;
}

describe("the README's pytest examples run unchanged through dibctl test", () => {
  const temporal = useTemporal();
  const examples = documentedExamples();
  let emu: Emulator;
  let stateDir: string;
  const projects: StageProject[] = [];

  beforeAll(async () => {
    // a reboot takes as long as a boot: long enough to see the server in REBOOT
    emu = await startEmulator({ regions: ['RegionOne'], faults: { bootDelayMs: 1_500 } });
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-state-'));
    await temporal().startWorkers('dibctl', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterAll(async () => {
    for (const p of projects) await p.remove();
    await emu?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  /** A project whose tests_list is one pytest entry: a directory holding the examples. */
  async function project(chosen: Example[]): Promise<StageProject> {
    const p = await stageProject(emu, 'cirros', { tests: [{ pytest: 'tests/examples', timeout: 600 }] });
    projects.push(p);
    const dir = path.join(p.dir, 'tests', 'examples');
    await fs.mkdir(dir, { recursive: true });
    for (const e of chosen) await fs.writeFile(path.join(dir, e.file), e.text);
    return p;
  }

  const dibctl = (p: StageProject, args: string[]) =>
    runDibctl(['--json', ...args, ...configArgs(p)], {
      cwd: p.dir,
      env: dibctlEnv(temporal(), stateDir),
      timeoutMs: 600_000,
    });

  it('the README shows the examples, a reboot among them, and one that fails', () => {
    expect(examples.map((e) => e.file)).toEqual(
      expect.arrayContaining(['test_hostname.py', 'test_ssh.py', 'test_instance.py', 'test_reboot.py']),
    );
    expect(examples.filter((e) => e.fails)).toHaveLength(1);
    expect(examples.find((e) => e.file === 'test_reboot.py')?.text).toContain('instance.reboot()');
  });

  maybe(
    'every passing example passes; the reboot one sees SSH come back with the pinned host key',
    async () => {
      const passing = examples.filter((e) => !e.fails);
      const p = await project(passing);
      // what Nova shows of the test instance while the tests run
      const seen = new Set<string>();
      const watch = setInterval(() => {
        for (const s of emu.state().regions[emu.regions[0]].servers)
          if (s.name?.startsWith('DIBCTL-')) seen.add(s.status);
      }, 100);
      const r = await dibctl(p, ['test', 'cirros']).finally(() => clearInterval(watch));
      const result = JSON.parse(r.stdout) as TestResult;
      const log = result.tests[0]?.logFile ? await fs.readFile(result.tests[0].logFile, 'utf8') : '';
      if (r.code !== 0) console.log(r.stderr, log);
      expect(r.code).toBe(0);
      expect(result).toMatchObject({ passed: true, exitCode: 0 });
      const cases = result.tests[0].cases ?? [];
      const tests = passing.flatMap((e) => [...e.text.matchAll(/^def (test_\w+)/gm)].map((m) => `${e.file}::${m[1]}`));
      expect(cases.map((c) => c.name.replace(/^pytest: /, '')).sort()).toEqual(tests.sort());
      expect(cases.every((c) => c.passed)).toBe(true);
      // -s: what a test prints is in the log
      expect(log).toMatch(/::test_ssh_values ssh cirros \S+ DIBCTL-[0-9a-f-]{36} \S+/);
      // the instance did reboot (Nova showed it), and its SSH came back with the same key
      expect(seen.has('REBOOT')).toBe(true);
      expect(log).toMatch(/test_reboot\.py::test_ssh_comes_back_after_reboot PASSED/);
      expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
    },
    600_000,
  );

  maybe(
    'the failing example fails the run with exit 80 and names the test',
    async () => {
      const p = await project(examples.filter((e) => e.fails));
      const r = await dibctl(p, ['test', 'cirros']);
      const result = JSON.parse(r.stdout) as TestResult;
      expect(r.code).toBe(80);
      expect(result).toMatchObject({ passed: false, exitCode: 80 });
      expect(result.tests[0].cases).toEqual([
        expect.objectContaining({ name: 'pytest: test_failing.py::test_failing', passed: false }),
      ]);
      expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
    },
    300_000,
  );
});
