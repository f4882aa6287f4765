#!/usr/bin/env node
// Writes the Defaults table of config/README.md from config/defaults.ts, so the
// documented defaults are the ones the code applies. `node scripts/config-readme.js`
// rewrites the README; test/config/readme.test.ts fails when it is out of date.
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const swc = require('@swc/core');

const root = path.resolve(__dirname, '..');
const README = path.join(root, 'config', 'README.md');
const SOURCE = path.join(root, 'config', 'defaults.ts');
const BEGIN = '<!-- defaults: written by scripts/config-readme.js from config/defaults.ts -->';
const END = '<!-- end of defaults -->';

/** config/defaults.ts compiled on the fly: it imports nothing at run time, so no build is needed. */
function loadDefaults() {
  const { code } = swc.transformFileSync(SOURCE, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  const m = new Module(SOURCE);
  m.filename = SOURCE;
  m._compile(code, SOURCE);
  return m.exports.DEFAULTS;
}

function cell(value) {
  return typeof value === 'string' ? `\`${value}\`` : String(value);
}

/** The Markdown table of every default. */
function defaultsTable(defaults = loadDefaults()) {
  const rows = Object.entries(defaults).map(([key, value]) => `| \`${key}\` | ${cell(value)} |`);
  return ['| key | default |', '|---|---|', ...rows].join('\n');
}

/** The README text with its Defaults table written afresh. */
function withDefaultsTable(readme, defaults) {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`config/README.md: the lines ${BEGIN} and ${END} are missing`);
  return `${readme.slice(0, start + BEGIN.length)}\n${defaultsTable(defaults)}\n${readme.slice(end)}`;
}

module.exports = { README, BEGIN, END, loadDefaults, defaultsTable, withDefaultsTable };

if (require.main === module) {
  const before = fs.readFileSync(README, 'utf8');
  const after = withDefaultsTable(before);
  if (after !== before) fs.writeFileSync(README, after);
  process.stdout.write(
    after === before ? 'config/README.md is up to date\n' : 'config/README.md: Defaults table rewritten\n',
  );
}
