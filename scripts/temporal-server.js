#!/usr/bin/env node
// Prints the directory holding the real Temporal server (`server`), its SQL
// schema tool (`sql`), the PostgreSQL schema (`schema/`) and the config the
// server's container image renders (`docker.yaml`) of the version the
// deployment runs, building them into ~/.cache/dibctl on first use
// (`go install`, about 13 minutes the first time). Exit 2: not there and no Go.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** The server version of docker-compose.yml (a test in test/cluster checks they agree). */
const TEMPORAL_SERVER_VERSION = '1.29.1';
const MODULE = 'go.temporal.io/server';

function cacheDir(env = process.env) {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'dibctl', `temporal-server-v${TEMPORAL_SERVER_VERSION}`);
}

function complete(dir) {
  return (
    fs.existsSync(path.join(dir, 'server')) &&
    fs.existsSync(path.join(dir, 'sql')) &&
    fs.existsSync(path.join(dir, 'schema', 'temporal', 'versioned')) &&
    fs.existsSync(path.join(dir, 'schema', 'visibility', 'versioned')) &&
    fs.existsSync(path.join(dir, 'docker.yaml'))
  );
}

function hasGo() {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

function build(dir, log) {
  fs.mkdirSync(dir, { recursive: true });
  const env = { ...process.env, GOBIN: dir };
  for (const [what, pkg] of [
    ['server', `${MODULE}/cmd/server`],
    ['schema tool', `${MODULE}/cmd/tools/sql`],
  ]) {
    if (fs.existsSync(path.join(dir, what === 'server' ? 'server' : 'sql'))) continue;
    log(`Building the Temporal ${what} ${TEMPORAL_SERVER_VERSION} (go install ${pkg}@v${TEMPORAL_SERVER_VERSION})...`);
    execFileSync('go', ['install', `${pkg}@v${TEMPORAL_SERVER_VERSION}`], {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  // the schema the tool applies and the container's config ship in the module, which go install left in the module cache
  const modcache = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  const mod = path.join(modcache, `${MODULE}@v${TEMPORAL_SERVER_VERSION}`);
  const schema = path.join(mod, 'schema', 'postgresql', 'v12');
  const dockerConfig = path.join(mod, 'config', 'docker.yaml');
  for (const f of [schema, dockerConfig]) if (!fs.existsSync(f)) throw new Error(`the module cache holds no ${f}`);
  const target = path.join(dir, 'schema');
  fs.rmSync(target, { recursive: true, force: true });
  fs.cpSync(schema, target, { recursive: true });
  fs.copyFileSync(dockerConfig, path.join(dir, 'docker.yaml'));
  // module cache files are read-only
  for (const f of [target, ...fs.readdirSync(target, { recursive: true }).map((f) => path.join(target, f))])
    fs.chmodSync(f, 0o755);
  fs.chmodSync(path.join(dir, 'docker.yaml'), 0o644);
}

function main() {
  const dir = cacheDir();
  const log = (line) => process.stderr.write(line + '\n');
  if (!complete(dir)) {
    if (!hasGo()) {
      log(`No Temporal server ${TEMPORAL_SERVER_VERSION} in ${dir}, and Go is not installed to build it.`);
      process.exitCode = 2;
      return;
    }
    try {
      build(dir, log);
    } catch (err) {
      log(`Building the Temporal server ${TEMPORAL_SERVER_VERSION} failed: ${err.message}`);
      process.exitCode = 1;
      return;
    }
  }
  log(`Temporal server ${TEMPORAL_SERVER_VERSION}: ${dir}`);
  process.stdout.write(dir + '\n');
}

module.exports = { TEMPORAL_SERVER_VERSION, cacheDir };
if (require.main === module) main();
