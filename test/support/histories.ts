/**
 * Recorded workflow histories: tests of each workflow save the history of a
 * representative run when DIBCTL_RECORD_HISTORIES=1, and test/replay replays
 * every saved one against the current workflow code, so a change that would
 * break running workflows fails the suite. Recording writes `<name>.json`;
 * files with a date (`<name>-YYYY-MM-DD.json`) are histories of the code as it
 * was on that day, kept unchanged so that workflows started then still replay.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const History = temporal.api.history.v1.History;

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'replay', 'histories');

/** Saves `<name>.json` (history + workflow id) when recording is switched on. */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.DIBCTL_RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const file = path.join(HISTORIES_DIR, `${name}.json`);
  const json = History.toObject(History.fromObject(history), {
    longs: String,
    enums: String,
    bytes: String,
    defaults: false,
  });
  writeFileSync(file, JSON.stringify({ workflowId: handle.workflowId, history: json }, null, 1) + '\n');
}

/** Reads a history saved by recordHistory. */
export function loadHistory(json: unknown): temporal.api.history.v1.IHistory {
  return History.fromObject(json as Record<string, unknown>);
}
