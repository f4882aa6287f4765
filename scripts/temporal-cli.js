#!/usr/bin/env node
// Prints the path of the Temporal CLI, building it into the cache on first use:
// $TEMPORAL_CLI, then `temporal` on PATH, then ~/.cache/dibctl, then `go install`.
const path = require('node:path');

const lib = path.join(__dirname, '..', 'dist', 'temporal', 'cli.js');
let cli;
try {
  cli = require(lib);
} catch {
  process.stderr.write('dibctl is not built yet: run `npm run build` first.\n');
  process.exit(1);
}
cli
  .findTemporalCli({ log: (line) => process.stderr.write(line + '\n') })
  .then((found) => {
    if (!found) {
      process.stderr.write(
        'No Temporal CLI found and Go is not installed to build it; ' +
          'dibctl will let @temporalio/testing download one where the internet is reachable.\n',
      );
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`Temporal CLI (${found.source}): ${found.path}\n`);
    process.stdout.write(found.path + '\n');
  })
  .catch((err) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  });
