import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The directory holding dibctl's package.json, from sources or from dist/. */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'dibctl') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('dibctl package.json not found above ' + __dirname);
    dir = up;
  }
}

export function projectVersion(): string {
  return (JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
