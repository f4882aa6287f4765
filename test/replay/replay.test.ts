import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { workflowSource } from '../../worker/worker';
import { HISTORIES_DIR, loadHistory } from '../support/histories';

// Replaying a deliberately wrong history logs the nondeterminism at WARN; the rest is noise.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const files = readdirSync(HISTORIES_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('recorded histories replay against the current workflow code', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const { workflowId, history } = JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'));
    await expect(
      Worker.runReplayHistory({ ...workflowSource() }, loadHistory(history), workflowId),
    ).resolves.toBeUndefined();
  });

  it('a history from different workflow code is reported as nondeterministic (the check can fail)', async () => {
    const { workflowId, history } = JSON.parse(readFileSync(path.join(HISTORIES_DIR, files[0]), 'utf8'));
    const parsed = loadHistory(history);
    // Pretend the first scheduled activity was a different one: the current code disagrees.
    const scheduled = parsed.events?.find((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled).toBeDefined();
    scheduled!.activityTaskScheduledEventAttributes!.activityType = { name: 'someOtherActivity' };
    await expect(Worker.runReplayHistory({ ...workflowSource() }, parsed, workflowId)).rejects.toThrow(
      /[Nn]ondetermin/,
    );
  });
});
