/** `{generic: ...}` entries of tests_list name dibctl's generic tests, in the order they run. */
import { loadImage } from '../../config';
import { TempTree } from './helpers';

const images = (entries: string) =>
  `img:\n  filename: a.qcow2\n  tests:\n    ssh: { username: debian }\n    tests_list:\n${entries}`;

function testsList(entries: string) {
  const tree = new TempTree();
  try {
    tree.write('work/images.yaml', images(entries));
    return loadImage('img', { cwd: tree.path('work'), systemDir: tree.path('none') }).tests.testsList;
  } finally {
    tree.remove();
  }
}

test('generic: all runs every generic test, the reboot last', () => {
  expect(testsList('      - generic: all\n        timeout: 900\n')).toEqual([
    {
      kind: 'generic',
      path: 'all',
      generic: ['root-filesystem', 'interfaces', 'dns', 'hostname', 'package', 'reboot'],
      timeout: 900,
    },
  ]);
});

test('a list of generic tests runs in their own order, whatever the order written', () => {
  expect(testsList('      - generic: [reboot, hostname]\n        stop_on_failure: false\n')).toEqual([
    { kind: 'generic', path: 'hostname,reboot', generic: ['hostname', 'reboot'], timeout: 300, stopOnFailure: false },
  ]);
});

test('one generic test by name sits beside other kinds', () => {
  expect(testsList('      - generic: dns\n      - generic: interfaces\n')).toEqual([
    { kind: 'generic', path: 'dns', generic: ['dns'], timeout: 300 },
    { kind: 'generic', path: 'interfaces', generic: ['interfaces'], timeout: 300 },
  ]);
});
