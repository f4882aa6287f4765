/**
 * Runs after every other suite of the tier: nothing the tests created is left
 * in the real Glance or in the real Keystone's catalog.
 */
import { describeReal, raw, stack, tokenFor, user } from './stack';

describeReal('after the tier', () => {
  test('the real Glance holds no image of any project', async () => {
    const token = await tokenFor(stack!.keystone.authUrl, user('admin'));
    const res = await raw('GET', `${stack!.glance.url}/v2/images?limit=1000`, { token });
    expect(res.status).toBe(200);
    const images = (res.body as { images: { id: string; name: string; owner: string }[] }).images;
    expect(images.map((i) => `${i.name} (${i.id}, owner ${i.owner})`)).toEqual([]);
  });

  test('the catalog holds only Keystone and Glance, and no application credential is left', async () => {
    const token = await tokenFor(stack!.keystone.authUrl, user('admin'));
    const services = await raw('GET', `${stack!.keystone.authUrl}/services`, { token });
    expect((services.body as { services: { type: string }[] }).services.map((s) => s.type).sort()).toEqual([
      'identity',
      'image',
    ]);
    const endpoints = await raw('GET', `${stack!.keystone.authUrl}/endpoints`, { token });
    expect((endpoints.body as { endpoints: unknown[] }).endpoints).toHaveLength(2);
    for (const who of ['demo', 'alt'] as const) {
      const userToken = await tokenFor(stack!.keystone.authUrl, user(who));
      const creds = await raw('GET', `${stack!.keystone.authUrl}/users/${user(who).userId}/application_credentials`, {
        token: userToken,
      });
      expect((creds.body as { application_credentials: unknown[] }).application_credentials).toEqual([]);
    }
  });
});
