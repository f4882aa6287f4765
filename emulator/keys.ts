import { utils } from 'ssh2';

/**
 * An SSH key pair that ssh2 itself can read back. ssh2's generator writes a
 * small share of ed25519 private keys (about 1 in 300) that its own parser
 * rejects as malformed, so a pair is only returned once it parses.
 */
export function generateSshKeyPair(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): { private: string; public: string } {
  for (let attempt = 0; ; attempt++) {
    const pair =
      type === 'rsa'
        ? utils.generateKeyPairSync('rsa', { bits: 2048 })
        : type === 'ecdsa'
          ? utils.generateKeyPairSync('ecdsa', { bits: 256 })
          : utils.generateKeyPairSync('ed25519');
    if (!(utils.parseKey(pair.private) instanceof Error) || attempt >= 20) return pair;
  }
}
