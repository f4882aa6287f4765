/**
 * What a person at a terminal sees of `dibctl run`, `upload` and `transfer`: one
 * block redrawn in place, with the stages and a progress bar per upload
 * environment, that fits a terminal made narrower, leaves the cursor shown, and
 * gives way to the plain lines with CI or NO_COLOR set. The built CLI in a pane
 * of a private tmux server, a real Temporal dev server with dibctl's workers,
 * and the emulator's upload throttle to catch an upload halfway.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { textWidth } from '../../client/live-view';
import { envWithout } from '../config/helpers';
import { cleanTemporalEnv } from '../support/cli';
import { TmuxTerminal, tmuxMissing } from '../support/tmux';
import { usePublishFixture } from './fixture';

jest.setTimeout(150_000);

const missing = tmuxMissing();
const describeWithTmux = missing ? describe.skip : describe;
if (missing) console.warn(`Skipping the live view tests: ${missing}`);

const f = usePublishFixture();

/** Large enough that the loopback's socket buffers do not take it in at once: the bar moves at the emulator's pace. */
const BIG_BYTES = 24 * 1024 * 1024;
const RUN = ['run', 'base', '--no-build', '--no-test', '--upload-env', 'one', '--upload-env', 'two', '-i', 'big.qcow2'];

let terminals: TmuxTerminal[] = [];

/** dibctl in a 100 × 30 terminal of its own, against the suite's server, as an operator's shell would start it. */
function terminal(args: string[], env: NodeJS.ProcessEnv = {}): TmuxTerminal {
  const t = f().temporal;
  const term = new TmuxTerminal(args, {
    cwd: f().tree.root,
    env: envWithout(
      cleanTemporalEnv({
        TEMPORAL_ADDRESS: t.server.address,
        TEMPORAL_NAMESPACE: t.server.namespace,
        CI: undefined,
        NO_COLOR: undefined,
        ...env,
      }),
    ),
  });
  terminals.push(term);
  return term;
}

/** A bar row of the block: `    one  [#####.....]  8.0 MiB of 24.0 MiB   33%  2.0 MiB/s  ETA 8s`. */
function barRow(rows: string[], env: string): string | undefined {
  return rows.find((r) => new RegExp(`^\\s+${env}\\s+\\[[#.]+\\]\\s+\\S+ \\S+ of \\S+ \\S+\\s+\\d+%`).test(r));
}

/** Whether an upload environment's bar shows some bytes sent and some still to go. */
function halfway(rows: string[], env: string): boolean {
  const row = barRow(rows, env);
  return Boolean(row && /\[#+\.+\]/.test(row));
}

beforeAll(() => {
  writeFileSync(f().tree.path('big.qcow2'), randomBytes(BIG_BYTES));
});

afterEach(() => {
  f().emu.faults.reset();
  for (const term of terminals) term.stop();
  terminals = [];
});

describeWithTmux('the live view on a terminal', () => {
  it('run shows each stage and a progress bar per upload environment while uploading, then the final block and the results', async () => {
    f().emu.faults.set({ uploadBytesPerSecond: 2 * 1024 * 1024 });
    const term = terminal(RUN);
    const mid = await term.waitForScreen(
      (rows) => halfway(rows, 'one') && halfway(rows, 'two'),
      'both upload environments halfway',
    );
    const title = mid.findIndex((r) => r.startsWith('dibctl run base (one, two)'));
    expect(title).toBeGreaterThanOrEqual(0);
    expect(mid[title + 1]).toMatch(/^ {2}running +publish +\d+\.\ds +publishing to one, two$/);
    expect(barRow(mid, 'one')).toMatch(/MiB\/s +ETA \d+s$/);
    // the plain progress lines are not printed on a terminal
    expect(mid.join('\n')).not.toMatch(/^(Stage:|Uploading to)/m);
    expect(term.cursorShown()).toBe(false);

    // narrower: the block is drawn again to the new width, without leftovers of the wider one
    term.resize(60, 30);
    await new Promise((r) => setTimeout(r, 1_500));
    const narrow = term.screen();
    for (const row of narrow) expect(textWidth(row)).toBeLessThanOrEqual(60);
    expect(narrow.filter((r) => r.startsWith('dibctl run base')).length).toBe(1);
    // too narrow for the bars: the figures stay
    expect(narrow.filter((r) => /^\s+(one|two)\s+\d+\.\d MiB of 24\.0 MiB +\d+%/.test(r)).length).toBe(2);

    expect(await term.exited()).toBe(0);
    const final = term.screen();
    const at = final.findIndex((r) => r.startsWith('dibctl run base (one, two)'));
    expect(final[at + 1]).toMatch(/^ {2}done +publish +\d+\.\ds$/);
    expect(final).toContainEqual(expect.stringMatching(/^ {4}one +24\.0 MiB of 24\.0 MiB +100% +\S+ MiB\/s +done$/));
    expect(final).toContainEqual(expect.stringMatching(/^ {4}two +24\.0 MiB of 24\.0 MiB +100% +\S+ MiB\/s +done$/));
    // the results come below the block, which was drawn once: every redraw replaced the one before
    expect(final.slice(at).join('\n')).toMatch(/^one: image \S+ 'Base Image' uploaded/m);
    expect(final.slice(at).join('\n')).toMatch(/^two: image \S+ 'Base Image' uploaded/m);
    expect(term.history().match(/^dibctl run base/gm)).toHaveLength(1);
    expect(term.cursorShown()).toBe(true);
  });

  it('upload shows its stages and one bar; with CI or NO_COLOR set the terminal gets the plain lines', async () => {
    const live = terminal(['upload', 'base', 'one']);
    expect(await live.exited()).toBe(0);
    const rows = live.screen();
    const at = rows.findIndex((r) => r.startsWith('dibctl upload base one'));
    expect(at).toBeGreaterThanOrEqual(0);
    expect(rows[at + 1]).toMatch(/^ {2}done +prepare the file/);
    expect(rows[at + 2]).toMatch(/^ {2}done +upload\b/);
    expect(rows.join('\n')).toMatch(/^one: image \S+ 'Base Image' uploaded/m);

    for (const env of [{ CI: 'true' }, { NO_COLOR: '1' }]) {
      const plain = terminal(['upload', 'base', 'one'], env);
      expect(await plain.exited()).toBe(0);
      const text = plain.history();
      expect(text).toMatch(/Uploading \S*base\.qcow2 to one as 'Base Image'/);
      expect(text).toMatch(/^one: image \S+ 'Base Image' uploaded/m);
      expect(text).not.toMatch(/^dibctl upload/m);
      expect(plain.cursorShown()).toBe(true);
    }
  });

  it('transfer shows its copy running, then done, with the result below the block', async () => {
    const one = await f().cloud('admin', 'RegionOne');
    const img = await one.image.createImage({ name: 'Golden', disk_format: 'raw', container_format: 'bare' });
    await one.image.uploadImage(img.id, f().tree.path('big.qcow2'));
    f().emu.faults.set({ uploadBytesPerSecond: 4 * 1024 * 1024 });
    const term = terminal(['transfer', img.id, '--src-env', 'one', '--dst-env', 'two']);
    // a copy reports its progress to Temporal every 24 s or so: the bar may come late, the stage at once
    await term.waitForScreen(
      (rows) => rows.some((r) => /^ {2}running +copy +\d+\.\ds +copying /.test(r)),
      'the copy running',
    );
    expect(await term.exited()).toBe(0);
    const rows = term.screen();
    const at = rows.findIndex((r) => r.startsWith(`dibctl transfer ${img.id}`));
    expect(rows[at + 1]).toMatch(/^ {2}done +copy +\d+\.\ds$/);
    expect(rows.slice(at).join('\n')).toMatch(new RegExp(`^Image ${img.id} copied as \\S+ 'Golden'`, 'm'));
    expect(term.cursorShown()).toBe(true);
  });

  it('shows the retries in the block as they happen, and they stay in the final block', async () => {
    // environment two gives up after a few attempts a second apart (its retry section)
    f().emu.faults.set({ failingRegions: ['RegionTwo'] });
    const term = terminal(['upload', 'base', 'two']);
    const retry = /^ {2}retrying \w+ \(attempt \d+ of \d+\): Glance answered 503/;
    await term.waitForScreen((rows) => rows.some((r) => retry.test(r)), 'a retry in the block');
    expect(await term.exited()).toBe(1);
    const rows = term.screen();
    const at = rows.findIndex((r) => r.startsWith('dibctl upload base two'));
    expect(rows.slice(at).some((r) => retry.test(r))).toBe(true);
    expect(rows.slice(at)).toContainEqual(expect.stringMatching(/^ {2}failed +/));
    // the error comes below the block, as a plain line
    expect(rows.slice(at).join('\n')).toMatch(/^Error: .*503/m);
    // the plain retry lines are not printed on a terminal
    expect(term.history()).not.toMatch(/^Retrying /m);
    expect(term.cursorShown()).toBe(true);
  });

  it('Ctrl-C during an upload stops the view, shows the cursor and ends dibctl as the signal does without one', async () => {
    f().emu.faults.set({ uploadBytesPerSecond: 2 * 1024 * 1024 });
    const term = terminal(['upload', 'base', 'one', '-i', 'big.qcow2']);
    await term.waitForScreen((rows) => halfway(rows, 'one'), 'the upload halfway');
    term.sendKeys('C-c');
    // 128 + SIGINT: the signal ended it, as it does without a live view
    expect(await term.exited()).toBe(130);
    const rows = term.screen();
    expect(rows.find((r) => r.startsWith('dibctl upload base one'))).toMatch(/ interrupted$/);
    expect(rows.filter((r) => r.startsWith('dibctl upload base one'))).toHaveLength(1);
    expect(term.cursorShown()).toBe(true);
  });
});
