import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { prepareTestInput } from '../../client/commands/test';
import { Emulator, startEmulator } from '../../emulator';
import { startDevServer } from '../../temporal/dev-server';
import { freePort } from '../../temporal/free-port';
import type { ImageTestResult } from '../../workflows';
import { cleanTemporalEnv } from '../support/cli';
import { NOTHING_LEFT, dibctlObjects, startDibctl } from './cli-support';
import { StageProject, stageProject } from './fixture';
import { imageTestStatusQuery, imageTestWorkflow } from '../../workflows';

describe('image test survives a restart of the Temporal server', () => {
  let emu: Emulator;
  let project: StageProject;
  let dir: string;

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'] });
    project = await stageProject(emu, 'cirros', { tests: [{ shell: 'tests/check', timeout: 60 }] });
    await project.shellTest('check', 'timeout 20 $DIBCTL_SSH true');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-restart-'));
  });
  afterAll(async () => {
    await project?.remove();
    await emu?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('a server stopped and started again (same database) while the instance boots: the test finishes and nothing leaks', async () => {
    const port = await freePort('127.0.0.1');
    const dbFilename = path.join(dir, 'temporal.db');
    let server = await startDevServer({ dbFilename, port });
    const env = cleanTemporalEnv({
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      DIBCTL_STATE_DIR: path.join(dir, 'state'),
    });
    const worker = startDibctl(['worker', '--task-queue', 'restart-test'], { cwd: project.dir, env });
    const connection = await Connection.connect({ address: server.address });
    try {
      await worker.waitFor(/Worker polling/);
      const client = new Client({ connection, namespace: server.namespace });
      const input = prepareTestInput(
        'cirros',
        { imagesConfig: project.imagesConfig, testConfig: project.testConfig, cwd: project.dir },
        'restart-test',
        'test',
      );
      emu.faults.set({ bootDelayMs: 5_000 });
      const handle = await client.workflow.start(imageTestWorkflow, {
        taskQueue: 'restart-test',
        workflowId: `restart-${Date.now()}`,
        args: [input],
      });
      const deadline = Date.now() + 60_000;
      for (;;) {
        const s = await handle.query(imageTestStatusQuery).catch(() => undefined);
        if (s?.stage.startsWith('waiting for instance')) break;
        if (Date.now() > deadline) throw new Error(`never reached the boot wait; stage ${s?.stage}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await server.stop();
      await new Promise((r) => setTimeout(r, 1_000));
      server = await startDevServer({ dbFilename, port });
      emu.faults.set({ bootDelayMs: 300 });
      const result: ImageTestResult = await handle.result();
      expect(result).toMatchObject({ passed: true, exitCode: 0 });
      expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
    } finally {
      emu.faults.reset();
      worker.child.kill('SIGTERM');
      await worker.exited;
      await connection.close();
      await server.stop();
    }
  }, 180_000);
});
