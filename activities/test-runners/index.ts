/**
 * Test runners: one entry of an image's tests (shell, pytest, ts, ssh, image or
 * an external command) run against a booted instance, and the JUnit report of
 * a run. A failing test is a result with passed=false, never an exception.
 */
import type { TestKind } from '../../config/test-kinds';
import type { TestSpec } from '../../config/view';
import { RunOptions, errorText, openLog, result } from './entry';
import { runExternal } from './external';
import { runImage } from './image';
import { runGeneric, runPytest } from './pytest';
import { runShell } from './shell';
import { runSsh } from './ssh';
import { runTs } from './ts';
import type { InstanceTestContext, TestEntryResult } from './types';

export type TestEntrySpec =
  TestSpec | { kind: 'external'; cmdline: string; timeout?: number } | { kind: 'ts'; path: string; timeout: number };

export type { TestEntryResult } from './types';
export { writeJUnitReport } from './junit';
export { sshCommandLine, sshConfigText } from './environment';

/** The name a result carries for a spec (`shell: /path`, `external: cmdline`). */
function entryName(spec: TestEntrySpec): string {
  return spec.kind === 'external' ? `external: ${spec.cmdline}` : `${spec.kind}: ${spec.path}`;
}

/** The runner of each test kind of images.yaml; a kind without one does not compile. */
const RUNNERS: Record<
  TestKind | 'generic',
  (spec: TestSpec, ctx: InstanceTestContext, opts: RunOptions) => Promise<TestEntryResult>
> = {
  shell: runShell,
  pytest: runPytest,
  ssh: runSsh,
  image: runImage,
  ts: runTs,
  generic: runGeneric,
};

export async function runTestEntry(
  spec: TestEntrySpec,
  ctx: InstanceTestContext,
  opts: RunOptions,
): Promise<TestEntryResult> {
  try {
    if (spec.kind === 'external') return await runExternal(spec, ctx, opts);
    return await RUNNERS[spec.kind](spec, ctx, opts);
  } catch (err) {
    // runners report failures as results; anything thrown is an unexpected error of the runner itself
    const started = Date.now();
    const log = openLog(spec.kind, spec.kind === 'external' ? 'external' : spec.path, opts);
    return result(entryName(spec), spec.kind, started, log, {
      passed: false,
      reason: `dibctl could not run the test: ${errorText(err)}`,
    });
  }
}
