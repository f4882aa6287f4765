import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareTestInput } from '../../client/commands/test';
import { Emulator, startEmulator } from '../../emulator';
import type { ImageTestResult } from '../../workflows';
import { useTemporal } from '../support/temporal';
import { NOTHING_LEFT, dibctlEnv, dibctlObjects, startDibctl } from './cli-support';
import { StageProject, stageProject } from './fixture';
import { imageTestStatusQuery, imageTestWorkflow } from '../../workflows';

describe('image test survives a killed worker', () => {
  const temporal = useTemporal();
  let emu: Emulator;
  let project: StageProject;
  let stateDir: string;

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'] });
    project = await stageProject(emu, 'cirros', { tests: [{ shell: 'tests/check', timeout: 60 }] });
    await project.shellTest('check', 'timeout 20 $DIBCTL_SSH true');
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-crash-'));
  });
  afterAll(async () => {
    await project?.remove();
    await emu?.stop();
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  it('kill -9 of the worker while the instance boots: a new worker finishes the test, one server was ever made, nothing leaks', async () => {
    const t = temporal();
    const queue = 'crash-test';
    const env = dibctlEnv(t, stateDir);
    const input = prepareTestInput(
      'cirros',
      { imagesConfig: project.imagesConfig, testConfig: project.testConfig, cwd: project.dir },
      queue,
      'test',
    );
    emu.faults.set({ bootDelayMs: 6_000 });

    const first = startDibctl(['worker', '--task-queue', queue], { cwd: project.dir, env });
    await first.waitFor(/Worker polling/);
    const handle = await t.client.workflow.start(imageTestWorkflow, {
      taskQueue: queue,
      workflowId: `crash-${Date.now()}`,
      args: [input],
    });

    const seen = new Set<string>();
    const watch = setInterval(() => dibctlObjects(emu).servers.forEach((id) => seen.add(id)), 100);
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const s = await handle.query(imageTestStatusQuery).catch(() => undefined);
        if (s?.stage.startsWith('waiting for instance')) break;
        if (Date.now() > deadline) throw new Error(`never reached the boot wait; stage ${s?.stage}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      first.child.kill('SIGKILL');
      await first.exited;
      expect(dibctlObjects(emu).servers).toHaveLength(1);
      emu.faults.set({ bootDelayMs: 300 });

      const second = startDibctl(['worker', '--task-queue', queue], { cwd: project.dir, env });
      try {
        const result: ImageTestResult = await handle.result();
        expect(result).toMatchObject({ passed: true, exitCode: 0 });
        expect(result.log).toContain('All tests passed successfully');
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      clearInterval(watch);
      emu.faults.reset();
    }
    expect(seen.size).toBe(1);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  }, 180_000);
});
