/**
 * What an operator gets wrong (usage, config, labels, credentials) is refused
 * before anything reaches Temporal, with dibctl's exit code and message:
 * - with a configured server, the server (here a socket that counts who calls)
 *   is never contacted;
 * - with nothing configured, no ephemeral server is started (TEMPORAL_CLI is a
 *   script that records being run).
 */
import { chmodSync, existsSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../../temporal/free-port';
import { CliResult, cleanTemporalEnv, runDibctl } from '../support/cli';
import { TempTree, envWithout } from '../config/helpers';

const IMAGES =
  'img:\n  filename: img.qcow2\n  tests:\n    environment_name: lab\n    ssh:\n      username: cirros\n' +
  '    tests_list:\n      - shell: tests/smoke.sh\n';
/** Complete but for the credentials: no username or password anywhere. */
const TEST = 'lab:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n  nova:\n    flavor: m1\n';
const UPLOAD = 'prod:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n';
const UUID = '7d1c2f0e-0000-4000-8000-000000000000';

/** A TCP server standing in for Temporal, counting the connections it gets. */
async function countingServer(): Promise<{ address: string; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('errors an operator can fix come before Temporal', () => {
  let tree: TempTree;
  let temporal: Awaited<ReturnType<typeof countingServer>>;
  let marker: string;
  let configured: NodeJS.ProcessEnv;
  let embedded: NodeJS.ProcessEnv;

  beforeAll(async () => {
    tree = new TempTree('dibctl-early-');
    for (const dir of ['good', 'broken']) {
      tree.write(`${dir}/tests/smoke.sh`, '#!/bin/sh\ntrue\n');
      tree.write(`${dir}/img.qcow2`, 'not really an image');
    }
    tree.write('good/images.yaml', IMAGES);
    tree.write('good/test.yaml', TEST);
    tree.write('good/upload.yaml', UPLOAD);
    tree.write('broken/images.yaml', 'img: [\n');
    tree.write('broken/test.yaml', TEST);
    tree.write('broken/upload.yaml', 'prod:\n  keystone: [\n');
    marker = tree.path('temporal-cli-ran');
    const fakeCli = tree.write('temporal', `#!/bin/sh\necho "$@" >> '${marker}'\nexit 1\n`);
    chmodSync(fakeCli, 0o755);
    temporal = await countingServer();
    const base = {
      HOME: tree.path('home'),
      XDG_CONFIG_HOME: undefined,
      DIBCTL_SYSTEM_CONFIG_DIR: tree.path('no-etc'),
      DIBCTL_STATE_DIR: tree.path('state'),
      TEMPORAL_CLI: fakeCli,
    };
    configured = envWithout({ ...cleanTemporalEnv(), ...base, TEMPORAL_ADDRESS: temporal.address });
    // nothing configured and nothing on the local address: a session would start an ephemeral server
    embedded = envWithout({
      ...cleanTemporalEnv(),
      ...base,
      DIBCTL_LOCAL_TEMPORAL: `127.0.0.1:${await freePort()}`,
    });
  });
  afterAll(async () => {
    await temporal?.close();
    tree?.remove();
  });

  async function dibctl(dir: 'good' | 'broken', env: NodeJS.ProcessEnv, args: string[]): Promise<CliResult> {
    const r = await runDibctl(args, { cwd: tree.path(dir), env, timeoutMs: 30_000 });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    return r;
  }

  /** The error's last line says what to do next. */
  function expectNextStep(r: CliResult, step: RegExp): void {
    const last = r.stderr.trimEnd().split('\n').pop() ?? '';
    expect(last).toMatch(/^Next step: /);
    expect(last).toMatch(step);
  }

  function expectNothingStarted(r: CliResult): void {
    expect(temporal.connections()).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(r.stderr).not.toMatch(/Cannot reach the Temporal server|starting an ephemeral one/);
  }

  const modes = () =>
    [
      ['configured', configured],
      ['embedded', embedded],
    ] as const;

  describe('config errors exit 10', () => {
    const cases: Array<[string, string[]]> = [
      ['build', ['build', 'img']],
      ['test', ['test', 'img']],
      ['shell', ['shell', 'img']],
      ['upload', ['upload', 'img', 'prod']],
      ['mark-obsolete', ['mark-obsolete', 'prod', UUID]],
      ['rotate', ['rotate', 'prod']],
      ['rotate-single', ['rotate-single', 'img', 'prod']],
      ['run', ['run', 'img', '--upload-env', 'prod']],
      ['transfer', ['transfer', UUID, '--src-env', 'prod', '--dst-cloud', 'other']],
      ['retirement', ['retirement', 'prod']],
      ['validate', ['validate']],
    ];
    it.each(cases)('%s', async (_name, args) => {
      for (const [, env] of modes()) {
        const r = await dibctl('broken', env, args);
        expect(r.stderr).toMatch(/(images|upload)\.yaml/);
        expectNextStep(r, /fix each file and key named above, then check with 'dibctl validate'/);
        expect(r.code).toBe(10);
        expectNothingStarted(r);
      }
    });

    it('schedule create, with a server that outlives the command', async () => {
      const r = await dibctl('broken', configured, [
        'schedule',
        'create',
        'img',
        '--every',
        '7d',
        '--upload-env',
        'prod',
      ]);
      expect(r.code).toBe(10);
      expectNothingStarted(r);
    });
  });

  describe('unknown labels exit 11', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['build', ['build', 'nope'], /Unable to find image 'nope'/],
      ['test', ['test', 'nope'], /Unable to find image 'nope'/],
      ['shell', ['shell', 'nope'], /Unable to find image 'nope'/],
      ['test --environment', ['test', 'img', '--environment', 'nope'], /nope/],
      ['upload (image)', ['upload', 'nope', 'prod'], /Unable to find image 'nope'/],
      ['upload (environment)', ['upload', 'img', 'nope'], /nope/],
      ['mark-obsolete', ['mark-obsolete', 'nope', UUID], /nope/],
      ['rotate', ['rotate', 'nope'], /nope/],
      ['rotate-single', ['rotate-single', 'nope', 'prod'], /Unable to find image 'nope'/],
      ['run', ['run', 'nope', '--upload-env', 'prod'], /Unable to find image 'nope'/],
      ['run (environment)', ['run', 'img', '--upload-env', 'nope'], /nope/],
      ['transfer', ['transfer', UUID, '--src-env', 'nope', '--dst-cloud', 'other'], /nope/],
      ['retirement', ['retirement', 'nope'], /nope/],
    ];
    it.each(cases)('%s', async (_name, args, message) => {
      for (const [, env] of modes()) {
        const r = await dibctl('good', env, args);
        expect(r.stderr).toMatch(message);
        expectNextStep(
          r,
          /use one of the known labels, or add 'nope' to (images|test|upload)\.yaml; 'dibctl validate'/,
        );
        expect(r.code).toBe(11);
        expectNothingStarted(r);
      }
    });

    it('schedule create, with a server that outlives the command', async () => {
      const r = await dibctl('good', configured, [
        'schedule',
        'create',
        'nope',
        '--every',
        '7d',
        '--upload-env',
        'prod',
      ]);
      expect(r.stderr).toMatch(/Unable to find image 'nope'/);
      expect(r.code).toBe(11);
      expectNothingStarted(r);
    });
  });

  describe('missing credentials exit 12', () => {
    // refused wherever the command runs: its workflow input pins where they lead
    const always: Array<[string, string[]]> = [
      ['run', ['run', 'img', '--no-build', '--no-test', '--upload-env', 'prod']],
      ['transfer', ['transfer', UUID, '--src-env', 'prod', '--dst-cloud', 'other']],
    ];
    it.each(always)('%s', async (_name, args) => {
      for (const [, env] of modes()) {
        const r = await dibctl('good', env, args);
        expect(r.stderr).toMatch(/Missing credentials for upload environment 'prod'/);
        expectNextStep(
          r,
          /set the OS_\* variables named .* keystone section of upload environment 'prod' \(upload\.yaml\); 'dibctl validate --credentials'/,
        );
        expect(r.code).toBe(12);
        expectNothingStarted(r);
      }
    });

    it('schedule create, with a server that outlives the command', async () => {
      const r = await dibctl('good', configured, [
        'schedule',
        'create',
        'img',
        '--every',
        '7d',
        '--upload-env',
        'prod',
      ]);
      expect(r.stderr).toMatch(/Missing credentials for upload environment 'prod'/);
      expect(r.code).toBe(12);
      expectNothingStarted(r);
    });

    // refused when this process would run the worker (nothing configured); a worker
    // elsewhere may have credentials of its own
    const whenWorkerHere: Array<[string, string[], RegExp]> = [
      ['test', ['test', 'img'], /Missing credentials for test environment 'lab'/],
      ['shell', ['shell', 'img'], /Missing credentials for test environment 'lab'/],
      ['upload', ['upload', 'img', 'prod'], /Missing credentials for upload environment 'prod'/],
      ['mark-obsolete', ['mark-obsolete', 'prod', UUID], /Missing credentials for upload environment 'prod'/],
      ['rotate', ['rotate', 'prod'], /Missing credentials for upload environment 'prod'/],
      ['rotate-single', ['rotate-single', 'img', 'prod'], /Missing credentials for upload environment 'prod'/],
      ['transfer --src-cloud', ['transfer', UUID, '--src-cloud', 'nowhere', '--dst-cloud', 'nowhere'], /nowhere/],
    ];
    it.each(whenWorkerHere)('%s with nothing configured', async (_name, args, message) => {
      const r = await dibctl('good', embedded, args);
      expect(r.stderr).toMatch(message);
      expectNextStep(r, /OS_\*|clouds\.yaml|OS_CLIENT_CONFIG_FILE/);
      expect(r.code).toBe(12);
      expectNothingStarted(r);
    });
  });

  describe('usage errors exit 2', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['run without --upload-env', ['run', 'img'], /Name at least one --upload-env/],
      [
        'run --junit-xml --no-test',
        ['run', 'img', '--upload-env', 'prod', '--junit-xml', 'r.xml', '--no-test'],
        /--junit-xml/,
      ],
      ['test --use-existing-instance alone', ['test', 'img', '--use-existing-instance', UUID], /--private-key-file/],
      ['test --hold-limit too long', ['test', 'img', '--hold-limit', '8640000000000'], /--hold-limit/],
      ['rotate-single swapped', ['rotate-single', 'prod', 'img'], /the image label comes first/],
      [
        'transfer with two sources',
        ['transfer', UUID, '--src-env', 'prod', '--src-cloud', 'x', '--dst-cloud', 'y'],
        /exactly one of --src-env/,
      ],
      [
        'schedule create without --every or --cron',
        ['schedule', 'create', 'img', '--upload-env', 'prod'],
        /exactly one of --every/,
      ],
      ['an unknown option', ['upload', 'img', 'prod', '--no-such-option'], /unknown option/],
    ];
    it.each(cases)('%s', async (_name, args, message) => {
      for (const [, env] of modes()) {
        const r = await dibctl('good', env, args);
        expect(r.stderr).toMatch(message);
        // commander's own usage errors point to --help on a line of their own
        if (r.stderr.includes('unknown option')) expect(r.stderr).toMatch(/\(run dibctl --help/);
        else expectNextStep(r, /^Next step: ('dibctl [\w -]+ --help' shows its options and an example|dibctl \S)/);
        expect(r.code).toBe(2);
        expectNothingStarted(r);
      }
    });
  });

  it('schedule create with nothing configured is refused without starting a server that would end with the command', async () => {
    const r = await dibctl('good', embedded, ['schedule', 'create', 'img', '--every', '7d', '--upload-env', 'prod']);
    expect(r.stderr).toMatch(/A schedule needs a Temporal server that outlives this command/);
    expectNextStep(r, /start one \('dibctl server'\) or set TEMPORAL_ADDRESS, and run 'dibctl worker' beside it/);
    expect(r.code).toBe(1);
    expectNothingStarted(r);
  });

  it('help, validate and schema load neither the Temporal SDK, the worker nor the emulator, and start nothing', async () => {
    for (const args of [['--help'], ['help', 'run'], ['validate'], ['schema', 'images']]) {
      // node names every module it loads on stderr
      const r = await dibctl('good', { ...embedded, NODE_DEBUG: 'module' }, args);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/commander/);
      expect(r.stderr).not.toMatch(/@temporalio\/(client|worker)|dist\/(emulator|worker|activities)\//);
      expectNothingStarted(r);
    }
  });
});
