import {
  GlanceSection,
  largerTimeout,
  mergeEnvironmentVariables,
  mergeGlance,
  mergeNovaTimeouts,
  unionList,
} from '../../config';

describe('larger timeout wins', () => {
  test.each([
    [undefined, undefined, undefined],
    [30, undefined, 30],
    [undefined, 40, 40],
    [30, 40, 40],
    [90, 40, 90],
    [0, 0, 0],
  ])('image %p and environment %p give %p', (a, b, expected) => {
    expect(largerTimeout(a, b)).toBe(expected);
  });

  test('each nova timeout present in both takes the larger, others are kept as given', () => {
    expect(
      mergeNovaTimeouts(
        { create_timeout: 5, active_timeout: 900 },
        { create_timeout: 20, active_timeout: 100, keypair_timeout: 3 },
      ),
    ).toEqual({
      create_timeout: 20,
      active_timeout: 900,
      keypair_timeout: 3,
    });
  });
});

describe('glance sections merge by dibctl rules', () => {
  const cases: Array<[string, GlanceSection, GlanceSection, GlanceSection]> = [
    ['environment wins for api_version', { api_version: 1 }, { api_version: 2 }, { api_version: 2 }],
    ['environment wins for endpoint', { endpoint: 'http://a' }, { endpoint: 'http://b' }, { endpoint: 'http://b' }],
    ['environment wins for disk_format', { disk_format: 'qcow2' }, { disk_format: 'raw' }, { disk_format: 'raw' }],
    [
      'environment wins for container_format',
      { container_format: 'bare' },
      { container_format: 'ovf' },
      { container_format: 'ovf' },
    ],
    ['image format kept when the environment has none', { disk_format: 'raw' }, {}, { disk_format: 'raw' }],
    ['maximum wins for upload_timeout', { upload_timeout: 900 }, { upload_timeout: 100 }, { upload_timeout: 900 }],
    [
      'maximum wins for upload_stall_timeout',
      { upload_stall_timeout: 30 },
      { upload_stall_timeout: 300 },
      { upload_stall_timeout: 300 },
    ],
    ['maximum wins for min_disk', { min_disk: 4 }, { min_disk: 10 }, { min_disk: 10 }],
    ['maximum wins for min_ram', { min_ram: 2048 }, { min_ram: 512 }, { min_ram: 2048 }],
    ['protected true beats false (environment)', { protected: false }, { protected: true }, { protected: true }],
    ['protected true beats false (image)', { protected: true }, { protected: false }, { protected: true }],
    [
      'properties merged, environment wins on the same key',
      { properties: { a: '1', b: '2' } },
      { properties: { b: '3', c: 4 } },
      { properties: { a: '1', b: '3', c: 4 } },
    ],
    ['tags concatenated without duplicates', { tags: ['x', 'y'] }, { tags: ['y', 'z'] }, { tags: ['x', 'y', 'z'] }],
    [
      'share_with concatenated without duplicates',
      { share_with: ['p1'] },
      { share_with: ['p1', 'p2'] },
      { share_with: ['p1', 'p2'] },
    ],
    ['image wins for name', { name: 'Ubuntu' }, { name: 'Other' }, { name: 'Ubuntu' }],
    ['image wins for public', { public: false }, { public: true }, { public: false }],
    [
      'environment value used when the image has none',
      {},
      { name: 'Env name', public: true },
      { name: 'Env name', public: true },
    ],
    ['both empty stay empty', {}, {}, {}],
  ];
  test.each(cases)('%s', (_name, image, env, expected) => {
    expect(mergeGlance(image, env)).toEqual(expected);
  });

  test('merging does not change its inputs', () => {
    const image: GlanceSection = { tags: ['a'], properties: { k: 'v' } };
    const env: GlanceSection = { tags: ['b'], properties: { k: 'w' } };
    mergeGlance(image, env);
    expect(image).toEqual({ tags: ['a'], properties: { k: 'v' } });
    expect(env).toEqual({ tags: ['b'], properties: { k: 'w' } });
  });
});

test('lists union keeps first occurrences in order and absent stays absent', () => {
  expect(unionList(undefined, undefined)).toBeUndefined();
  expect(unionList(['a', 'b', 'a'], ['c', 'b'])).toEqual(['a', 'b', 'c']);
});

test("test environment variables override the image's", () => {
  expect(mergeEnvironmentVariables({ A: 'image', B: 'image' }, { B: 'env' })).toEqual({ A: 'image', B: 'env' });
});
