/**
 * `dibctl schedule`: real Temporal Schedules on the dev server that start the
 * image lifecycle; pausing stops them; a run due while one runs is skipped.
 */
import { usePublishFixture } from './fixture';

jest.setTimeout(150_000);

const f = usePublishFixture();

async function eventually(what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const describeSchedule = async (id: string) => f().temporal.client.schedule.getHandle(id).describe();

describe('dibctl schedule', () => {
  it('starts lifecycles on an interval, lists and describes them, and pausing stops it', async () => {
    const create = await f().cli([
      'schedule',
      'create',
      'base',
      '--upload-env',
      'two',
      '--no-build',
      '--no-test',
      '--every',
      '2s',
    ]);
    expect(create.code).toBe(0);
    expect(create.stdout).toContain('Schedule dibctl-base created: every 2s, runs base → two');

    await eventually('two lifecycles ran', async () => {
      const d = await describeSchedule('dibctl-base');
      return d.info.recentActions.length >= 2;
    });
    const runs = (await describeSchedule('dibctl-base')).info.recentActions.map((a) =>
      a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : '',
    );
    expect(runs[0]).toMatch(/^dibctl-run-base-/);
    const first = await f().temporal.client.workflow.getHandle(runs[0]).result();
    expect(first).toMatchObject({
      label: 'base',
      failed: [],
      regions: [expect.objectContaining({ environment: 'two', ok: true })],
    });

    const list = await f().cli(['schedule', 'list']);
    expect(list.stdout).toMatch(/^dibctl-base\s+base\s+every 2s\s+no\s+\S+/m);

    expect((await f().cli(['schedule', 'pause', 'dibctl-base', '--note', 'maintenance'])).stdout).toBe(
      'Schedule dibctl-base paused\n',
    );
    const taken = (await describeSchedule('dibctl-base')).info.numActionsTaken;
    await new Promise((r) => setTimeout(r, 5000));
    expect((await describeSchedule('dibctl-base')).info.numActionsTaken).toBe(taken);

    const desc = await f().cli(['schedule', 'describe', 'dibctl-base']);
    expect(desc.code).toBe(0);
    expect(desc.stdout).toContain('Schedule dibctl-base: base → two, every 2s (paused: maintenance)');
    expect(desc.stdout).toMatch(/Overlap: .*skip.*, catch-up window 86400s/i);
    expect(desc.stdout).toMatch(/Ran \S+: dibctl-run-base-/);

    // a manual trigger starts a run even while paused
    expect((await f().cli(['schedule', 'trigger', 'dibctl-base'])).code).toBe(0);
    await eventually(
      'the triggered run started',
      async () => (await describeSchedule('dibctl-base')).info.numActionsTaken > taken,
    );

    expect((await f().cli(['schedule', 'delete', 'dibctl-base'])).stdout).toBe('Schedule dibctl-base deleted\n');
    const gone = await f().cli(['schedule', 'describe', 'dibctl-base']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("No schedule with id 'dibctl-base'");
  });

  it('skips a run that is due while the previous one still runs', async () => {
    f().emu.faults.set({ uploadBytesPerSecond: 512 * 1024 });
    try {
      const create = await f().cli([
        'schedule',
        'create',
        'public',
        '--id',
        'slow-public',
        '--upload-env',
        'one',
        '--no-build',
        '--no-test',
        '--every',
        '1s',
      ]);
      expect(create.code).toBe(0);
      await eventually(
        'a run was skipped',
        async () => (await describeSchedule('slow-public')).info.numActionsSkippedOverlap > 0,
      );
      const d = await describeSchedule('slow-public');
      expect(d.info.runningActions.length).toBeLessThanOrEqual(1);
    } finally {
      await f()
        .temporal.client.schedule.getHandle('slow-public')
        .delete()
        .catch(() => undefined);
      f().emu.faults.reset();
    }
  });

  it('refuses a schedule without exactly one of --every and --cron, and an invalid duration', async () => {
    const none = await f().cli(['schedule', 'create', 'base', '--upload-env', 'one']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Give exactly one of --every DURATION or --cron');
    const bad = await f().cli(['schedule', 'create', 'base', '--upload-env', 'one', '--every', 'weekly']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--every weekly: must be a duration');
  });

  it('creates a cron schedule that starts nothing until it is due', async () => {
    const r = await f().cli([
      '--json',
      'schedule',
      'create',
      'base',
      '--id',
      'weekly-base',
      '--upload-env',
      'one',
      '--upload-env',
      'two',
      '--no-build',
      '--cron',
      '0 3 * * 1',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { nextRun: string; uploadEnvironments: string[] };
    expect(out.uploadEnvironments).toEqual(['one', 'two']);
    const next = new Date(out.nextRun);
    expect(next.getUTCDay()).toBe(1);
    expect(next.getUTCHours()).toBe(3);
    expect((await describeSchedule('weekly-base')).info.numActionsTaken).toBe(0);
    await f().cli(['schedule', 'delete', 'weekly-base']);
  });
});

describe('dibctl list', () => {
  it('lists image lifecycles by label with their status, newest first', async () => {
    const run = await f().cli(['run', 'shared', '--no-build', '--no-test', '--upload-env', 'one']);
    expect(run.code).toBe(0);
    const id = /Image lifecycle (\S+)/.exec(run.stderr)![1];
    await eventually(
      'the lifecycle is visible',
      async () => (await f().cli(['list', '--label', 'shared'])).stdout.includes(id),
      20_000,
    );
    const r = await f().cli(['list', '--label', 'shared']);
    expect(r.stdout).toMatch(new RegExp(`^${id}\\s+shared\\s+one\\s+COMPLETED\\s+\\S+`, 'm'));
    expect(r.stdout).not.toContain('dibctl-run-base');
    const running = await f().cli(['list', '--label', 'shared', '--running']);
    expect(running.stdout).toBe('No image lifecycles found.\n');
  });

  it('finds a lifecycle by any of its upload environments', async () => {
    const run = await f().cli([
      'run',
      'shared',
      '--no-build',
      '--no-test',
      '--upload-env',
      'one',
      '--upload-env',
      'two',
    ]);
    expect(run.code).toBe(0);
    const id = /Image lifecycle (\S+)/.exec(run.stderr)![1];
    await eventually(
      'the lifecycle is visible',
      async () => (await f().cli(['list', '--environment', 'two'])).stdout.includes(id),
      20_000,
    );
    const json = await f().cli(['--json', 'list', '--environment', 'two']);
    const rows = JSON.parse(json.stdout) as Array<{ workflowId: string; environments: string }>;
    expect(rows.find((r) => r.workflowId === id)).toMatchObject({ environments: 'one,two' });
    expect((await f().cli(['list', '--environment', 'one'])).stdout).toContain(id);
    const elsewhere = await f().cli(['list', '--environment', 'three']);
    expect(elsewhere.stdout).not.toContain(id);
  });
});
