import path from 'node:path';
import { ConfigError, LabelNotFoundError, configFiles, loadConfig, loadImage } from '../../config';
import { TempTree } from './helpers';

const image = (file: string) => `filename: ${file}\n`;
const entry = (label: string, file: string) => `${label}:\n  ${image(file)}`;

describe('config files are found in six places, least to highest priority', () => {
  let tree: TempTree;
  let cwd: string;
  let sys: string;
  beforeEach(() => {
    tree = new TempTree();
    cwd = tree.dir('work');
    sys = tree.dir('etc-dibctl');
  });
  afterEach(() => tree.remove());

  test('all six places are read in order, snippets by name', () => {
    tree.write('etc-dibctl/images.yaml', entry('a', 'etc.img'));
    tree.write('etc-dibctl/images.d/20-b.yaml', entry('b', 'etc-d-20.img'));
    tree.write('etc-dibctl/images.d/10-b.yaml', entry('b', 'etc-d-10.img'));
    tree.write('etc-dibctl/images.d/notes.txt', 'not yaml');
    tree.write('work/dibctl/images.yaml', entry('c', 'dibctl.img'));
    tree.write('work/dibctl/images.d/x.yaml', entry('d', 'dibctl-d.img'));
    tree.write('work/images.yaml', entry('e', 'cwd.img'));
    tree.write('work/images.d/y.yaml', entry('f', 'cwd-d.img'));
    const files = configFiles('images', { cwd, systemDir: sys });
    expect(files).toEqual([
      path.join(sys, 'images.yaml'),
      path.join(sys, 'images.d', '10-b.yaml'),
      path.join(sys, 'images.d', '20-b.yaml'),
      path.join(cwd, 'dibctl', 'images.yaml'),
      path.join(cwd, 'dibctl', 'images.d', 'x.yaml'),
      path.join(cwd, 'images.yaml'),
      path.join(cwd, 'images.d', 'y.yaml'),
    ]);
    const loaded = loadConfig('images', { cwd, systemDir: sys });
    expect([...loaded.entries.keys()]).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(loaded.entries.get('b')?.value.filename).toBe('etc-d-20.img');
    expect(loaded.files.slice(3)).toEqual([
      'dibctl/images.yaml',
      'dibctl/images.d/x.yaml',
      'images.yaml',
      'images.d/y.yaml',
    ]);
  });

  test('a later file replaces a label and the warning names both files', () => {
    tree.write('etc-dibctl/test.yaml', 'lab:\n  keystone: {}\n  nova: {flavor: small}\n');
    tree.write('work/test.d/50-lab.yaml', 'lab:\n  keystone: {}\n  nova: {flavor: large}\n');
    const loaded = loadConfig('test', { cwd, systemDir: sys });
    expect(loaded.entries.get('lab')?.value.nova.flavor).toBe('large');
    expect(loaded.entries.get('lab')?.file).toBe('test.d/50-lab.yaml');
    expect(loaded.warnings).toEqual([
      `Warning: test label 'lab' from ${path.join(sys, 'test.yaml')} is replaced by the one in test.d/50-lab.yaml`,
    ]);
  });

  test('the DIBCTL_SYSTEM_CONFIG_DIR variable moves the system directory', () => {
    tree.write('etc-dibctl/upload.yaml', 'prod:\n  keystone: {}\n');
    expect(configFiles('upload', { cwd, env: { DIBCTL_SYSTEM_CONFIG_DIR: sys } })).toEqual([
      path.join(sys, 'upload.yaml'),
    ]);
  });

  test('an explicit file is used alone', () => {
    tree.write('work/images.yaml', entry('a', 'a.img'));
    tree.write('work/images.d/b.yaml', entry('b', 'b.img'));
    tree.write('work/other/mine.yaml', entry('mine', 'mine.img'));
    const loaded = loadConfig('images', { cwd, systemDir: sys, explicitFile: 'other/mine.yaml' });
    expect([...loaded.entries.keys()]).toEqual(['mine']);
    expect(loaded.files).toEqual(['other/mine.yaml']);
  });

  test('an explicit file that does not exist is exit 10', () => {
    expect(() => loadConfig('images', { cwd, systemDir: sys, explicitFile: 'missing.yaml' })).toThrow(
      expect.objectContaining({ exitCode: 10, message: 'missing.yaml: no such config file' }),
    );
  });

  test('no file anywhere is exit 10 listing where it looked', () => {
    let err: unknown;
    try {
      loadConfig('upload', { cwd, systemDir: sys });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(10);
    expect((err as ConfigError).message).toContain(path.join(sys, 'upload.yaml'));
    expect((err as ConfigError).message).toContain('upload.d/*.yaml');
  });

  test('every invalid file is reported, not only the first', () => {
    tree.write('work/images.yaml', 'a:\n  filename: 1\n');
    tree.write('work/images.d/b.yaml', 'b:\n  filename: b\n  dib: {}\n');
    let err: ConfigError | undefined;
    try {
      loadConfig('images', { cwd, systemDir: sys });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.problems).toEqual([
      'images.yaml:2:13: a.filename: must be a path (got 1)',
      'images.d/b.yaml:3:8: b.dib.elements: is required',
    ]);
  });

  test('an unknown label is exit 11 and lists the labels that exist', () => {
    tree.write('work/images.yaml', entry('focal', 'f.img') + entry('jammy', 'j.img'));
    let err: unknown;
    try {
      loadImage('noble', { cwd, systemDir: sys });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LabelNotFoundError);
    expect((err as LabelNotFoundError).exitCode).toBe(11);
    expect((err as LabelNotFoundError).message).toBe(
      "Unable to find image 'noble' in images.yaml (known labels: focal, jammy)",
    );
  });

  test('relative paths inside configs resolve against the working directory, and -i/-o replaces filename', () => {
    tree.write(
      'work/dibctl/images.yaml',
      'img:\n  filename: out/img.qcow2\n  dib:\n    elements: [vm]\n    environment_variables:\n      ELEMENTS_PATH: "elements:/opt/elements"\n',
    );
    const img = loadImage('img', { cwd, systemDir: sys });
    expect(img.filename).toBe(path.join(cwd, 'out/img.qcow2'));
    expect(img.dib?.environmentVariables.ELEMENTS_PATH).toBe(`${path.join(cwd, 'elements')}:/opt/elements`);
    expect(loadImage('img', { cwd, systemDir: sys, filename: '/tmp/other.img' }).filename).toBe('/tmp/other.img');
  });

  test('warnings reach the onWarning callback', () => {
    tree.write('work/images.yaml', entry('a', 'one.img'));
    tree.write('work/images.d/a.yaml', entry('a', 'two.img'));
    const seen: string[] = [];
    expect(loadImage('a', { cwd, systemDir: sys, onWarning: (w) => seen.push(w) }).filename).toBe(
      path.join(cwd, 'two.img'),
    );
    expect(seen).toEqual(["Warning: images label 'a' from images.yaml is replaced by the one in images.d/a.yaml"]);
  });
});
