#!/usr/bin/env node
// Bundles the compiled workflow code once so workers start in milliseconds
// instead of running webpack at every start.
const path = require('node:path');
const fs = require('node:fs');
const { bundleWorkflowCode } = require('@temporalio/worker');

async function main() {
  const root = path.resolve(__dirname, '..');
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(root, 'dist', 'workflows', 'index.js'),
    logger: { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} },
  });
  const out = path.join(root, 'dist', 'workflow-bundle.js');
  fs.writeFileSync(out + '.tmp', code);
  fs.renameSync(out + '.tmp', out);
}

main().catch((err) => {
  console.error(`workflow bundle failed: ${err.message}`);
  process.exitCode = 1;
});
