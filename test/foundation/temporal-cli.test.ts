import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cachedCliPath, locateTemporalCli, TEMPORAL_CLI_VERSION } from '../../temporal/cli';

async function fakeExecutable(file: string): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, '#!/bin/sh\necho fake\n', { mode: 0o755 });
  return file;
}

describe('finding the Temporal CLI', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dibctl-cli-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('prefers TEMPORAL_CLI over PATH and the cache', async () => {
    const explicit = await fakeExecutable(path.join(dir, 'explicit', 'temporal'));
    const onPath = await fakeExecutable(path.join(dir, 'bin', 'temporal'));
    const env = { TEMPORAL_CLI: explicit, PATH: path.dirname(onPath), DIBCTL_CACHE_DIR: path.join(dir, 'cache') };
    await fakeExecutable(cachedCliPath(env));
    expect(await locateTemporalCli(env)).toEqual({ path: explicit, source: 'env' });
  });

  it('uses temporal on PATH before the cache', async () => {
    const onPath = await fakeExecutable(path.join(dir, 'bin', 'temporal'));
    const env = {
      PATH: `${path.join(dir, 'empty')}:${path.dirname(onPath)}`,
      DIBCTL_CACHE_DIR: path.join(dir, 'cache'),
    };
    await fakeExecutable(cachedCliPath(env));
    expect(await locateTemporalCli(env)).toEqual({ path: onPath, source: 'path' });
  });

  it('falls back to the versioned binary in the cache directory', async () => {
    const env = { PATH: path.join(dir, 'empty'), DIBCTL_CACHE_DIR: path.join(dir, 'cache') };
    const cached = await fakeExecutable(cachedCliPath(env));
    expect(cached).toContain(`temporal-${TEMPORAL_CLI_VERSION}`);
    expect(await locateTemporalCli(env)).toEqual({ path: cached, source: 'cache' });
  });

  it('caches under XDG_CACHE_HOME when DIBCTL_CACHE_DIR is not set', () => {
    expect(cachedCliPath({ XDG_CACHE_HOME: '/x/cache' })).toBe(
      `/x/cache/dibctl/temporal-${TEMPORAL_CLI_VERSION}/temporal`,
    );
  });

  it('finds nothing when no candidate exists', async () => {
    const env = { PATH: path.join(dir, 'empty'), DIBCTL_CACHE_DIR: path.join(dir, 'cache') };
    expect(await locateTemporalCli(env)).toBeUndefined();
  });

  it('refuses a TEMPORAL_CLI that is not executable, naming it', async () => {
    const notExec = path.join(dir, 'temporal');
    await fs.writeFile(notExec, 'not a program', { mode: 0o644 });
    await expect(locateTemporalCli({ TEMPORAL_CLI: notExec, PATH: '' })).rejects.toThrow(
      `TEMPORAL_CLI=${notExec} is not an executable file`,
    );
  });
});
