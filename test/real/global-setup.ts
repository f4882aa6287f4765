// Starts one real Keystone + Glance for the tier (or reuses the one in
// $REAL_OPENSTACK_DIR, left running afterwards) and tells the suites where it is.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { realOpenStackUnavailable, startRealOpenStack } from '../support/real-openstack';

export default async function globalSetup(): Promise<void> {
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
  process.stdout.write(`\nreal Keystone ${stack.keystone.authUrl} and Glance ${stack.glance.url} ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const { stop: _stop, ...info } = stack;
  fs.writeFileSync(infoFile, JSON.stringify({ ...info, keepRunning: Boolean(reuse) }), { mode: 0o600 });
  (globalThis as { realStack?: typeof stack }).realStack = stack;
}
