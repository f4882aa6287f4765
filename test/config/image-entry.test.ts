import { LabelNotFoundError, loadImage, loadImageEntry } from '../../config';
import { TempTree } from './helpers';

describe("an image's entry as written (pytest's image_config)", () => {
  let tree: TempTree;
  let cwd: string;
  beforeEach(() => {
    tree = new TempTree();
    cwd = tree.dir('work');
  });
  afterEach(() => tree.remove());

  test('keeps the keys, paths and YAML values of the file, with nothing defaulted', () => {
    tree.write(
      'work/images.yaml',
      [
        'xenial:',
        '  filename: out/xenial.qcow2',
        '  glance:',
        '    name: Ubuntu 16.04',
        '    properties: { display_priority: 4, hw_qemu_guest_agent: yes }',
        '  nova: { active_timeout: 600 }',
        '  tests:',
        '    environment_name: emu',
        '    ssh: { username: ubuntu }',
        '    environment_variables: { GREETING: hello }',
        '    tests_list: [{ pytest: tests/xenial.py }]',
        '',
      ].join('\n'),
    );
    expect(loadImageEntry('xenial', { cwd })).toEqual({
      filename: 'out/xenial.qcow2',
      // YAML 1.1, as PyYAML read it for dibctl: yes is true
      glance: { name: 'Ubuntu 16.04', properties: { display_priority: 4, hw_qemu_guest_agent: true } },
      nova: { active_timeout: 600 },
      tests: {
        environment_name: 'emu',
        ssh: { username: 'ubuntu' },
        environment_variables: { GREETING: 'hello' },
        tests_list: [{ pytest: 'tests/xenial.py' }],
      },
    });
    // the view, by contrast, resolves and defaults
    expect(loadImage('xenial', { cwd }).file).toBe('images.yaml');
  });

  test('comes from the file that defines the label last, and an unknown label is exit 11', () => {
    tree.write('work/dibctl/images.yaml', 'a:\n  filename: first.img\n');
    tree.write('work/images.d/z.yaml', 'a:\n  filename: last.img\n');
    const warnings: string[] = [];
    expect(loadImageEntry('a', { cwd, onWarning: (w) => warnings.push(w) })).toEqual({ filename: 'last.img' });
    expect(warnings).toHaveLength(1);
    expect(() => loadImageEntry('b', { cwd })).toThrow(LabelNotFoundError);
  });
});
