/** Nova keypairs: import a public key or have one generated, list (paged from 2.35), show, delete; per user. */
import crypto from 'node:crypto';
import { utils } from 'ssh2';
import { AuthContext } from './cloud';
import { HttpError, Reply, Request, Router, isObject, nowIso, readJson } from './http';
import { generateSshKeyPair } from './keys';
import { MALFORMED, Microversion, NovaRegion, atLeast, invalid, onlyKeys, requestedVersion } from './nova-api';
import { Keypair } from './state';

function keyFingerprint(publicKey: string): string {
  const parsed = utils.parseKey(publicKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key instanceof Error || !key || key.isPrivateKey())
    throw new HttpError(400, 'Keypair data is invalid: failed to generate fingerprint');
  return crypto.createHash('md5').update(key.getPublicSSH()).digest('hex').match(/../g)!.join(':');
}

export function keypairRoutes(router: Router, nova: NovaRegion): void {
  const { cloud } = nova;
  const rs = () => nova.rs();

  const keypairJson = (k: Keypair, v: Microversion, full: boolean) => ({
    name: k.name,
    public_key: k.public_key,
    fingerprint: k.fingerprint,
    ...(atLeast(v, '2.2') ? { type: k.type } : {}),
    ...(full
      ? { user_id: k.user_id, deleted: false, created_at: k.created_at, deleted_at: null, updated_at: null, id: k.id }
      : {}),
  });
  const keypairOwner = (req: Request, ctx: AuthContext, v: Microversion): string => {
    const userId = req.query.get('user_id');
    if (userId === null || !atLeast(v, '2.10')) return ctx.user.id;
    if (!ctx.isAdmin && userId !== ctx.user.id)
      throw new HttpError(403, "Policy doesn't allow os_compute_api:os-keypairs:index to be performed.");
    return userId;
  };
  const ownedKeypair = (req: Request, ctx: AuthContext, v: Microversion, name: string): Keypair => {
    const owner = keypairOwner(req, ctx, v);
    const k = rs().keypairs.find((x) => x.name === name && x.user_id === owner);
    if (!k) throw new HttpError(404, `Keypair ${name} not found for user ${owner}`);
    return k;
  };
  router.add('GET', '/v2.1/os-keypairs', (req): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const owner = keypairOwner(req, ctx, v);
    const mine = rs().keypairs.filter((k) => k.user_id === owner);
    if (atLeast(v, '2.35')) {
      const { page, links } = nova.paginate(
        req,
        mine.map((k) => ({ ...k, id: k.name })),
        (k) => k.name,
        'keypairs',
      );
      return {
        status: 200,
        body: { keypairs: page.map((k) => ({ keypair: keypairJson({ ...k, id: 0 }, v, false) })), ...links },
      };
    }
    return { status: 200, body: { keypairs: mine.map((k) => ({ keypair: keypairJson(k, v, false) })) } };
  });
  router.add('GET', '/v2.1/os-keypairs/:name', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const k = ownedKeypair(req, ctx, v, p.name);
    return { status: 200, body: { keypair: keypairJson(k, v, true) } };
  });
  router.add('POST', '/v2.1/os-keypairs', async (req): Promise<Reply> => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const body = await readJson(req.raw, MALFORMED);
    if (!isObject(body) || !isObject(body.keypair)) throw invalid('keypair', body, "'keypair' is a required property");
    const kp = body.keypair;
    const allowed = [
      'name',
      'public_key',
      ...(atLeast(v, '2.2') ? ['type'] : []),
      ...(atLeast(v, '2.10') ? ['user_id'] : []),
    ];
    onlyKeys('keypair', kp, allowed);
    if (kp.name === undefined) throw invalid('keypair', kp, "'name' is a required property");
    if (typeof kp.name !== 'string')
      throw invalid('keypair/name', kp.name, `${JSON.stringify(kp.name)} is not of type 'string'`);
    if (!/^[a-zA-Z0-9 _.@-]{1,255}$/.test(kp.name)) {
      throw new HttpError(400, 'Keypair data is invalid: Keypair name contains unsafe characters');
    }
    if (kp.type !== undefined && kp.type !== 'ssh' && kp.type !== 'x509')
      throw invalid('keypair/type', kp.type, `${JSON.stringify(kp.type)} is not one of ['ssh', 'x509']`);
    if (kp.public_key !== undefined && typeof kp.public_key !== 'string')
      throw invalid('keypair/public_key', kp.public_key, `${JSON.stringify(kp.public_key)} is not of type 'string'`);
    if (kp.public_key === undefined && atLeast(v, '2.92'))
      throw invalid('keypair', kp, "'public_key' is a required property");
    const owner = typeof kp.user_id === 'string' ? kp.user_id : ctx.user.id;
    if (owner !== ctx.user.id && !ctx.isAdmin)
      throw new HttpError(403, "Policy doesn't allow os_compute_api:os-keypairs:create to be performed.");
    if (rs().keypairs.some((k) => k.name === kp.name && k.user_id === owner))
      throw new HttpError(409, `Key pair '${kp.name}' already exists.`);
    let publicKey = kp.public_key as string | undefined;
    let privateKey: string | undefined;
    if (publicKey === undefined) {
      const pair = generateSshKeyPair('rsa');
      publicKey = `${pair.public} Generated-by-Nova`;
      privateKey = pair.private;
    }
    const keypair: Keypair = {
      name: kp.name,
      user_id: owner,
      public_key: publicKey.trim(),
      fingerprint: keyFingerprint(publicKey.trim()),
      type: (kp.type as Keypair['type'] | undefined) ?? 'ssh',
      created_at: nowIso(),
      id: cloud.state.next_keypair_id++,
    };
    rs().keypairs.push(keypair);
    cloud.changed();
    const reply = {
      ...keypairJson(keypair, v, false),
      user_id: owner,
      ...(privateKey ? { private_key: privateKey } : {}),
    };
    return { status: atLeast(v, '2.2') ? 201 : 200, body: { keypair: reply } };
  });
  router.add('DELETE', '/v2.1/os-keypairs/:name', (req, p): Reply => {
    const ctx = cloud.authenticate(req);
    const v = requestedVersion(req);
    const k = ownedKeypair(req, ctx, v, p.name);
    rs().keypairs = rs().keypairs.filter((x) => x !== k);
    cloud.changed();
    return { status: atLeast(v, '2.2') ? 204 : 202 };
  });
}
