/**
 * `dibctl test` at a terminal: the live block follows the image test's stages
 * with a bar for the test image, and Ctrl-C stops it, gives the terminal back,
 * and still cancels the workflow, whose cleanup shows as plain lines. The
 * built CLI in a pane of a private tmux server, against the emulator and a
 * real Temporal dev server with dibctl's workers.
 */
import { TmuxTerminal, tmuxMissing } from '../support/tmux';
import { NOTHING_LEFT, configArgs, dibctlEnv, dibctlObjects, useStageCloud, workflowIdOf } from './cli-support';

jest.setTimeout(150_000);

const missing = tmuxMissing();
const describeWithTmux = missing ? describe.skip : describe;
if (missing) console.warn(`Skipping the live view tests: ${missing}`);

describeWithTmux('dibctl test at a terminal', () => {
  const stage = useStageCloud('dibctl-live-');
  let terminals: TmuxTerminal[] = [];
  afterEach(() => {
    for (const t of terminals) t.stop();
    terminals = [];
  });

  function terminal(args: string[], cwd: string): TmuxTerminal {
    const env = {
      ...process.env,
      ...dibctlEnv(stage.temporal(), stage.stateDir()),
      CI: undefined,
      NO_COLOR: undefined,
    };
    const t = new TmuxTerminal(args, { env, cwd });
    terminals.push(t);
    return t;
  }

  it('shows each stage as it passes and the final block', async () => {
    const p = await stage.project({ tests: [{ shell: 'tests/check', timeout: 60 }] });
    await p.shellTest('check', 'timeout 20 $DIBCTL_SSH true');
    const term = terminal(['test', 'cirros', ...configArgs(p)], p.dir);
    expect(await term.exited()).toBe(0);
    const rows = term.screen();
    const at = rows.findIndex((r) => r.startsWith('dibctl test cirros (test-cirros-'));
    expect(at).toBeGreaterThanOrEqual(0);
    const block = rows.slice(at + 1, at + 7);
    expect(block).toEqual([
      expect.stringMatching(/^ {2}done +upload the test image( +\d+\.\ds)?$/),
      expect.stringMatching(/^ {2}done +create the keypair/),
      expect.stringMatching(/^ {2}done +boot the instance/),
      expect.stringMatching(/^ {2}done +wait for SSH/),
      expect.stringMatching(/^ {2}done +run the tests/),
      expect.stringMatching(/^ {2}done +clean up/),
    ]);
    // the workflow's own lines scroll above the block
    expect(rows.slice(0, at).join('\n')).toMatch(/Clearing done/);
    expect(term.history().match(/^dibctl test cirros \(test-cirros-/gm)).toHaveLength(1);
    expect(term.cursorShown()).toBe(true);
    expect(dibctlObjects(stage.emu())).toEqual(NOTHING_LEFT);
  });

  it('Ctrl-C stops the view, shows the cleanup as plain lines, exits 1 and leaves the cursor shown', async () => {
    const p = await stage.project({ tests: [{ shell: 'tests/slow', timeout: 120 }] });
    await p.shellTest('slow', 'sleep 60');
    const term = terminal(['test', 'cirros', ...configArgs(p)], p.dir);
    await term.waitForScreen((rows) => rows.some((r) => /^ {2}running +run the tests/.test(r)), 'the tests running');
    expect(term.cursorShown()).toBe(false);
    term.sendKeys('C-c');
    expect(await term.exited()).toBe(1);
    const text = term.history();
    const lines = text.split('\n');
    const title = lines.findIndex((l) => l.startsWith('dibctl test cirros (test-cirros-'));
    expect(lines[title]).toMatch(/ interrupted$/);
    // drawn once; everything after it came as plain lines
    expect(text.match(/^dibctl test cirros \(test-cirros-/gm)).toHaveLength(1);
    const after = lines.slice(title).join('\n');
    expect(after).toContain('Interrupted: cancelling the workflow; cleanup runs before dibctl exits.');
    expect(after).toMatch(/Removing instance/);
    expect(after).toMatch(/Clearing done/);
    expect(after).toMatch(/^Error: Workflow \S+ was cancelled$/m);
    expect(term.cursorShown()).toBe(true);
    const id = workflowIdOf(text);
    expect((await stage.temporal().client.workflow.getHandle(id).describe()).status.name).toBe('CANCELLED');
    expect(dibctlObjects(stage.emu())).toEqual(NOTHING_LEFT);
  });
});
