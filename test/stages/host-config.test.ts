/**
 * What a test run executes comes from the config on the worker's host, never
 * from the workflow input; and a project whose path has spaces works.
 */
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareTestInput } from '../../client/commands/test';
import { Emulator, startEmulator } from '../../emulator';
import { imageTestWorkflow } from '../../workflows';
import { runDibctl } from '../support/cli';
import { useTemporal } from '../support/temporal';
import { NOTHING_LEFT, dibctlEnv, dibctlObjects } from './cli-support';
import { StageProject, stageProject } from './fixture';

describe('commands of a test run come from the host config', () => {
  const temporal = useTemporal();
  let emu: Emulator;
  let project: StageProject;
  let stateDir: string;
  let spaced: string;

  beforeAll(async () => {
    emu = await startEmulator({ regions: ['RegionOne'], faults: { bootDelayMs: 200 } });
    project = await stageProject(emu, 'cirros', { tests: [{ shell: 'tests/check', timeout: 60 }] });
    await project.shellTest('check', 'test "$(timeout 20 $DIBCTL_SSH hostname)" = "$DIBCTL_INSTANCE_NAME"');
    stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-state-'));
    spaced = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl project with spaces '));
    await fs.cp(project.dir, spaced, { recursive: true });
    await temporal().startWorkers('host-config', { env: { ...process.env, DIBCTL_STATE_DIR: stateDir } });
  });
  afterAll(async () => {
    await project?.remove();
    if (spaced) await fs.rm(spaced, { recursive: true, force: true });
    await emu?.stop();
    if (stateDir) await fs.rm(stateDir, { recursive: true, force: true });
  });

  it('a test workflow started by hand with commands in its input runs none of them', async () => {
    const marker = path.join(stateDir, 'injected');
    const input = prepareTestInput(
      'cirros',
      { imagesConfig: project.imagesConfig, testConfig: project.testConfig, cwd: project.dir },
      'host-config',
      'test',
    );
    const injected = {
      ...input,
      plan: {
        ...input.plan,
        image: {
          ...input.plan.image,
          externalTests: [`touch ${marker}`],
          tests: {
            ...input.plan.image.tests,
            testsList: [{ kind: 'shell', path: `/bin/sh -c 'touch ${marker}'`, timeout: 30 }],
          },
        },
      },
    } as typeof input;
    const result = await temporal().client.workflow.execute(imageTestWorkflow, {
      taskQueue: 'host-config',
      workflowId: `injected-${Date.now()}`,
      args: [injected],
    });
    expect(result.passed).toBe(true);
    expect(existsSync(marker)).toBe(false);
    // the host's own test ran instead
    expect(result.tests.map((t) => t.name)).toEqual([expect.stringContaining('check')]);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });

  it('dibctl test works from a project directory whose path has spaces', async () => {
    const r = await runDibctl(
      [
        'test',
        'cirros',
        '--images-config',
        path.join(spaced, 'images.yaml'),
        '--test-config',
        path.join(spaced, 'test.yaml'),
      ],
      {
        cwd: spaced,
        env: dibctlEnv(temporal(), stateDir),
        timeoutMs: 120_000,
      },
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/All tests passed successfully/);
    expect(dibctlObjects(emu)).toEqual(NOTHING_LEFT);
  });
});
