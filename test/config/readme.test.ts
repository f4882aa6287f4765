/**
 * The docs state no config fact of their own: config/README.md's Defaults table
 * is the one scripts/config-readme.js writes from config/defaults.ts, no other
 * line of it states a default, and the READMEs list exactly the test kinds of
 * config/test-kinds.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../../config/defaults';
import { GENERIC_TESTS, TEST_KINDS } from '../../config/test-kinds';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const script = require('../../scripts/config-readme.js') as {
  README: string;
  BEGIN: string;
  END: string;
  defaultsTable(defaults: object): string;
  withDefaultsTable(readme: string, defaults: object): string;
};

const readme = readFileSync(script.README, 'utf8');
const outsideTable = readme.slice(0, readme.indexOf(script.BEGIN)) + readme.slice(readme.indexOf(script.END));

describe('config/README.md', () => {
  test('its Defaults table is the one written from config/defaults.ts (else run node scripts/config-readme.js)', () => {
    expect(script.withDefaultsTable(readme, DEFAULTS)).toBe(readme);
    expect(readme).toContain(script.defaultsTable(DEFAULTS));
  });

  test('the table has a row for every default', () => {
    for (const key of Object.keys(DEFAULTS)) expect(script.defaultsTable(DEFAULTS)).toContain(`| \`${key}\` |`);
  });

  test('no other line states a default value', () => {
    const values = new Set(Object.values(DEFAULTS).map((v) => (typeof v === 'string' ? `\`${v}\`` : String(v))));
    const stated = [...outsideTable.matchAll(/\bdefault\s+(\S+)/gi)]
      .map((m) => m[1].replace(/[),.;]+$/, ''))
      .filter((word) => values.has(word));
    expect(stated).toEqual([]);
    expect(outsideTable.split('\n').filter((line) => /^\|.*\bdefault\b.*\|$/i.test(line))).toEqual([]);
  });

  test('tests_list lists every test kind and every generic test', () => {
    const listed = [...readme.matchAll(/`\{(\w+): PATH\}`/g)].map((m) => m[1]);
    expect(listed).toEqual([...TEST_KINDS]);
    for (const name of GENERIC_TESTS) expect(readme).toContain(`\`${name}\``);
  });
});

test('the test runners README describes every test kind and external tests', () => {
  const text = readFileSync(path.resolve(__dirname, '../../activities/test-runners/README.md'), 'utf8');
  // the table may be padded for alignment
  const lines = text.slice(text.search(/^\| kind\s+\|/m)).split('\n');
  const table = lines.slice(
    0,
    lines.findIndex((line) => !line.startsWith('|')),
  );
  const kinds = table.map((line) => /^\| `(\w+)`\s+\|/.exec(line)?.[1]).filter((kind) => kind !== undefined);
  expect(kinds.sort()).toEqual([...TEST_KINDS, 'external', 'generic'].sort());
});
