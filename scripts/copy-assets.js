#!/usr/bin/env node
// Copies the non-TypeScript files the compiled code uses at run time
// (the pytest plugin, the generic tests) next to it in dist/.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const assets = [
  path.join('activities', 'test-runners', 'pytest_plugin'),
  path.join('activities', 'test-runners', 'generic_tests'),
];
for (const rel of assets) {
  fs.cpSync(path.join(root, rel), path.join(root, 'dist', rel), {
    recursive: true,
    filter: (src) => !src.includes('__pycache__'),
  });
}
