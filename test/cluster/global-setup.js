// Before the cluster tier: compile the CLI, make sure the Temporal CLI exists,
// and build the Temporal server and its schema tool when the cache lacks them
// (no Go: the suites skip, saying why).
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const baseSetup = require('../support/global-setup');

module.exports = async function globalSetup() {
  await baseSetup();
  const root = path.resolve(__dirname, '..', '..');
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'temporal-server.js')], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch (err) {
    if (err.status !== 2) throw err;
  }
};
