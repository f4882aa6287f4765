/** Temporary directories holding real config files, removed after each suite. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class TempTree {
  readonly root: string;

  constructor(prefix = 'dibctl-config-') {
    this.root = mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  /** Writes a file (creating folders) and returns its absolute path. */
  write(rel: string, text: string): string {
    const file = path.join(this.root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  }

  dir(rel: string): string {
    const d = path.join(this.root, rel);
    mkdirSync(d, { recursive: true });
    return d;
  }

  path(rel = '.'): string {
    return path.join(this.root, rel);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** An environment with no OS_* settings from the caller's shell. */
export function envWithout(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OS_')) env[k] = v;
  return { ...env, ...extra };
}
