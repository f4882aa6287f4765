import os from 'node:os';
import path from 'node:path';

/** Where dibctl keeps state that must survive restarts (the local server's database). */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DIBCTL_STATE_DIR) return env.DIBCTL_STATE_DIR;
  const base = env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'dibctl');
}
