/* eslint-disable @typescript-eslint/no-require-imports */
// Starts one real Keystone + Glance for the tier (or reuses the one in
// $REAL_OPENSTACK_DIR, left running afterwards) and tells the suites where it is.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { realOpenStackUnavailable, startRealOpenStack } from '../support/real-openstack';

export default async function globalSetup(): Promise<void> {
  // The end-to-end suite runs the built CLI on a Temporal dev server: build it (unless DIBCTL_SKIP_BUILD=1) and find the Temporal CLI
  const buildAndTemporal = require('../support/global-setup.js') as () => Promise<void>;
  const built = Date.now();
  await buildAndTemporal();
  process.stdout.write(`\nbuild and Temporal CLI check: ${((Date.now() - built) / 1000).toFixed(1)} s\n`);
  const infoFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'real-tier-')), 'stack.json');
  process.env.REAL_TIER_INFO = infoFile;
  const reason = realOpenStackUnavailable();
  if (reason) {
    fs.writeFileSync(infoFile, JSON.stringify({ unavailable: reason }));
    return;
  }
  const reuse = process.env.REAL_OPENSTACK_DIR;
  const started = Date.now();
  const stack = await startRealOpenStack(reuse);
  process.stdout.write(
    `\nreal Keystone ${stack.keystone.authUrl} and Glance ${stack.glance.url} ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  const { stop: _stop, ...info } = stack;
  fs.writeFileSync(infoFile, JSON.stringify({ ...info, keepRunning: Boolean(reuse) }), { mode: 0o600 });
  (globalThis as { realStack?: typeof stack }).realStack = stack;
}
