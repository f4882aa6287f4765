/**
 * Checking the test instance's SSH host key in dibctl's own (ssh2)
 * connections: the keys pinned in the instance's known_hosts become ssh2's
 * `hostVerifier` (and the only host key algorithms offered, so the server
 * presents a pinned type), and `probeHostKey` learns or checks the key a
 * server presents without logging in.
 */
import fs from 'node:fs';
import { Client, ConnectConfig } from 'ssh2';
import { HostKeyMismatchError } from '../../errors';
import {
  HostKey,
  describeHostKey,
  hostKeyFromBlob,
  knownHostKeys,
  knownHostsName,
  sameHostKey,
} from '../../common/ssh-host-keys';

/** ssh2's host key algorithms for each key type (types ssh2 cannot check have none). */
const ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
};

/** Whether dibctl's SSH client (ssh2) can check a key of this type. */
export function checkableHostKey(k: HostKey): boolean {
  return (ALGORITHMS[k.type] ?? []).length > 0;
}

/** The host key algorithms that let a server present one of `keys`. */
function hostKeyAlgorithms(keys: HostKey[]): string[] {
  return [...new Set(keys.flatMap((k) => ALGORITHMS[k.type] ?? []))];
}

interface Endpoint {
  ip: string;
  port: number;
}

/** Where the keys came from, in the words of a mismatch message. */
const PINNED_FROM = 'the host keys pinned in';

/**
 * ssh2 connection options that accept only the keys the known_hosts file pins
 * for the endpoint, and a check that turns ssh2's refusal into a
 * HostKeyMismatchError naming the expected and the presented fingerprints.
 */
export function pinnedConnectOptions(
  target: Endpoint,
  knownHostsFile: string,
): { options: Pick<ConnectConfig, 'hostVerifier' | 'algorithms'>; mismatch(): HostKeyMismatchError | undefined } {
  let text: string;
  try {
    text = fs.readFileSync(knownHostsFile, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the instance's known_hosts ${knownHostsFile}: ${(err as Error).message}`);
  }
  const keys = knownHostKeys(text, target.ip, target.port);
  if (keys.length === 0)
    throw new Error(`${knownHostsFile} pins no host key for ${knownHostsName(target.ip, target.port)}`);
  const algorithms = hostKeyAlgorithms(keys);
  if (algorithms.length === 0)
    throw new Error(
      `${knownHostsFile} pins only host key types dibctl's SSH client cannot check (${keys.map((k) => k.type).join(', ')})`,
    );
  let refused: HostKey | undefined;
  return {
    options: {
      algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (blob: Buffer) => {
        const presented = hostKeyFromBlob(blob);
        if (presented && sameHostKey(keys, presented)) return true;
        refused = presented ?? { type: 'malformed', key: blob.toString('base64') };
        return false;
      },
    },
    mismatch: () =>
      refused
        ? new HostKeyMismatchError(
            target,
            keys.map(describeHostKey),
            describeHostKey(refused),
            `${PINNED_FROM} ${knownHostsFile}`,
          )
        : undefined,
  };
}

/**
 * Connects to the endpoint's SSH server, completes the key exchange (which
 * proves the server holds the private half of the key it presents) and
 * disconnects without logging in. With `expected`, only those key types are
 * offered and a key not among them is reported as not matching (the server
 * is not asked to prove anything then). Rejects when no SSH server answers.
 */
export function probeHostKey(
  target: Endpoint,
  opts: { expected?: HostKey[]; timeoutMs?: number } = {},
): Promise<{ presented: HostKey; matches: boolean }> {
  const expected = opts.expected;
  const algorithms = expected ? hostKeyAlgorithms(expected) : undefined;
  if (algorithms && algorithms.length === 0)
    return Promise.reject(
      new Error(
        `dibctl's SSH client cannot check host keys of type ${[...new Set(expected!.map((k) => k.type))].join(', ')}`,
      ),
    );
  return new Promise((resolve, reject) => {
    const client = new Client();
    let presented: HostKey | undefined;
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('handshake');
      client.on('error', () => undefined);
      client.end();
      fn();
    };
    client.on('handshake', () => settle(() => resolve({ presented: presented!, matches: true })));
    client.on('error', (err: Error) =>
      settle(() =>
        presented && expected && !sameHostKey(expected, presented)
          ? resolve({ presented, matches: false })
          : reject(new Error(`ssh ${target.ip}:${target.port}: ${err.message}`)),
      ),
    );
    client.on('close', () =>
      settle(() => reject(new Error(`ssh ${target.ip}:${target.port}: the connection closed during the key exchange`))),
    );
    client.connect({
      host: target.ip,
      port: target.port,
      username: 'dibctl',
      readyTimeout: opts.timeoutMs ?? 20_000,
      ...(algorithms
        ? { algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } }
        : {}),
      hostVerifier: (blob: Buffer) => {
        presented = hostKeyFromBlob(blob);
        if (!presented) return false;
        return expected ? sameHostKey(expected, presented) : true;
      },
      // no authentication is attempted: the probe ends at the handshake
      authHandler: (_methods, _partial, next) => next(false as never),
    });
  });
}
