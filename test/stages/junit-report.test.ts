/**
 * `dibctl test --junit-xml FILE` against the emulator on a real Temporal dev
 * server: the report is written on the host of the command from the
 * workflow's result, whatever the outcome, and the exit code stays dibctl's.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { oneSuite } from '../support/junit';
import { NOTHING_LEFT, dibctlObjects, useStageCloud } from './cli-support';
import type { ImageOptions } from './fixture';

describe('dibctl test --junit-xml', () => {
  const stage = useStageCloud('dibctl-junit-');
  const emu = () => stage.emu();
  const project = (image: ImageOptions) => stage.project(image);
  const dibctl = stage.dibctl;

  it('a failed run writes one case per script, the failure with its output and no password, and exits 80', async () => {
    const p = await project({ tests: [{ shell: 'tests/suite', timeout: 60 }] });
    await fs.mkdir(path.join(p.dir, 'tests', 'suite'));
    await p.shellTest('suite/10-hostname', 'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"');
    // a careless test prints the test environment's file, password included
    await p.shellTest('suite/20-config', `cat '${p.testConfig}'; echo "config check failed" >&2; exit 5`);
    await p.shellTest('suite/30-later', 'true');
    const r = await dibctl(p, ['test', 'cirros', '--junit-xml', 'reports/junit.xml']);
    expect(r.code).toBe(80);
    expect(r.stdout).toMatch(/Some tests failed/);
    expect(r.stderr).toContain('JUnit report written to reports/junit.xml');
    const file = path.join(p.dir, 'reports', 'junit.xml');
    expect(await fs.readFile(file, 'utf8')).not.toContain(emu().user.password);
    const suite = oneSuite(file);
    expect(suite).toMatchObject({ name: 'cirros', tests: 3, failures: 1, errors: 0, skipped: 1 });
    const suiteDir = path.join(p.dir, 'tests', 'suite');
    expect(suite.cases.map((c) => c.name)).toEqual([
      `shell: ${suiteDir}/10-hostname`,
      `shell: ${suiteDir}/20-config`,
      `shell: ${suiteDir}/30-later`,
    ]);
    expect(suite.cases[0].failure).toBeUndefined();
    expect(suite.cases[1].failure).toMatchObject({ message: 'exit code 5', type: 'shell' });
    expect(suite.cases[1].failure!.text).toContain('config check failed');
    expect(suite.cases[1].failure!.text).toMatch(/password: \*\*\*/);
    expect(suite.cases[2].skipped).toBeDefined();
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('a passing run writes its cases and exits 0', async () => {
    const p = await project({ tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', 'timeout 20 $DIBCTL_SSH uname -a');
    const r = await dibctl(p, ['test', 'cirros', '--junit-xml', path.join(p.dir, 'out.xml')]);
    expect(r.code).toBe(0);
    const suite = oneSuite(path.join(p.dir, 'out.xml'));
    expect(suite).toMatchObject({ tests: 1, failures: 0, errors: 0, skipped: 0 });
    expect(suite.cases[0].name).toBe(`shell: ${path.join(p.dir, 'tests', 'check')}`);
    expect(suite.cases[0].time).toBeGreaterThan(0);
  });

  it('a run that fails before its tests writes an error case naming why, and exits 71', async () => {
    const p = await project({ portWaitTimeout: 2, tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', 'true');
    emu().faults.set({ sshNeverOpens: true });
    const r = await dibctl(p, ['test', 'cirros', '--junit-xml', 'junit.xml']);
    expect(r.code).toBe(71);
    const suite = oneSuite(path.join(p.dir, 'junit.xml'));
    expect(suite).toMatchObject({ tests: 1, failures: 0, errors: 1 });
    expect(suite.cases[0]).toMatchObject({ classname: 'cirros.dibctl', name: 'dibctl test cirros' });
    expect(suite.cases[0].error!.message).toMatch(/Instance is not accepting connection on 127\.[0-9.]+:22 after 2 s/);
    expect(dibctlObjects(emu())).toEqual(NOTHING_LEFT);
  });

  it('a report path that cannot be written is refused before anything runs', async () => {
    const p = await project({ tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', 'true');
    const r = await dibctl(p, ['test', 'cirros', '--junit-xml', p.dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error: --junit-xml ${p.dir}: is a directory\n`);
    expect(r.stderr).not.toMatch(/Image test workflow/);
  });
});
