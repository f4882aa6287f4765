/**
 * The JUnit report lists one case per shell script, pytest test, image check
 * and external command, as CI servers read it (checked with a real XML
 * parser), with failures' output and no secret value anywhere in the file.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runTestEntry, writeJUnitReport } from '../../activities/test-runners';
import { oneSuite } from '../support/junit';
import { BootedInstance, bootInstance } from './instance';

const SECRET = 'Db-S3cret-4-junit';

function has(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hasPytest(): boolean {
  try {
    execFileSync('python3', ['-c', 'import pytest'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let vm: BootedInstance;
beforeAll(async () => {
  vm = await bootInstance('junit-cases-vm');
});
afterAll(async () => {
  await vm?.stop();
});

const env = () => process.env;
/** The tests get the secret the way a config gives it: tests.environment_variables. */
const withSecret = () => ({ ...vm.ctx, environmentVariables: { ...vm.ctx.environmentVariables, DB_PASSWORD: SECRET } });
const report = (name: string) => path.join(vm.dir, 'reports', `${name}.xml`);

describe('JUnit cases', () => {
  test('a shell directory gives one case per script: passed, failed with its own output, skipped after it', async () => {
    const dir = path.join(vm.dir, 'shell-suite');
    fs.mkdirSync(dir, { recursive: true });
    const script = (name: string, body: string) =>
      fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    script('10-ok', 'echo all good');
    script('20-fail', 'echo "connecting with $DB_PASSWORD"; echo "disk full" >&2; exit 3');
    script('30-never', 'echo never');
    const r = await runTestEntry({ kind: 'shell', path: dir, timeout: 60 }, withSecret(), {
      logDir: vm.logDir,
      env: env(),
    });
    expect(r.passed).toBe(false);
    const file = report('shell');
    writeJUnitReport([r], file, { suiteName: 'cirros' });
    const xml = fs.readFileSync(file, 'utf8');
    expect(xml).not.toContain(SECRET);
    const suite = oneSuite(file);
    expect(suite).toMatchObject({ name: 'cirros', tests: 3, failures: 1, errors: 0, skipped: 1 });
    const [ok, failed, never] = suite.cases;
    expect(ok).toMatchObject({ classname: 'cirros.shell', name: `shell: ${dir}/10-ok` });
    expect(ok.failure).toBeUndefined();
    expect(failed.name).toBe(`shell: ${dir}/20-fail`);
    expect(failed.failure).toMatchObject({ message: 'exit code 3', type: 'shell' });
    expect(failed.failure!.text).toContain('disk full');
    expect(failed.failure!.text).toContain('connecting with ***');
    expect(failed.failure!.text).not.toContain('all good');
    expect(never).toMatchObject({
      name: `shell: ${dir}/30-never`,
      skipped: { message: 'not run: 20-fail failed before it' },
    });
  });

  (hasPytest() ? test : test.skip)(
    'pytest gives one case per test, the failure with its assertion, secrets removed',
    async () => {
      const dir = path.join(vm.dir, 'pytest-suite');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'test_db.py'),
        [
          'import os',
          'def test_first():',
          '    assert 1 + 1 == 2',
          'def test_password():',
          '    print("using", os.environ["DB_PASSWORD"])',
          '    assert os.environ["DB_PASSWORD"] == "wrong"',
          'def test_after():',
          '    pass',
          '',
        ].join('\n'),
      );
      const r = await runTestEntry({ kind: 'pytest', path: dir, timeout: 120 }, withSecret(), {
        logDir: vm.logDir,
        env: env(),
      });
      expect(r.passed).toBe(false);
      const file = report('pytest');
      writeJUnitReport([r], file, { suiteName: 'cirros' });
      expect(fs.readFileSync(file, 'utf8')).not.toContain(SECRET);
      const suite = oneSuite(file);
      // -x: pytest stops at the first failure, as dibctl ran it
      expect(suite).toMatchObject({ tests: 2, failures: 1 });
      expect(suite.cases.map((c) => c.name)).toEqual([
        'pytest: test_db.py::test_first',
        'pytest: test_db.py::test_password',
      ]);
      const failed = suite.cases[1];
      expect(failed.failure!.message).toMatch(/^failed: AssertionError: assert '\*\*\*' == 'wrong'/);
      expect(failed.failure!.text).toContain('using ***');
      expect(failed.classname).toBe('cirros.pytest');
    },
  );

  (has('qemu-img') ? test : test.skip)('image checks give one case each', async () => {
    const file = path.join(vm.dir, 'junit-disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '2G']);
    const r = await runTestEntry(
      { kind: 'image', path: file, timeout: 60, image: { format: 'qcow2', maxVirtualSizeGb: 1, minVirtualSizeGb: 1 } },
      vm.ctx,
      { logDir: vm.logDir },
    );
    const out = report('image');
    writeJUnitReport([r], out, { suiteName: 'cirros' });
    const suite = oneSuite(out);
    expect(suite).toMatchObject({ tests: 3, failures: 1 });
    expect(suite.cases.map((c) => [c.name, Boolean(c.failure)])).toEqual([
      [`image: ${file}: format qcow2`, false],
      [`image: ${file}: max_virtual_size_gb 1`, true],
      [`image: ${file}: min_virtual_size_gb 1`, false],
    ]);
    expect(suite.cases[1].failure!.message).toBe('virtual size 2 GiB is above max_virtual_size_gb 1');
  });

  test('an external command is one case; a run that failed before its tests is an error case', async () => {
    const r = await runTestEntry({ kind: 'external', cmdline: 'echo "$DB_PASSWORD is wrong"; exit 4' }, withSecret(), {
      logDir: vm.logDir,
      env: env(),
    });
    const out = report('external');
    writeJUnitReport([r], out, {
      suiteName: 'cirros',
      setupFailure: { name: 'dibctl test cirros', message: `Instance never answered (token ${SECRET})` },
      secrets: [SECRET],
    });
    expect(fs.readFileSync(out, 'utf8')).not.toContain(SECRET);
    const suite = oneSuite(out);
    expect(suite).toMatchObject({ tests: 2, failures: 1, errors: 1 });
    expect(suite.cases[0]).toMatchObject({
      classname: 'cirros.external',
      name: 'external: echo "$DB_PASSWORD is wrong"; exit 4',
    });
    expect(suite.cases[0].failure!.text).toContain('*** is wrong');
    expect(suite.cases[1]).toMatchObject({
      classname: 'cirros.dibctl',
      name: 'dibctl test cirros',
      error: { message: 'Instance never answered (token ***)' },
    });
  });
});
