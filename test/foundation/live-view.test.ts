/**
 * The live block's lines: stages with their state and duration, a bar per
 * upload with bytes, rate and time left, retries, and nothing wider than the
 * terminal; and when a command gets a live view at all.
 */
import { LiveModel, liveView, textWidth, truncate } from '../../client/live-view';
import type { Output } from '../../client/render';

const PHASES = [
  { title: 'build', matches: /^building / },
  { title: 'test', matches: /^testing / },
  { title: 'hold', matches: /^holding/, optional: true },
  { title: 'publish', matches: /^publishing to / },
];

describe('the live block', () => {
  it('shows each stage pending, running with its own words, then done with how long it took', () => {
    const m = new LiveModel('dibctl run cirros (one)', PHASES, 0);
    expect(m.render(80, 20, 500)).toEqual([
      'dibctl run cirros (one)  0.5s',
      '  pending  build',
      '  pending  test',
      '  pending  publish',
    ]);
    m.stage('building cirros', 1_000);
    m.stage('testing cirros', 3_500);
    m.detail('booting instance DIBCTL-1');
    expect(m.render(80, 20, 4_000)).toEqual([
      'dibctl run cirros (one)  4.0s',
      '  done     build      2.5s',
      '  running  test       0.5s  booting instance DIBCTL-1',
      '  pending  publish',
    ]);
    m.finish('done', 9_000);
    expect(m.render(80, 20, 20_000)).toEqual([
      'dibctl run cirros (one)  9.0s',
      '  done     build      2.5s',
      '  done     test       5.5s',
      // it ran between two looks: done, with no duration to tell
      '  done     publish',
    ]);
  });

  it('marks the running stage failed and the stages never reached skipped when the workflow fails', () => {
    const m = new LiveModel('t', PHASES, 0);
    m.stage('building x', 0);
    m.finish('failed', 2_000);
    expect(m.render(80, 20).slice(1)).toEqual(['  failed   build      2.0s', '  skipped  test', '  skipped  publish']);
  });

  it('shows an optional stage only once the workflow reaches it', () => {
    const m = new LiveModel('t', PHASES, 0);
    m.stage('holding for keep or discard', 1_000);
    expect(m.render(80, 20, 2_000).slice(1)).toEqual([
      '  done     build',
      '  done     test',
      '  running  hold       1.0s  holding for keep or discard',
      '  pending  publish',
    ]);
  });

  it('draws a bar per upload environment with bytes, share, rate and time left, and the retries', () => {
    const m = new LiveModel('t', PHASES, 0);
    const MiB = 1024 * 1024;
    m.upload('one', 'one', { bytes: 6 * MiB, total: 24 * MiB, rate: 2 * MiB });
    m.upload('region-two', 'region-two', { bytes: 24 * MiB, total: 24 * MiB, rate: 2 * MiB }, 'done');
    m.retry('retrying uploadImageFile for one (attempt 3 of 6): Glance answered 503');
    expect(m.render(100, 20).slice(4)).toEqual([
      '    one         [######..................]  6.0 MiB of 24.0 MiB   25%  2.0 MiB/s  ETA 9s',
      '    region-two  [########################]  24.0 MiB of 24.0 MiB  100%  2.0 MiB/s  done',
      '  retrying uploadImageFile for one (attempt 3 of 6): Glance answered 503',
    ]);
    // narrow: the bar goes before the figures are cut
    const narrow = m.render(60, 20);
    expect(narrow[4]).toBe('    one         6.0 MiB of 24.0 MiB   25%  2.0 MiB/s  ETA 9s');
    for (const line of narrow) expect(textWidth(line)).toBeLessThanOrEqual(60);
    for (const line of m.render(24, 20)) expect(textWidth(line)).toBeLessThanOrEqual(24);
  });

  it('keeps within the height, says how many lines it left out, and marks an interruption', () => {
    const m = new LiveModel('t', PHASES, 0);
    // the newest three retries stay
    for (let i = 0; i < 6; i++) m.retry(`retrying step${i}`);
    m.finish('interrupted', 1_000);
    const lines = m.render(80, 5, 9_000);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe('t  1.0s  interrupted');
    expect(lines.slice(1, 4)).toEqual(['  pending  build', '  pending  test', '  pending  publish']);
    expect(lines[4]).toBe('  … 3 more');
  });

  it('counts wide characters as two columns and turns control characters into spaces', () => {
    expect(textWidth('イメージ')).toBe(8);
    expect(truncate('イメージ名', 7)).toBe('イメー…');
    expect(truncate('abcdef', 4)).toBe('abc…');
    const m = new LiveModel('t', PHASES, 0);
    m.retry('retrying x: \x1b[2Jboom');
    expect(m.render(80, 20).pop()).toBe('  retrying x:  [2Jboom');
  });
});

describe('when a command gets a live view', () => {
  const tty = { isTTY: true, columns: 80, rows: 24 } as NodeJS.WriteStream;
  const out = (json: boolean, terminal?: NodeJS.WriteStream): Output => ({
    out: () => undefined,
    err: () => undefined,
    json,
    ...(terminal ? { terminal } : {}),
  });

  it.each([
    ['no terminal', out(false, { isTTY: false } as NodeJS.WriteStream), {}],
    ['an output of its own', out(false), {}],
    ['--json', out(true, tty), {}],
    ['NO_COLOR set', out(false, tty), { NO_COLOR: '' }],
    ['CI set', out(false, tty), { CI: 'true' }],
    ['a dumb terminal', out(false, tty), { TERM: 'dumb' }],
  ])('never with %s', (_why, o, env) => {
    expect(liveView(o, 't', PHASES, { interrupts: 'exit' }, env)).toBeUndefined();
  });
});
