#!/usr/bin/env node
// Fails when a TypeScript module exports something no other module imports
// (tests and benches count as users). Modules whose exports are used from
// outside TypeScript are left out of the report: the CLI entry point (bin/),
// the module operators' `ts:` tests import as `dibctl/testing`, and jest's
// global setup files.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const entryPoints = [
  'client/main.ts',
  'activities/test-runners/testing.ts',
  'test/real/global-setup.ts',
  'test/real/global-teardown.ts',
];
const bin = require.resolve('ts-unused-exports/bin/ts-unused-exports', { paths: [root] });
const r = spawnSync(
  process.execPath,
  [bin, 'tsconfig.json', '--showLineNumber', `--excludePathsFromReport=${entryPoints.join(';')}`],
  {
    cwd: root,
    encoding: 'utf8',
  },
);
const out = (r.stdout + r.stderr).split(root + path.sep).join('');
if (r.status !== 0 || /^[1-9]\d* modules? with unused exports/m.test(out)) {
  process.stderr.write(out);
  process.stderr.write('Remove these exports, or use them.\n');
  process.exit(1);
}
