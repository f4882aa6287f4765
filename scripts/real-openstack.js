#!/usr/bin/env node
// Runs a real Keystone and a real Glance (Debian's packages) on free loopback
// ports with SQLite, all state in one directory:
//
//   node scripts/real-openstack.js start  [--dir DIR] [--json|--env]
//   node scripts/real-openstack.js stop   [--dir DIR]
//   node scripts/real-openstack.js status [--dir DIR] [--json|--env]
//
// `start` installs the packages when they are missing (root only), bootstraps
// an admin (project admin) and two ordinary users, `demo` in project `demo` and
// `alt` in project `alt`, registers Keystone and Glance (public endpoints only)
// and prints where everything is. Running `start` again while both services
// answer prints the same facts and changes nothing. `stop` ends the processes
// whose PIDs `start` recorded, and only those.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const PACKAGES = ['python3-keystone', 'python3-glance', 'python3-openstackclient'];
const PYTHON = '/usr/bin/python3';
const REGION = 'RegionOne';

function log(line) {
  process.stderr.write(`real-openstack: ${line}\n`);
}

function parseArgs(argv) {
  const args = {
    command: argv[0],
    dir: process.env.REAL_OPENSTACK_DIR || path.join(os.tmpdir(), 'dibctl-real-openstack'),
    format: 'text',
  };
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--dir') args.dir = path.resolve(argv[++i]);
    else if (argv[i] === '--json') args.format = 'json';
    else if (argv[i] === '--env') args.format = 'env';
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!['start', 'stop', 'status'].includes(args.command))
    throw new Error('usage: real-openstack.js start|stop|status [--dir DIR] [--json|--env]');
  return args;
}

function hasPythonModule(name) {
  try {
    execFileSync(PYTHON, ['-c', `import ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function installed() {
  return (
    hasPythonModule('keystone') &&
    hasPythonModule('glance') &&
    fs.existsSync('/usr/bin/keystone-manage') &&
    fs.existsSync('/usr/bin/keystone-wsgi-public')
  );
}

function ensureInstalled() {
  if (installed()) return;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error(
      `Keystone/Glance are not installed and installing needs root: apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}`,
    );
  }
  log(`installing ${PACKAGES.join(' ')}`);
  const started = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...PACKAGES], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } catch {
    execFileSync('apt-get', ['update'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...PACKAGES], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  log(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readJsonFile(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function writeJsonFile(file, value) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

async function answers(url, timeoutMs = 2000) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.status < 500;
  } catch {
    return false;
  }
}

async function waitFor(url, pid, logFile, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await answers(url)) return;
    if (!alive(pid)) throw new Error(`the process serving ${url} exited; see ${logFile}:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s; see ${logFile}`);
}

function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts a long-running process in its own process group, output to a log file; returns its PID. */
function daemon(command, args, env, logFile) {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  child.unref();
  return child.pid;
}

function run(command, args, env = {}) {
  execFileSync(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function api(method, url, { token, body, expect = [200, 201, 204] } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers['X-Auth-Token'] = token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60000),
  });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 300)}`);
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function issueToken(keystoneUrl, user, password, project) {
  const res = await api('POST', `${keystoneUrl}/v3/auth/tokens`, {
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    },
  });
  return res.headers.get('x-subject-token');
}

/**
 * Write-ahead logging: a read transaction another connection of the same
 * service left open no longer blocks a commit ("database is locked", seen when
 * deleting application credentials and creating endpoints). The mode is stored
 * in the database file.
 */
function walMode(dbFile) {
  run(PYTHON, [
    '-c',
    'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA journal_mode=WAL"); c.close()',
    dbFile,
  ]);
}

function keystoneConf(dir, port) {
  return `[DEFAULT]
log_dir =
use_stderr = true
[database]
connection = sqlite:///${dir}/keystone.sqlite
[token]
provider = fernet
expiration = 7200
[fernet_tokens]
key_repository = ${dir}/fernet-keys
[fernet_receipts]
key_repository = ${dir}/fernet-receipts
[credential]
key_repository = ${dir}/credential-keys
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
`;
}

function glanceConf(dir, port, keystoneUrl, admin) {
  return `[DEFAULT]
bind_host = 127.0.0.1
bind_port = ${port}
workers = 1
enabled_backends = fs:file
use_stderr = true
limit_param_default = 25
api_limit_max = 1000
[database]
connection = sqlite:///${dir}/glance.sqlite
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = ${dir}/glance-images
[os_glance_staging_store]
filesystem_store_datadir = ${dir}/glance-staging
[os_glance_tasks_store]
filesystem_store_datadir = ${dir}/glance-tasks
[keystone_authtoken]
www_authenticate_uri = ${keystoneUrl}/v3
auth_url = ${keystoneUrl}/v3
auth_type = password
username = ${admin.username}
password = ${admin.password}
project_name = ${admin.projectName}
user_domain_id = default
project_domain_id = default
service_token_roles_required = false
interface = public
[paste_deploy]
flavor = keystone
config_file = ${dir}/glance-api-paste.ini
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
[oslo_concurrency]
lock_path = ${dir}/locks
`;
}

// The pipeline Glance's own glance-api-paste.ini uses for the keystone flavor, without the optional middlewares
const GLANCE_PASTE = `[pipeline:glance-api-keystone]
pipeline = versionnegotiation authtoken context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
delay_auth_decision = true
`;

function infoFile(dir) {
  return path.join(dir, 'info.json');
}

async function running(dir) {
  const info = readJsonFile(infoFile(dir));
  if (!info || !alive(info.pids.keystone) || !alive(info.pids.glance)) return undefined;
  if (!(await answers(`${info.keystone.url}/v3`)) || !(await answers(`${info.glance.url}/versions`))) return undefined;
  return info;
}

async function start(dir) {
  const already = await running(dir);
  if (already) return already;
  await stop(dir, true);
  ensureInstalled();
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of [
    '',
    'fernet-keys',
    'fernet-receipts',
    'credential-keys',
    'glance-images',
    'glance-staging',
    'glance-tasks',
    'locks',
    'logs',
  ]) {
    fs.mkdirSync(path.join(dir, d), { recursive: true, mode: 0o700 });
  }
  const started = Date.now();
  const secret = () => crypto.randomBytes(12).toString('base64url');
  const admin = { username: 'admin', password: secret(), projectName: 'admin' };
  const users = [
    { username: 'demo', password: secret(), projectName: 'demo' },
    { username: 'alt', password: secret(), projectName: 'alt' },
  ];
  const keystonePort = await freePort();
  const glancePort = await freePort();
  const keystoneUrl = `http://127.0.0.1:${keystonePort}`;
  const glanceUrl = `http://127.0.0.1:${glancePort}`;
  const pids = {};
  const partial = { dir, pids };
  writeJsonFile(infoFile(dir), partial);

  const kconf = path.join(dir, 'keystone.conf');
  fs.writeFileSync(kconf, keystoneConf(dir, keystonePort));
  const manage = (...args) => run('keystone-manage', ['--config-file', kconf, ...args]);
  manage('db_sync');
  walMode(path.join(dir, 'keystone.sqlite'));
  manage('fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root');
  manage('credential_setup', '--keystone-user', 'root', '--keystone-group', 'root');
  manage(
    'bootstrap',
    // one argument with '=': a generated password may begin with '-', which argparse takes for an option
    `--bootstrap-password=${admin.password}`,
    '--bootstrap-username',
    admin.username,
    '--bootstrap-project-name',
    admin.projectName,
    '--bootstrap-public-url',
    `${keystoneUrl}/v3`,
    '--bootstrap-region-id',
    REGION,
  );
  const keystoneLog = path.join(dir, 'logs', 'keystone.log');
  pids.keystone = daemon(
    'keystone-wsgi-public',
    ['--host', '127.0.0.1', '--port', String(keystonePort)],
    { OS_KEYSTONE_CONFIG_FILES: kconf },
    keystoneLog,
  );
  writeJsonFile(infoFile(dir), partial);

  // Glance's schema can be created while Keystone starts
  const gconf = path.join(dir, 'glance-api.conf');
  fs.writeFileSync(path.join(dir, 'glance-api-paste.ini'), GLANCE_PASTE);
  fs.writeFileSync(gconf, glanceConf(dir, glancePort, keystoneUrl, admin));
  run(PYTHON, ['-m', 'glance.cmd.manage', '--config-file', gconf, 'db_sync']);
  walMode(path.join(dir, 'glance.sqlite'));
  await waitFor(`${keystoneUrl}/v3`, pids.keystone, keystoneLog, 60000);

  const token = await issueToken(keystoneUrl, admin.username, admin.password, admin.projectName);
  const roles = (await api('GET', `${keystoneUrl}/v3/roles`, { token })).body.roles;
  const roleId = (name) => roles.find((r) => r.name === name).id;
  const out = { admin: { ...admin, userDomainName: 'Default', projectDomainName: 'Default' } };
  const adminUser = (await api('GET', `${keystoneUrl}/v3/users?name=admin`, { token })).body.users[0];
  const adminProject = (await api('GET', `${keystoneUrl}/v3/projects?name=admin`, { token })).body.projects[0];
  Object.assign(out.admin, { userId: adminUser.id, projectId: adminProject.id });
  for (const u of users) {
    const project = (
      await api('POST', `${keystoneUrl}/v3/projects`, {
        token,
        body: { project: { name: u.projectName, domain_id: 'default', description: `Project of ${u.username}` } },
      })
    ).body.project;
    const user = (
      await api('POST', `${keystoneUrl}/v3/users`, {
        token,
        body: {
          user: { name: u.username, domain_id: 'default', password: u.password, default_project_id: project.id },
        },
      })
    ).body.user;
    for (const role of ['member', 'reader'])
      await api('PUT', `${keystoneUrl}/v3/projects/${project.id}/users/${user.id}/roles/${roleId(role)}`, { token });
    out[u.username] = {
      ...u,
      userDomainName: 'Default',
      projectDomainName: 'Default',
      userId: user.id,
      projectId: project.id,
    };
  }
  const service = (
    await api('POST', `${keystoneUrl}/v3/services`, {
      token,
      body: { service: { name: 'glance', type: 'image', description: 'OpenStack Image' } },
    })
  ).body.service;
  // Only the public endpoint: fewer catalog writes, and the catalog stays the same shape as the tests expect
  await api('POST', `${keystoneUrl}/v3/endpoints`, {
    token,
    body: { endpoint: { service_id: service.id, interface: 'public', region_id: REGION, url: glanceUrl } },
  });

  const glanceLog = path.join(dir, 'logs', 'glance.log');
  pids.glance = daemon(PYTHON, ['-m', 'glance.cmd.api', '--config-file', gconf], {}, glanceLog);
  writeJsonFile(infoFile(dir), partial);
  await waitFor(`${glanceUrl}/versions`, pids.glance, glanceLog, 90000);

  const info = {
    dir,
    region: REGION,
    keystone: { url: keystoneUrl, authUrl: `${keystoneUrl}/v3`, log: keystoneLog, config: kconf },
    glance: { url: glanceUrl, log: glanceLog, config: gconf },
    admin: out.admin,
    demo: out.demo,
    alt: out.alt,
    pids,
    startSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
  };
  writeJsonFile(infoFile(dir), info);
  return info;
}

async function stop(dir, quiet = false) {
  const info = readJsonFile(infoFile(dir));
  if (!info || !info.pids) {
    if (!quiet) log(`nothing recorded in ${dir}`);
    return;
  }
  for (const [name, pid] of Object.entries(info.pids)) {
    if (!alive(pid)) continue;
    // Each service was started as the leader of its own process group (Glance may fork a worker)
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    const deadline = Date.now() + 10000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (!quiet) log(`stopped ${name} (pid ${pid})`);
  }
  writeJsonFile(infoFile(dir), { ...info, pids: {} });
}

function envLines(info) {
  const q = (v) => `'${String(v).replace(/'/g, "'\\''")}'`;
  return [
    `REAL_OPENSTACK_DIR=${q(info.dir)}`,
    `REAL_KEYSTONE_URL=${q(info.keystone.url)}`,
    `REAL_GLANCE_URL=${q(info.glance.url)}`,
    `OS_AUTH_URL=${q(info.keystone.authUrl)}`,
    'OS_IDENTITY_API_VERSION=3',
    `OS_REGION_NAME=${q(info.region)}`,
    'OS_INTERFACE=public',
    'OS_USER_DOMAIN_NAME=Default',
    'OS_PROJECT_DOMAIN_NAME=Default',
    `OS_USERNAME=${q(info.admin.username)}`,
    `OS_PASSWORD=${q(info.admin.password)}`,
    `OS_PROJECT_NAME=${q(info.admin.projectName)}`,
    `REAL_DEMO_PASSWORD=${q(info.demo.password)}`,
    `REAL_ALT_PASSWORD=${q(info.alt.password)}`,
  ]
    .map((l) => `export ${l}`)
    .join('\n');
}

function print(info, format) {
  if (format === 'json') process.stdout.write(JSON.stringify(info, null, 2) + '\n');
  else if (format === 'env') process.stdout.write(envLines(info) + '\n');
  else {
    process.stdout.write(
      [
        `state:    ${info.dir}`,
        `keystone: ${info.keystone.authUrl} (pid ${info.pids.keystone}, log ${info.keystone.log})`,
        `glance:   ${info.glance.url} (pid ${info.pids.glance}, log ${info.glance.log})`,
        `region:   ${info.region}`,
        ...['admin', 'demo', 'alt'].map(
          (u) =>
            `user:     ${info[u].username} / ${info[u].password} in project ${info[u].projectName} (${info[u].projectId})`,
        ),
        `as admin: eval "$(${process.argv[1]} status --dir ${info.dir} --env)"`,
      ].join('\n') + '\n',
    );
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.command === 'start') {
    print(await start(args.dir), args.format);
  } else if (args.command === 'stop') {
    await stop(args.dir);
  } else {
    const info = await running(args.dir);
    if (!info) {
      log(`not running (state dir ${args.dir})`);
      process.exitCode = 3;
      return;
    }
    print(info, args.format);
  }
}

main().catch(async (err) => {
  log(err.message);
  process.exitCode = 1;
});
