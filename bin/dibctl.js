#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '..', 'dist', 'client', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('dibctl is not built yet: run `npm run build` (npm ci does it too).\n');
  process.exit(1);
}
require(entry)
  .main(process.argv)
  .then((code) => process.exit(code));
