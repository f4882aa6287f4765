/**
 * Durations given on the command line have the bounds of config durations:
 * `schedule create --every` / `--catchup-window` and `test --hold-limit` are
 * refused (exit 2, as every other bad option) when longer than 10 years, before
 * anything is started.
 */
import { prepareTestInput } from '../../client/commands/test';
import { prepareScheduleCreate } from '../../client/commands/schedule';
import { DibctlError } from '../../errors';

const TOO_LONG = 'must be at most 10 years (315360000 seconds)';
const create = (opts: { every?: string; catchupWindow?: string }) =>
  prepareScheduleCreate(
    'base',
    { uploadEnv: ['one'], build: true, test: true, overlap: 'skip', catchupWindow: '1d', ...opts },
    'embedded',
  );

async function refusal(fn: () => unknown): Promise<DibctlError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DibctlError);
    return err as DibctlError;
  }
  throw new Error('not refused');
}

describe('command-line durations', () => {
  it.each([
    ['--every', { every: '600w' }, `--every 600w: ${TOO_LONG}`],
    ['--every', { every: '8640000000000' }, `--every 8640000000000: ${TOO_LONG}`],
    ['--every', { every: '0' }, '--every 0: must be at least 1 second'],
    ['--catchup-window', { every: '7d', catchupWindow: '3651d' }, `--catchup-window 3651d: ${TOO_LONG}`],
  ])('schedule create refuses %s %j with exit 2', async (_flag, opts, says) => {
    const err = await refusal(() => create(opts));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(says);
  });

  it('schedule create takes 10 years and goes on to what comes next', async () => {
    const err = await refusal(() => create({ every: '3650d', catchupWindow: '315360000' }));
    expect(err.message).toMatch(/^A schedule needs a Temporal server/);
  });

  it('test --hold-limit longer than 10 years is refused with exit 2 before any config is read', async () => {
    const err = await refusal(() =>
      prepareTestInput('img', { holdLimit: 8.64e12, cwd: '/nonexistent' }, 'dibctl', 'test'),
    );
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe(`--hold-limit 8640000000000: ${TOO_LONG}`);
  });
});
