/**
 * What a test process sees of the worker's environment: dibctl's DIBCTL_*
 * variables, the config's tests.environment_variables, the basics programs
 * need (PATH, HOME, the locale) and what tests.pass_environment names — never
 * the worker's cloud credentials, Temporal settings or payload key unless the
 * config names a credential exactly (and then its value is still scrubbed
 * from the output).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTestEntry } from '../../activities/test-runners';
import { removeOrphanedDataFiles } from '../../activities/test-runners/data-file';
import { passedEnvironment } from '../../activities/test-runners/environment';
import type { InstanceTestContext } from '../../activities/test-runners/types';

/** The built module, as a worker process loads it. */
const DATA_FILE_MODULE = path.join(__dirname, '..', '..', 'dist', 'activities', 'test-runners', 'data-file.js');

const WORKER: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/home/worker',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  OS_AUTH_URL: 'http://keystone.example:5000/v3',
  OS_PASSWORD: 'worker-os-password-6620',
  OS_APPLICATION_CREDENTIAL_SECRET: 'worker-app-secret-1187',
  TEMPORAL_ADDRESS: 'temporal.example:7233',
  TEMPORAL_API_KEY: 'worker-temporal-key-3390',
  DIBCTL_PAYLOAD_KEY: 'worker-payload-key-5501',
  DIBCTL_PAYLOAD_KEYS_FILE: '/etc/dibctl/keys',
  SSH_AUTH_SOCK: '/run/user/0/agent.sock',
  HTTP_PROXY: 'http://proxy.example:3128',
  HTTPS_PROXY: 'http://proxy.example:3128',
  WORKER_MARKER: 'worker-plain-marker-4242',
  GITHUB_TOKEN: 'worker-gh-token-7070',
};

function context(passEnvironment?: string[]): InstanceTestContext {
  return {
    instance: { id: 'e8a2f9d0-0000-4000-8000-000000000001', name: 'env-probe-vm' },
    flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1, extraSpecs: {} },
    ips: ['192.0.2.10'],
    ipsV4: ['192.0.2.10'],
    ipsV6: [],
    mainIp: '192.0.2.10',
    interfaces: [],
    environmentVariables: { GREETING: 'hello', BUILD_TOKEN: 'config-build-token-8080' },
    ...(passEnvironment ? { passEnvironment } : {}),
    imageInfo: { id: 'img' },
    imageConfig: { label: 'probe' },
    imageEntry: { filename: 'probe.qcow2' },
    testEnvironment: 'env',
    configOptions: { cwd: '/' },
  };
}

describe("a test process's environment", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-test-env-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs a shell test that writes `env` to a file (unscrubbed, to see what it really got) and prints it. */
  async function environmentOf(ctx: InstanceTestContext): Promise<{ seen: Map<string, string>; output: string }> {
    const dump = path.join(dir, `env-${Math.random().toString(36).slice(2)}`);
    const script = path.join(dir, `print-env-${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(script, `#!/bin/sh\nenv > '${dump}'\nenv\n`, { mode: 0o755 });
    const lines: string[] = [];
    const r = await runTestEntry({ kind: 'shell', path: script, timeout: 30 }, ctx, {
      logDir: path.join(dir, 'logs'),
      env: WORKER,
      onOutput: (l) => lines.push(l),
    });
    expect(r.passed).toBe(true);
    const seen = new Map<string, string>();
    for (const line of fs.readFileSync(dump, 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) seen.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return { seen, output: `${lines.join('\n')}\n${r.outputTail ?? ''}` };
  }

  it("gets dibctl's variables, the config's and the basics — none of the worker's credentials or settings", async () => {
    const { seen, output } = await environmentOf(context());
    expect(seen.get('DIBCTL_INSTANCE_NAME')).toBe('env-probe-vm');
    expect(seen.get('DIBCTL_MAIN_IP')).toBe('192.0.2.10');
    expect(seen.get('GREETING')).toBe('hello');
    expect(seen.get('DIBCTL_GREETING')).toBe('hello');
    expect(seen.get('BUILD_TOKEN')).toBe('config-build-token-8080');
    expect(seen.get('PATH')).toBe(WORKER.PATH);
    expect(seen.get('HOME')).toBe('/home/worker');
    expect(seen.get('LC_ALL')).toBe('C.UTF-8');
    for (const name of [
      'OS_AUTH_URL',
      'OS_PASSWORD',
      'OS_APPLICATION_CREDENTIAL_SECRET',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_API_KEY',
      'DIBCTL_PAYLOAD_KEY',
      'DIBCTL_PAYLOAD_KEYS_FILE',
      'SSH_AUTH_SOCK',
      'HTTP_PROXY',
      'WORKER_MARKER',
      'GITHUB_TOKEN',
    ])
      expect([name, seen.has(name)]).toEqual([name, false]);
    // the config's own secret-named value is the test's to use, and is still kept out of what is printed
    expect(output).toContain('GREETING=hello');
    expect(output).not.toContain('config-build-token-8080');
  });

  it('passes what tests.pass_environment names: a pattern passes no credential, an exact name does', async () => {
    const { seen, output } = await environmentOf(context(['*', 'OS_PASSWORD']));
    expect(seen.get('WORKER_MARKER')).toBe('worker-plain-marker-4242');
    expect(seen.get('HTTP_PROXY')).toBe('http://proxy.example:3128');
    expect(seen.get('OS_PASSWORD')).toBe('worker-os-password-6620');
    // `*` matched these, but they grant access: only their exact names would pass them
    for (const name of ['OS_AUTH_URL', 'OS_APPLICATION_CREDENTIAL_SECRET', 'GITHUB_TOKEN', 'SSH_AUTH_SOCK'])
      expect([name, seen.has(name)]).toEqual([name, false]);
    // dibctl's own settings never pass, even by name
    expect(passedEnvironment(WORKER, ['TEMPORAL_API_KEY', 'DIBCTL_PAYLOAD_KEY', 'TEMPORAL_*'])).toEqual({
      PATH: WORKER.PATH,
      HOME: '/home/worker',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
    });
    expect(seen.has('TEMPORAL_ADDRESS')).toBe(false);
    expect(output).not.toContain('worker-os-password-6620');
  });

  it('passes variables by prefix', () => {
    expect(Object.keys(passedEnvironment(WORKER, ['HTTP*'])).sort()).toEqual([
      'HOME',
      'HTTPS_PROXY',
      'HTTP_PROXY',
      'LANG',
      'LC_ALL',
      'PATH',
    ]);
  });
});

describe('the data file of a pytest or ts run, when its worker is killed', () => {
  it('is removed by the next worker: it holds the test environment credentials', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-orphans-'));
    try {
      // a worker that wrote a run's data file and was killed with SIGKILL before it could delete it
      const writer = spawn(
        process.execPath,
        [
          '-e',
          `const d = require(${JSON.stringify(DATA_FILE_MODULE)}).writeDataFile({ context: {}, cloud: { password: 'killed-worker-pw-3131' } });` +
            'console.log(d.file); setInterval(() => {}, 1000);',
        ],
        { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const file = await new Promise<string>((resolve) =>
        writer.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
      );
      expect(fs.readFileSync(file, 'utf8')).toContain('killed-worker-pw-3131');
      const exited = new Promise((resolve) => writer.once('exit', resolve));
      writer.kill('SIGKILL');
      await exited;
      expect(fs.existsSync(file)).toBe(true);
      // a run of this (living) worker keeps its file
      const mine = fs.mkdtempSync(path.join(tmp, `dibctl-test-data-${process.pid}-`));

      expect(removeOrphanedDataFiles(tmp)).toEqual([path.dirname(file)]);
      expect(fs.existsSync(file)).toBe(false);
      expect(fs.existsSync(mine)).toBe(true);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
