import path from 'node:path';
import { startDevServer } from '../../temporal/dev-server';
import { stateDir } from '../paths';
import { Output } from '../render';

export interface ServerOptions {
  ip: string;
  port: number;
  uiPort?: number;
  dbFilename?: string;
  headless?: boolean;
}

/** Runs a persistent local Temporal dev server until interrupted. */
export async function server(opts: ServerOptions, o: Output, stopSignal: Promise<void>): Promise<number> {
  const dbFilename = path.resolve(opts.dbFilename ?? path.join(stateDir(), 'temporal.db'));
  const logFile = path.join(path.dirname(dbFilename), 'temporal-server.log');
  const srv = await startDevServer({
    ip: opts.ip,
    port: opts.port,
    ui: !opts.headless,
    uiPort: opts.uiPort ?? opts.port + 1000,
    dbFilename,
    log: logFile,
    progress: o.err,
  });
  o.out(`Temporal server: ${srv.address} (namespace ${srv.namespace})`);
  if (srv.uiUrl) o.out(`Web UI: ${srv.uiUrl}`);
  o.out(`State: ${dbFilename}`);
  o.out(`Server log: ${logFile}`);
  o.out('Press Ctrl-C to stop.');
  await stopSignal;
  o.err('Stopping the Temporal server...');
  await srv.stop();
  return 0;
}
