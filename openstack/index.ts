/**
 * The OpenStack client: `connectCloud(auth)` authenticates and returns one
 * client per service (identity, image, compute, network).
 */
import type { CloudAuth } from './auth-types';
import { ComputeClient } from './compute';
import { computeRoot, imageRoot, networkRoot } from './endpoints';
import { DebugSink, ServiceHttp, Transport } from './http';
import { IdentityClient, IdentityOptions } from './identity';
import { ImageClient } from './image';
import { NetworkClient } from './network';

export interface ConnectOptions extends IdentityOptions {
  /** Receives one line per request and answer, secrets redacted. */
  debug?: DebugSink;
  /** Limit for one ordinary request, ms (default 60 s). */
  timeoutMs?: number;
  /** Default compute microversion (default "2.1"). */
  computeMicroversion?: string;
  /** Authenticate right away (default true), so bad credentials fail here. */
  authenticate?: boolean;
}

export interface Cloud {
  identity: IdentityClient;
  image: ImageClient;
  compute: ComputeClient;
  network: NetworkClient;
  transport: Transport;
  /** Closes idle connections. */
  close(): void;
}

const CATALOG_TYPES = {
  image: ['image'],
  compute: ['compute', 'computev21'],
  network: ['network'],
} as const;

/** Builds the clients for one cloud and (by default) authenticates. */
export async function connectCloud(auth: CloudAuth, opts: ConnectOptions = {}): Promise<Cloud> {
  const transport = new Transport({
    debug: opts.debug,
    timeoutMs: opts.timeoutMs,
    insecure: auth.insecure,
    cacert: auth.cacert,
  });
  const identity = new IdentityClient(auth, transport, opts);
  const overrides = auth.endpointOverrides ?? {};
  const root = (service: keyof typeof CATALOG_TYPES, normalize: (u: string) => string) => async () => {
    const override = overrides[service];
    const url = override ?? (await identity.endpointFor([...CATALOG_TYPES[service]]));
    const r = normalize(url);
    transport.debug(`${service} endpoint: ${r}${override ? ' (override)' : ''}`);
    return r;
  };
  const imageHttp = new ServiceHttp(transport, 'image', root('image', imageRoot), identity);
  const computeHttp = new ServiceHttp(transport, 'compute', root('compute', computeRoot), identity);
  const networkHttp = new ServiceHttp(transport, 'network', root('network', networkRoot), identity);
  const compute = new ComputeClient(computeHttp, { microversion: opts.computeMicroversion });
  try {
    if (opts.authenticate !== false) await identity.connect();
  } catch (err) {
    transport.close();
    throw err;
  }
  return {
    identity,
    image: new ImageClient(imageHttp),
    compute,
    network: new NetworkClient(networkHttp),
    transport,
    close: () => transport.close(),
  };
}

export {
  OpenStackHttpError,
  AuthenticationError,
  ImageNotFoundError,
  NovaBadRequestError,
  NovaForbiddenError,
  OpenStackConnectionError,
  UnexpectedResponseError,
  UploadTimeoutError,
  UploadStalledError,
  ChecksumMismatchError,
} from './errors';
export type { CloudAuth } from './auth-types';
export { TokenCache } from './identity';
export { ServerStateError } from './compute';
export type { Server } from './compute';
export { extractServerMessage } from './http';
export { hashFile } from './hashing';
export type { Digests } from './hashing';
export { propertyIsTrue } from './image';
export type { Image, ImageCreate } from './image';
