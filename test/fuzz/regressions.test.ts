/**
 * Cases the fuzz tests found, kept as plain tests: each failed before its fix.
 */
import {
  ConfigError,
  LabelNotFoundError,
  loadUploadEnvironment,
  parseYaml,
  suggestKey,
  validateSource,
} from '../../config';
import { DibctlError } from '../../errors';
import { connectCloud, UnexpectedResponseError } from '../../openstack';
import { TempTree } from '../config/helpers';
import { FakeAnswer, FakeServer, startFakeServer, TOKEN, v3Token } from '../openstack/fake-server';

const KEYSTONE = `  keystone: {auth_url: "http://keystone.example/v3", username: u, password: Pw-regress-1, project_name: p}\n`;

function problems(kind: 'images' | 'test' | 'upload', text: string): string[] {
  try {
    validateSource(kind, parseYaml(text, `/x/${kind}.yaml`, `${kind}.yaml`));
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe('config messages stay one short line per problem', () => {
  test('a key with a line break is shown escaped and quoted', () => {
    const p = problems('upload', `prod:\n${KEYSTONE}  "bad\\nkey": 1\n`);
    expect(p).toEqual(['upload.yaml:3:3: prod."bad\\nkey": unknown key']);
  });

  test('a very long unknown key is shortened and gets no suggestion', () => {
    const key = `min_ram${'x'.repeat(20_000)}`;
    const p = problems('upload', `prod:\n${KEYSTONE}  glance:\n    ? ${key}\n    : 1\n`);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^upload\.yaml:\d+:\d+: prod\.glance\.min_ramx+\.\.\.: unknown key$/);
    expect(p[0].length).toBeLessThan(200);
    expect(suggestKey(key, ['min_ram'])).toBeUndefined();
  });

  test('a duplicate list entry with a line break stays on one line', () => {
    const p = problems('images', 'img:\n  filename: x.qcow2\n  dib:\n    elements: ["a\\nb", "a\\nb"]\n');
    expect(p).toEqual(['images.yaml:4:24: img.dib.elements[1]: duplicate entry \'a\\nb\' (got "a\\nb")']);
  });

  test('a label that is not defined is named on one line even when labels hold line breaks', () => {
    const tree = new TempTree('dibctl-fuzz-regress-');
    try {
      tree.write('upload.yaml', `"two\\nlines":\n${KEYSTONE}`);
      let err: unknown;
      try {
        loadUploadEnvironment('missing\nlabel', { cwd: tree.root, systemDir: tree.path('no-etc') });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LabelNotFoundError);
      expect((err as Error).message).toBe(
        `Unable to find upload environment '"missing\\nlabel"' in upload.yaml (known labels: "two\\nlines")`,
      );
    } finally {
      tree.remove();
    }
  });

  test('a list used as a key is an unknown key, not a Node warning', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const p = problems('upload', `prod:\n${KEYSTONE}  ? [a, b]\n  : 1\n`);
      expect(p).toHaveLength(1);
      expect(p[0]).toMatch(/^upload\.yaml:\d+:\d+: prod\.\[ a, b \]: unknown key$/);
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  test('a retire duration too large to count in seconds exactly is refused like a too large number', () => {
    const huge = problems(
      'upload',
      `prod:\n${KEYSTONE}  retire: {check_every: "99999999999999999999w", delete_after: 2w}\n`,
    );
    expect(huge).toEqual([
      'upload.yaml:3:25: prod.retire.check_every: must be a duration like 90s, 30m, 6h, 7d, 2w or a number of seconds (got "99999999999999999999w")',
    ]);
    // exact in seconds, but far beyond any timer (a date that far cannot even be printed): refused by the bound
    expect(problems('upload', `prod:\n${KEYSTONE}  retire: {check_every: "14892694w"}\n`)).toEqual([
      'upload.yaml:3:25: prod.retire.check_every: must be at most 10 years (315360000 seconds) (got "14892694w")',
    ]);
  });
});

describe('answers of the wrong shape are typed errors, not crashes', () => {
  const PASSWORD = 'Regress-pa55-w0rd';
  let fake: FakeServer | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function cloudAnswering(answer: (path: string) => FakeAnswer | undefined, catalogOverride?: unknown) {
    fake = await startFakeServer((r, s) => {
      if (r.path === '/v3/auth/tokens') {
        const body = v3Token(['image', 'compute', 'network'].map((type) => ({ type, url: `${s.url}/${type}` })));
        if (catalogOverride !== undefined) (body.token as Record<string, unknown>).catalog = catalogOverride;
        return { status: 201, headers: { 'X-Subject-Token': TOKEN }, body };
      }
      return answer(r.path) ?? { status: 404, body: { itemNotFound: { message: 'no' } } };
    });
    return connectCloud({ authUrl: `${fake.url}/v3`, username: 'demo', password: PASSWORD, projectName: 'demo' });
  }

  async function failure(p: Promise<unknown>): Promise<DibctlError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnexpectedResponseError);
    expect((err as DibctlError).exitCode).toBe(1);
    return err as DibctlError;
  }

  test('an empty 204 where a list was expected', async () => {
    const cloud = await cloudAnswering(() => ({ status: 204 }));
    const err = await failure(cloud.network.listNetworks());
    expect(err.message).toBe(
      'Neutron sent an unexpected answer: GET networks answered an empty body where an object was expected',
    );
    cloud.close();
  });

  test('a list field that is not a list of objects', async () => {
    const cloud = await cloudAnswering((p) =>
      p.endsWith('/images')
        ? { body: { images: 'abc' } }
        : p.endsWith('/servers/detail')
          ? { body: { servers: [null] } }
          : undefined,
    );
    await failure(cloud.image.listImages());
    await failure(cloud.compute.listServers());
    cloud.close();
  });

  test('an object missing where Nova puts the created server, the flavor or the keypair', async () => {
    const cloud = await cloudAnswering((p) =>
      p.includes('/compute/')
        ? { status: p.endsWith('/servers') ? 202 : 200, body: { server: 5, flavor: null } }
        : undefined,
    );
    await failure(cloud.compute.createServer({ name: 'vm', imageRef: 'i', flavorRef: 'f', networks: 'none' }));
    await failure(cloud.compute.getFlavor('1'));
    await failure(cloud.compute.importKeypair('k', 'ssh-ed25519 AAAA'));
    cloud.close();
  });

  test('a Keystone catalog that is not a list', async () => {
    const err = await cloudAnswering(() => undefined, { image: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnexpectedResponseError);
  });

  test('catalog entries with a non-text URL or interface are skipped', async () => {
    const cloud = await cloudAnswering(
      () => undefined,
      [
        { type: 'image', endpoints: [{ interface: 7, url: 42 }] },
        { type: 'compute', endpoints: [{ interface: ['public'], url: 'http://nova.example/v2.1' }] },
      ],
    );
    await expect(cloud.identity.endpointFor('compute')).resolves.toBe('http://nova.example/v2.1');
    await expect(cloud.identity.endpointFor('image')).rejects.toThrow('No image endpoint');
    cloud.close();
  });

  test('a request id header that repeats the token is scrubbed from the error', async () => {
    const cloud = await cloudAnswering(() => ({
      status: 500,
      headers: { 'x-openstack-request-id': `req-${TOKEN}` },
      body: { error: { message: 'boom' } },
    }));
    const err = await cloud.image.getImage('abc').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DibctlError);
    expect((err as Error).message).not.toContain(TOKEN);
    expect((err as Error).message).toContain('(request req-***)');
    cloud.close();
  });
});

describe('deep nesting is refused with a plain message', () => {
  test.each([
    ['a flow list nested 5000 levels', `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`],
    [
      'a block mapping nested 3000 levels',
      `${Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n')} 1\n`,
    ],
    ['a section nested 100 levels', `prod:\n${KEYSTONE}  glance: ${'{a: '.repeat(100)}1${'}'.repeat(100)}\n`],
  ])('%s', (_name, text) => {
    const p = problems('upload', text);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^upload\.yaml:\d+:\d+: invalid YAML: nested too deeply \(at most 64 levels\)$/);
  });

  test('a config nested as deep as real ones loads', () => {
    expect(
      problems(
        'test',
        `lab:\n${KEYSTONE}  nova: {flavor: m1.small}\n  neutron: ${'{a: '.repeat(40)}1${'}'.repeat(40)}\n`,
      ),
    ).toEqual([]);
  });
});

describe('YAML syntax errors never quote the file', () => {
  const SECRET = 'Syntax-s3cret-value';
  test.each([
    ['a first line indented more than the rest', `   prod:\n  keystone:\n    password: ${SECRET}\n`],
    ['a block scalar header with extra text', `prod:\n  keystone:\n    password: |${SECRET}\n      more\n`],
    ['a bad escape in a quoted password', `prod:\n  keystone:\n    password: "\\q${SECRET}"\n`],
    ['a tag with an unknown handle', `prod:\n  keystone:\n    password: !x!${SECRET} v\n`],
  ])('%s: position and construct, not the value', (_name, text) => {
    const p = problems('upload', text);
    expect(p.length).toBeGreaterThan(0);
    for (const line of p) {
      expect(line).toMatch(/^upload\.yaml:\d+:\d+: invalid YAML: /);
      expect(line).not.toContain(SECRET);
    }
  });
});
