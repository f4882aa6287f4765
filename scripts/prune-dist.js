#!/usr/bin/env node
// Removes compiled files from dist/ whose TypeScript source no longer exists.
// tsc's incremental build never deletes: a module moved from `x.ts` to
// `x/index.ts` would otherwise still load from the stale `dist/x.js`.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

function prune(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      prune(full);
      if (!fs.readdirSync(full).length) fs.rmdirSync(full);
      continue;
    }
    const m = /^(.*)\.js(\.map)?$/.exec(entry.name);
    if (!m) continue;
    const source = path.join(root, path.relative(dist, dir), `${m[1]}.ts`);
    if (!fs.existsSync(source)) fs.rmSync(full);
  }
}

if (fs.existsSync(dist)) {
  for (const entry of fs.readdirSync(dist, { withFileTypes: true })) {
    // the workflow bundle and the copied assets have no TypeScript source of their own
    if (entry.isDirectory() && entry.name !== 'node_modules') prune(path.join(dist, entry.name));
  }
}
