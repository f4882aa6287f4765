/**
 * The command line as dibctl's users type it: argparse's exit code 2 for every
 * usage error, `validate -i FILE`, `rotate-single LABEL ENV` and the refusal of
 * a shell for an image without `tests.ssh`. Every case here fails before any
 * Temporal session starts.
 */
import { runDibctl } from '../support/cli';
import { TempTree, envWithout } from './helpers';

const IMAGES = [
  'base:',
  '  filename: base.qcow2',
  '  glance: {name: Base Image}',
  '  tests:',
  '    environment_name: lab',
  '    ssh: {username: cirros}',
  'nossh:',
  '  filename: base.qcow2',
  '  tests:',
  '    environment_name: lab',
  '',
].join('\n');
const TEST =
  'lab:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n    username: u\n    password: p-secret\n    project_name: p\n  nova:\n    flavor: m1\n    nics: [{net_id: 7d4c8a9e-3b1f-4a5c-9d2e-6f8b0c1a2e3d}]\n';
const UPLOAD =
  'prod:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n    username: u\n    password: p-secret\n    project_name: p\n';

describe('dibctl command line, as dibctl users type it', () => {
  let tree: TempTree;
  let cwd: string;
  const env = () =>
    envWithout({
      HOME: tree.path('home'),
      XDG_CONFIG_HOME: undefined,
      DIBCTL_SYSTEM_CONFIG_DIR: tree.path('no-etc'),
      // nothing here may reach a Temporal server: a session would fail on this address
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
  const dibctl = (...args: string[]) => runDibctl(args, { cwd, env: env() });

  beforeEach(() => {
    tree = new TempTree();
    cwd = tree.dir('work');
    tree.write('work/images.yaml', IMAGES);
    tree.write('work/test.yaml', TEST);
    tree.write('work/upload.yaml', UPLOAD);
    tree.write('work/base.qcow2', 'not really an image, 32 bytes..\n');
  });
  afterEach(() => tree.remove());

  describe('usage errors exit 2, as argparse does', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['no command at all', [], /Usage: dibctl/],
      ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
      ['an unknown global option', ['--frob', 'validate'], /unknown option '--frob'/],
      ['build without its label', ['build'], /missing required argument 'label'/],
      ['test with an unknown option', ['test', 'base', '--frob'], /unknown option '--frob'/],
      ['shell without its label', ['shell'], /missing required argument 'label'/],
      ['upload without its environment', ['upload', 'base'], /missing required argument 'env'/],
      ['mark-obsolete without the image id', ['mark-obsolete', 'prod'], /missing required argument 'uuid'/],
      ['rotate without its environment', ['rotate'], /missing required argument 'env'/],
      ['rotate-single with one argument', ['rotate-single', 'base'], /missing required argument 'env'/],
      ['rotate with one argument too many', ['rotate', 'prod', 'base'], /too many arguments/],
      ['transfer without the image id', ['transfer'], /missing required argument 'uuid'/],
      ['validate with an unknown option', ['validate', '--frob'], /unknown option '--frob'/],
      ['validate -i without its file', ['validate', '-i'], /option '-i, --input <file>' argument missing/],
      ['test --environment without its value', ['test', 'base', '--environment'], /argument missing/],
      ['run without --upload-env', ['run', 'base'], /Name at least one --upload-env/],
      [
        'run --junit-xml with --no-test',
        ['run', 'base', '--upload-env', 'prod', '--no-test', '--junit-xml', 'r.xml'],
        /--junit-xml reports the tests, which --no-test skips/,
      ],
      ['a schedule group without its subcommand', ['schedule'], /Usage: dibctl schedule/],
      ['an invalid port number', ['server', '--port', '70000'], /must be a port number/],
      ['an invalid --hold-limit', ['test', 'base', '--hold-limit', 'soon'], /must be a positive number of seconds/],
      [
        '--upload-only with --use-existing-instance',
        ['test', 'base', '--upload-only', '--use-existing-instance', 'x', '--private-key-file', 'base.qcow2'],
        /--upload-only and --use-existing-instance exclude each other/,
      ],
      [
        '--use-existing-instance without --private-key-file',
        ['test', 'base', '--use-existing-instance', 'x'],
        /--use-existing-instance needs --private-key-file/,
      ],
    ];
    it.each(cases)('%s', async (_what, args, message) => {
      const r = await dibctl(...args);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(2);
    });

    it('help and --version still exit 0', async () => {
      expect((await dibctl('--help')).code).toBe(0);
      expect((await dibctl('help', 'test')).code).toBe(0);
      expect((await dibctl('--version')).code).toBe(0);
    });
  });

  describe('validate -i FILE', () => {
    it('accepts the image file as test and upload do, checks it exists and names it', async () => {
      const r = await dibctl('validate', '-i', 'base.qcow2');
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`Image file ${tree.path('work/base.qcow2')}: 32 bytes`);
      expect(r.stdout.trimEnd().endsWith('Configs have been validated.')).toBe(true);
      expect(r.code).toBe(0);
      const long = await dibctl('validate', 'base', '--input', 'base.qcow2');
      expect(long.code).toBe(0);
    });

    it('a missing file is an error naming it (exit 1), not a usage error', async () => {
      const r = await dibctl('validate', '-i', 'gone.qcow2');
      expect(r.stderr).toBe('Error: -i gone.qcow2: no such image file\n');
      expect(r.code).toBe(1);
    });

    it('still checks the configs first: an invalid config exits 10', async () => {
      tree.write('work/upload.yaml', 'prod:\n  keystone: {}\n  glance:\n    min-ram: 1\n');
      const r = await dibctl('validate', '-i', 'base.qcow2');
      expect(r.code).toBe(10);
    });
  });

  describe('rotate-single LABEL ENV', () => {
    it('given the other way round, names the right order and exits 2 before anything runs', async () => {
      const r = await dibctl('rotate-single', 'prod', 'base', '--dry-run');
      expect(r.stderr).toBe(
        "Error: 'prod' is an upload environment and 'base' an image: the image label comes first, as for upload\n" +
          'Next step: dibctl rotate-single base prod\n',
      );
      expect(r.code).toBe(2);
    });
  });

  describe('a shell needs the image to say how to log in', () => {
    it('dibctl shell on an image without tests.ssh exits 1 with a clear message', async () => {
      const r = await dibctl('shell', 'nossh');
      expect(r.stderr).toBe(
        "Error: Image 'nossh' has no tests.ssh section (username, port): dibctl shell cannot log in to its instance\n" +
          "Next step: add tests.ssh with the image's login user (username:) to 'nossh' in images.yaml\n",
      );
      expect(r.code).toBe(1);
    });

    it('test --shell on such an image too', async () => {
      const r = await dibctl('test', 'nossh', '--shell');
      expect(r.stderr).toMatch(/^Error: Image 'nossh' has no tests.ssh section .*test --shell cannot log in/);
      expect(r.code).toBe(1);
    });
  });
});
