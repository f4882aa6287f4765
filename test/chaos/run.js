#!/usr/bin/env node
// npm run chaos -- --runs N [--seed S]: the chaos suite through jest (which
// compiles the TypeScript harness), N seeded runs, one line per run.
const { spawn } = require('node:child_process');
const path = require('node:path');

function usage(message) {
  process.stderr.write(`${message}\nusage: npm run chaos -- --runs N [--seed S]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let runs = 10;
let seed;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const value = () => {
    const v = args[++i];
    if (v === undefined || !/^\d+$/.test(v)) usage(`${a} needs a non-negative integer`);
    return Number(v);
  };
  if (a === '--runs') runs = value();
  else if (a === '--seed') seed = value();
  else usage(`unknown option ${a}`);
}
if (runs < 1) usage('--runs must be at least 1');

const root = path.resolve(__dirname, '..', '..');
const env = { ...process.env, CHAOS_RUNS: String(runs), ...(seed !== undefined ? { CHAOS_SEED: String(seed) } : {}) };
const child = spawn(
  process.execPath,
  [
    require.resolve('jest/bin/jest', { paths: [root] }),
    '--runTestsByPath',
    path.join('test', 'chaos', 'chaos.test.ts'),
    '--testTimeout',
    String(runs * 600_000 + 60_000),
  ],
  { cwd: root, env, stdio: 'inherit' },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
