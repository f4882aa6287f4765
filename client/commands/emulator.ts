import path from 'node:path';
import { startEmulator } from '../../emulator';
import { DibctlError } from '../../errors';
import { Output, printJson } from '../render';

export interface EmulatorCommandOptions {
  host: string;
  port: number;
  regions: string;
  stateFile?: string;
  dataDir?: string;
  tokenTtl: number;
  sshPort?: number;
  guests: 'host' | 'qemu';
}

/** Runs the OpenStack emulator until interrupted, printing how to reach it. */
export async function emulator(opts: EmulatorCommandOptions, o: Output, stopSignal: Promise<void>): Promise<number> {
  const regions = opts.regions
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const stateFile = opts.stateFile ? path.resolve(opts.stateFile) : undefined;
  const dataDir = opts.dataDir ? path.resolve(opts.dataDir) : stateFile ? `${stateFile}.d` : undefined;
  const emu = await startEmulator({
    host: opts.host,
    port: opts.port,
    regions,
    stateFile,
    dataDir,
    tokenTtlSeconds: opts.tokenTtl,
    sshPort: opts.sshPort,
    guests: opts.guests,
  }).catch((err: Error) => {
    if (opts.guests === 'qemu') throw new DibctlError(err.message);
    throw err;
  });
  if (o.json) {
    printJson(o, {
      url: emu.url,
      authUrl: emu.authUrl,
      authUrlV2: emu.authUrlV2,
      regions: emu.regions,
      admin: emu.admin,
      user: emu.user,
      applicationCredential: emu.applicationCredential,
      networks: emu.networks,
      sshPort: emu.sshPort,
    });
  } else {
    o.out(`OpenStack emulator: ${emu.url} (regions ${emu.regions.join(', ')})`);
    o.out(`Keystone v3: ${emu.authUrl}   v2.0: ${emu.authUrlV2}`);
    for (const [region, net] of Object.entries(emu.networks))
      o.out(`Network in ${region}: ${net.name} ${net.id} (${net.cidr}, servers answer SSH on port ${emu.sshPort})`);
    o.out('');
    o.out('# openrc of the ordinary user (admin: see clouds.yaml below)');
    o.out(emu.openrc('user'));
    o.out('');
    o.out('# clouds.yaml');
    o.out(emu.cloudsYaml());
    o.out(
      `# application credential of ${emu.user.username}: id ${emu.applicationCredential.id} secret ${emu.applicationCredential.secret}`,
    );
    if (stateFile) o.out(`State: ${stateFile}`);
    o.out('Press Ctrl-C to stop.');
  }
  await stopSignal;
  o.err('Stopping the emulator...');
  await emu.stop();
  return 0;
}
