import path from 'node:path';
import { startEmulator } from '../../emulator';
import { Output, printJson } from '../render';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Cli, parsePort } from '../cli';

export interface EmulatorCommandOptions {
  host: string;
  port: number;
  regions: string;
  stateFile?: string;
  dataDir?: string;
  tokenTtl: number;
  sshPort?: number;
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

function parseTokenTtl(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive number of seconds');
  return n;
}

export function register(program: Command, cli: Cli): void {
  program
    .command('emulator')
    .description(
      'run a local OpenStack emulator (Keystone, Glance, Nova, Neutron; servers reachable over SSH) until Ctrl-C',
    )
    .option('--host <ip>', 'address to listen on', '127.0.0.1')
    .addOption(new Option('--port <port>', 'API port').default(5000).argParser(parsePort))
    .option('--regions <names>', 'comma-separated region names', 'RegionOne,RegionTwo')
    .option('--state-file <file>', 'keep the cloud state in this JSON file across restarts')
    .option(
      '--data-dir <dir>',
      'where image data and server directories live (default: next to the state file, or temporary)',
    )
    .addOption(new Option('--token-ttl <seconds>', 'token lifetime').default(3600).argParser(parseTokenTtl))
    .addOption(
      new Option('--ssh-port <port>', 'port the servers answer SSH on (default 22 as root)').argParser(parsePort),
    )
    .action(async (opts: EmulatorCommandOptions) => cli.withoutSession((o) => emulator(opts, o, cli.interrupted())));
}
