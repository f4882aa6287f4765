/** A small config tree in a temporary directory, and an environment that reads only it. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheDir } from '../temporal/cli';

const IMAGES =
  'img:\n  filename: img.qcow2\n  tests:\n    environment_name: lab\n    ssh:\n      username: cirros\n' +
  '    tests_list:\n      - shell: tests/smoke.sh\n';
/** Credentials are left out: the error benches need them missing, validate does not look. */
const TEST = 'lab:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n  nova:\n    flavor: m1\n';
const UPLOAD = 'prod:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n';

interface ConfigTree {
  dir: string;
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export function configTree(): ConfigTree {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-bench-config-'));
  fs.writeFileSync(path.join(dir, 'images.yaml'), IMAGES);
  fs.writeFileSync(path.join(dir, 'test.yaml'), TEST);
  fs.writeFileSync(path.join(dir, 'upload.yaml'), UPLOAD);
  fs.mkdirSync(path.join(dir, 'tests'));
  fs.writeFileSync(path.join(dir, 'tests', 'smoke.sh'), '#!/bin/sh\ntrue\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'img.qcow2'), 'bench');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_') && !k.startsWith('TEMPORAL_')) env[k] = v;
  Object.assign(env, {
    // the Temporal CLI stays where it is cached: a HOME of its own would build it again
    DIBCTL_CACHE_DIR: cacheDir(),
    HOME: path.join(dir, 'home'),
    DIBCTL_SYSTEM_CONFIG_DIR: path.join(dir, 'no-etc'),
    DIBCTL_STATE_DIR: path.join(dir, 'state'),
  });
  if (process.env.TEMPORAL_CLI) env.TEMPORAL_CLI = process.env.TEMPORAL_CLI;
  delete env.XDG_CONFIG_HOME;
  return { dir, env, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
