// Runs once before the suites: compile the CLI (tests run the real `dibctl`
// binary) and make sure the Temporal CLI exists, building it once if needed.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function globalSetup() {
  const root = path.resolve(__dirname, '..', '..');
  if (process.env.DIBCTL_SKIP_BUILD !== '1') {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  }
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'temporal-cli.js')], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch (err) {
    // 2: no CLI and no Go; the SDK's download is the fallback (needs the internet)
    if (err.status !== 2) throw err;
  }
};
