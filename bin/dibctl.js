#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'client', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('dibctl is not built yet: run `npm run build` (npm ci does it too).\n');
  process.exit(1);
}
if (process.argv[2] === '__complete') {
  // the shell waits for this on every <Tab>: answer without loading the rest of dibctl
  require(path.join(__dirname, '..', 'dist', 'client', 'complete.js'))
    .completeMain(process.argv.slice(3))
    .then((code) => process.exit(code));
} else {
  require(entry)
    .main(process.argv)
    .then((code) => process.exit(code));
}
