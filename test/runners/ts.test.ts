import fs from 'node:fs';
import path from 'node:path';
import { runTestEntry } from '../../activities/test-runners';
import { BootedInstance, bootInstance, processesWith } from './instance';

let vm: BootedInstance;

beforeAll(async () => {
  vm = await bootInstance('ts-runner-vm');
});

afterAll(async () => {
  await vm?.stop();
});

function suite(name: string, files: Record<string, string>): string {
  const dir = path.join(vm.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), body);
  return dir;
}

describe('ts tests (jest with dibctl/testing)', () => {
  test('a TypeScript suite gets the typed context, SSH with exit codes and uploads, the cloud client and waitForPort', async () => {
    const dir = suite('ts-ok', {
      'instance.test.ts': `
import { context, ssh, cloud, waitForPort, InstanceTestContext } from 'dibctl/testing';

const ctx: InstanceTestContext = context();

test('hostname is the instance name', async () => {
  const s = await ssh();
  try {
    const r = await s.exec('hostname');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(ctx.instance.name.toLowerCase());
    expect((await s.exec('exit 7')).code).toBe(7);
    await s.upload('uploaded by a test\\n', '/tmp/' + ctx.instance.id + '.txt', { mode: 0o600 });
    expect((await s.exec('cat /tmp/' + ctx.instance.id + '.txt; rm /tmp/' + ctx.instance.id + '.txt')).stdout).toBe('uploaded by a test\\n');
  } finally {
    s.close();
  }
});

test('the context has the flavor, addresses and environment', () => {
  expect(ctx.flavor).toMatchObject({ name: 'm1.medium', extraSpecs: { 'hw:cpu_policy': 'shared' } });
  expect(ctx.mainIp).toBe(ctx.ips[0]);
  expect(ctx.environmentVariables.greeting).toBe('hello world');
  expect(process.env.DIBCTL_GREETING).toBe('hello world');
});

test('the cloud client sees the instance with the test environment credentials', async () => {
  const c = await cloud();
  try {
    expect((await c.compute.getServer(ctx.instance.id)).name).toBe('ts-runner-vm');
  } finally {
    c.close();
  }
});

test('waitForPort', async () => {
  expect(await waitForPort(ctx.ssh!.port, 5)).toBe(true);
  expect(await waitForPort(1, 1)).toBe(false);
});
`,
      'not-a-test.ts': 'throw new Error("helpers are not run");\n',
    });
    const lines: string[] = [];
    const r = await runTestEntry({ kind: 'ts', path: dir, timeout: 120 }, vm.ctx, {
      logDir: vm.logDir,
      onOutput: (l) => lines.push(l),
    });
    if (!r.passed) console.log(r.outputTail);
    expect(r).toMatchObject({ name: `ts: ${dir}`, framework: 'ts', passed: true, exitCode: 0 });
    expect(lines.some((l) => l.includes('✓ hostname is the instance name'))).toBe(true);
    expect(r.outputTail).toMatch(/Tests:\s+4 passed, 4 total/);
  });

  test('a single JavaScript file runs whatever its name, and a failing expectation fails the entry with its name', async () => {
    const dir = suite('js-fail', {
      'kernel.js': `const { ssh } = require('dibctl/testing');\ntest('kernel is Plan9', async () => {\n  const s = await ssh();\n  const r = await s.exec('uname -s');\n  s.close();\n  expect(r.stdout.trim()).toBe('Plan9');\n});\n`,
    });
    const r = await runTestEntry({ kind: 'ts', path: path.join(dir, 'kernel.js'), timeout: 120 }, vm.ctx, {
      logDir: vm.logDir,
    });
    expect(r).toMatchObject({ passed: false, exitCode: 1, reason: 'failed: kernel is Plan9 (jest exit code 1)' });
    expect(r.outputTail).toContain('Received: "Linux"');
  });

  test('a suite past its time limit is killed with its process group', async () => {
    const tag = `36${String(Date.now()).slice(-6)}.5`;
    const dir = suite('ts-slow', {
      'slow.test.ts': `import { execFileSync } from 'node:child_process';\ntest('hangs', () => { execFileSync('sleep', ['${tag}']); });\n`,
    });
    const r = await runTestEntry({ kind: 'ts', path: dir, timeout: 4 }, vm.ctx, { logDir: vm.logDir });
    expect(r).toMatchObject({ passed: false, reason: 'time limit of 4 s exceeded; the process group was killed' });
    await new Promise((res) => setTimeout(res, 200));
    expect(processesWith(`sleep ${tag}`)).toEqual([]);
  });
});
