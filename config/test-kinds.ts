/**
 * The kinds of test an images.yaml `tests.tests_list` entry can be; each is
 * also the key that holds the entry's path (`{shell: PATH}`). The schema, the
 * view, the cross-check and the test runners all take the list from here.
 */
export const TEST_KINDS = ['shell', 'pytest', 'ssh', 'image', 'ts'] as const;

export type TestKind = (typeof TEST_KINDS)[number];

/**
 * The generic tests dibctl ships (`{generic: all}` or some of these names): checks
 * that hold for any image of any provider, run by pytest on the booted instance.
 */
export const GENERIC_TESTS = ['root-filesystem', 'interfaces', 'dns', 'hostname', 'package', 'reboot'] as const;

export type GenericTest = (typeof GENERIC_TESTS)[number];

/** `shell, pytest, ssh, image or ts`, for messages. */
export function testKindList(): string {
  return `${TEST_KINDS.slice(0, -1).join(', ')} or ${TEST_KINDS[TEST_KINDS.length - 1]}`;
}
