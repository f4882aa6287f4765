/** Finding the programs the runners need, with the package that provides them. */
import fs from 'node:fs';
import path from 'node:path';
import { capture } from '../process';

export function onPath(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (program.includes('/')) return isExecutable(program) ? program : undefined;
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, program);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

const pythonCache = new Map<string, string | undefined>();

/**
 * A python3 that can import pytest: Debian's /usr/bin/python3 first (its
 * python3-pytest, -testinfra, -paramiko, -novaclient, -glanceclient), then
 * python3 on PATH (a virtualenv, pyenv). DIBCTL_PYTHON forces one.
 */
export async function pythonWithPytest(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const candidates = env.DIBCTL_PYTHON
    ? [env.DIBCTL_PYTHON]
    : ['/usr/bin/python3', onPath('python3', env)].filter((p): p is string => !!p);
  const key = candidates.join(':');
  if (pythonCache.has(key)) return pythonCache.get(key);
  let found: string | undefined;
  for (const python of [...new Set(candidates)]) {
    if (!onPath(python, env)) continue;
    const probe = await capture(python, ['-c', 'import pytest'], { timeoutMs: 30_000, env });
    if (probe.code === 0) {
      found = python;
      break;
    }
  }
  pythonCache.set(key, found);
  return found;
}
