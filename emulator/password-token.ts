/** A project-scoped token for one of the emulator's users (Keystone v3 password authentication). */
import type { Credentials } from './index';

export async function passwordToken(
  authUrl: string,
  u: Pick<Credentials, 'username' | 'password' | 'userDomainName' | 'projectName' | 'projectDomainName'>,
): Promise<string> {
  const res = await fetch(`${authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: u.username, domain: { name: u.userDomainName }, password: u.password } },
        },
        scope: { project: { name: u.projectName, domain: { name: u.projectDomainName } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`Keystone refused ${u.username}: ${res.status} ${await res.text()}`);
  return res.headers.get('x-subject-token')!;
}
