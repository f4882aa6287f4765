// Stops the stack the setup started (a reused one keeps running).
import fs from 'node:fs';
import path from 'node:path';
import type { RealOpenStack } from '../support/real-openstack';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as { realStack?: RealOpenStack }).realStack;
  const infoFile = process.env.REAL_TIER_INFO;
  if (stack && !process.env.REAL_OPENSTACK_DIR) await stack.stop();
  if (infoFile) fs.rmSync(path.dirname(infoFile), { recursive: true, force: true });
}
