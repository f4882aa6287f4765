import { ConfigError, ConfigKind, loadConfig } from '../../config';
import { TempTree } from './helpers';

interface Case {
  name: string;
  kind: ConfigKind;
  yaml: string;
  line: number;
  /** Key path in the message; undefined for a file that is not a mapping at all. */
  path?: string;
  says: string;
}

const IMG = 'img:\n  filename: a.qcow2\n';
const LAB = 'lab:\n  keystone: {}\n  nova:\n    flavor: m1\n';
const PROD = 'prod:\n  keystone: {}\n';

const cases: Case[] = [
  // images.yaml
  {
    name: 'filename that is a number',
    kind: 'images',
    yaml: 'img:\n  filename: 5\n',
    line: 2,
    path: 'img.filename',
    says: 'must be a path (got 5)',
  },
  {
    name: 'missing filename',
    kind: 'images',
    yaml: 'img:\n  dib:\n    elements: [ubuntu]\n',
    line: 2,
    path: 'img.filename',
    says: 'is required',
  },
  {
    name: 'misspelt top-level key',
    kind: 'images',
    yaml: IMG + '  fielname: b\n',
    line: 3,
    path: 'img.fielname',
    says: 'unknown key (did you mean filename?)',
  },
  {
    name: 'dib without elements',
    kind: 'images',
    yaml: IMG + '  dib:\n    cli_options: [-x]\n',
    line: 4,
    path: 'img.dib.elements',
    says: 'is required',
  },
  {
    name: 'empty element list',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements: []\n',
    line: 4,
    path: 'img.dib.elements',
    says: 'at least 1',
  },
  {
    name: 'repeated element',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements:\n      - ubuntu\n      - ubuntu\n',
    line: 6,
    path: 'img.dib.elements[1]',
    says: "duplicate entry 'ubuntu'",
  },
  {
    name: 'elements as a string',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements: ubuntu\n',
    line: 4,
    path: 'img.dib.elements',
    says: 'must be a list',
  },
  {
    name: 'dib environment variable that is a number',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements: [ubuntu]\n    environment_variables:\n      DIB_RELEASE: 7\n',
    line: 6,
    path: 'img.dib.environment_variables.DIB_RELEASE',
    says: 'must be a string (quote the value) (got 7)',
  },
  {
    name: 'repeated cli option',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements: [ubuntu]\n    cli_options: [--no-tmpfs, --no-tmpfs]\n',
    line: 5,
    path: 'img.dib.cli_options[1]',
    says: 'duplicate entry',
  },
  {
    name: 'min_version written as a number',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements: [ubuntu]\n    min_version: 1.2\n',
    line: 5,
    path: 'img.dib.min_version',
    says: 'must be a version X.Y.Z (quote it) (got 1.2)',
  },
  {
    name: 'max_version not X.Y.Z',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements: [ubuntu]\n    max_version: "2.x.0"\n',
    line: 5,
    path: 'img.dib.max_version',
    says: 'must be a version X.Y.Z (got "2.x.0")',
  },
  {
    name: 'negative min_ram',
    kind: 'images',
    yaml: IMG + '  glance:\n    min_ram: -1\n',
    line: 4,
    path: 'img.glance.min_ram',
    says: 'must be an integer >= 0 (got -1)',
  },
  {
    name: 'min-ram instead of min_ram',
    kind: 'images',
    yaml: IMG + '  glance:\n    min-ram: 512\n',
    line: 4,
    path: 'img.glance.min-ram',
    says: 'unknown key (did you mean min_ram?)',
  },
  {
    name: 'upload_timeout as text',
    kind: 'images',
    yaml: IMG + '  glance:\n    upload_timeout: fast\n',
    line: 4,
    path: 'img.glance.upload_timeout',
    says: 'must be an integer >= 0 (got "fast")',
  },
  {
    name: 'public as a sentence',
    kind: 'images',
    yaml: IMG + '  glance:\n    public: yes please\n',
    line: 4,
    path: 'img.glance.public',
    says: 'must be true or false',
  },
  {
    name: 'protected as a number',
    kind: 'images',
    yaml: IMG + '  glance:\n    protected: 1\n',
    line: 4,
    path: 'img.glance.protected',
    says: 'must be true or false (got 1)',
  },
  {
    name: 'properties as a list',
    kind: 'images',
    yaml: IMG + '  glance:\n    properties: [a, b]\n',
    line: 4,
    path: 'img.glance.properties',
    says: 'must be a mapping (got a list)',
  },
  {
    name: 'property without a value',
    kind: 'images',
    yaml: IMG + '  glance:\n    properties:\n      os_distro:\n',
    line: 5,
    path: 'img.glance.properties.os_distro',
    says: 'must be a string, number or boolean (got null)',
  },
  {
    name: 'tags as a string',
    kind: 'images',
    yaml: IMG + '  glance:\n    tags: nightly\n',
    line: 4,
    path: 'img.glance.tags',
    says: 'must be a list of strings',
  },
  {
    name: 'endpoint that is not a URL',
    kind: 'images',
    yaml: IMG + '  glance:\n    endpoint: glance.example\n',
    line: 4,
    path: 'img.glance.endpoint',
    says: 'must be an http(s) URL',
  },
  {
    name: 'glance api_version 3',
    kind: 'images',
    yaml: IMG + '  glance:\n    api_version: 3\n',
    line: 4,
    path: 'img.glance.api_version',
    says: 'must be 1 or 2 (got 3)',
  },
  {
    name: 'fractional create_timeout',
    kind: 'images',
    yaml: IMG + '  nova:\n    create_timeout: 1.5\n',
    line: 4,
    path: 'img.nova.create_timeout',
    says: 'must be an integer >= 0 (got 1.5)',
  },
  {
    name: 'negative active_timeout',
    kind: 'images',
    yaml: IMG + '  nova:\n    active_timeout: -5\n',
    line: 4,
    path: 'img.nova.active_timeout',
    says: 'must be an integer >= 0',
  },
  {
    name: 'flavor in the image nova section',
    kind: 'images',
    yaml: IMG + '  nova:\n    flavor: m1\n',
    line: 4,
    path: 'img.nova.flavor',
    says: 'unknown key',
  },
  {
    name: 'ssh section without username',
    kind: 'images',
    yaml: IMG + '  tests:\n    ssh:\n      port: 22\n',
    line: 5,
    path: 'img.tests.ssh.username',
    says: 'is required',
  },
  {
    name: 'ssh port out of range',
    kind: 'images',
    yaml: IMG + '  tests:\n    ssh:\n      username: root\n      port: 70000\n',
    line: 6,
    path: 'img.tests.ssh.port',
    says: 'must be an integer from 1 to 65535 (got 70000)',
  },
  {
    name: 'wait_for_port 0',
    kind: 'images',
    yaml: IMG + '  tests:\n    wait_for_port: 0\n',
    line: 4,
    path: 'img.tests.wait_for_port',
    says: 'from 1 to 65535 (got 0)',
  },
  {
    name: 'port_wait_timeout as a string',
    kind: 'images',
    yaml: IMG + '  tests:\n    port_wait_timeout: "61"\n',
    line: 4,
    path: 'img.tests.port_wait_timeout',
    says: 'must be a number of seconds >= 0 (got "61")',
  },
  {
    name: 'test entry with two kinds',
    kind: 'images',
    yaml: IMG + '  tests:\n    tests_list:\n      - shell: a.sh\n        pytest: b.py\n',
    line: 6,
    path: 'img.tests.tests_list[0].pytest',
    says: 'use one test kind per entry',
  },
  {
    name: 'test entry with only a timeout',
    kind: 'images',
    yaml: IMG + '  tests:\n    tests_list:\n      - timeout: 30\n',
    line: 5,
    path: 'img.tests.tests_list[0]',
    says: 'needs one of shell, pytest',
  },
  {
    name: 'old shell_runner key',
    kind: 'images',
    yaml: IMG + '  tests:\n    tests_list:\n      - shell_runner: a.sh\n',
    line: 5,
    path: 'img.tests.tests_list[0].shell_runner',
    says: 'unknown key',
  },
  {
    name: 'negative test timeout',
    kind: 'images',
    yaml: IMG + '  tests:\n    tests_list:\n      - shell: a.sh\n        timeout: -1\n',
    line: 6,
    path: 'img.tests.tests_list[0].timeout',
    says: 'must be an integer >= 0',
  },
  {
    name: 'tests environment variable that is a list',
    kind: 'images',
    yaml: IMG + '  tests:\n    environment_variables:\n      users: [a]\n',
    line: 5,
    path: 'img.tests.environment_variables.users',
    says: 'must be a string',
  },
  {
    name: 'external_build item without cmdline',
    kind: 'images',
    yaml: IMG + '  external_build:\n    - cmd: make\n',
    line: 4,
    path: 'img.external_build[0].cmd',
    says: 'unknown key',
  },
  {
    name: 'external_tests as a string',
    kind: 'images',
    yaml: IMG + '  external_tests: ./run.sh\n',
    line: 3,
    path: 'img.external_tests',
    says: 'must be a list of {cmdline: ...}',
  },
  {
    name: 'image label holding a number',
    kind: 'images',
    yaml: 'img: 3\n',
    line: 1,
    path: 'img',
    says: 'must be a mapping (got 3)',
  },
  {
    name: 'image label holding nothing',
    kind: 'images',
    yaml: IMG + 'other:\n',
    line: 3,
    path: 'other',
    says: 'must be a mapping (got null)',
  },
  // test.yaml
  {
    name: 'both flavor and flavor_id',
    kind: 'test',
    yaml: LAB + '    flavor_id: "30"\n',
    line: 5,
    path: 'lab.nova.flavor_id',
    says: 'use either flavor or flavor_id, not both',
  },
  {
    name: 'neither flavor nor flavor_id',
    kind: 'test',
    yaml: 'lab:\n  keystone: {}\n  nova:\n    config_drive: true\n',
    line: 4,
    path: 'lab.nova',
    says: 'needs flavor or flavor_id',
  },
  {
    name: 'net_id that is not a UUID',
    kind: 'test',
    yaml: LAB + '    nics:\n      - net_id: internet\n',
    line: 6,
    path: 'lab.nova.nics[0].net_id',
    says: 'must be a UUID (got "internet")',
  },
  {
    name: 'empty nics list',
    kind: 'test',
    yaml: LAB + '    nics: []\n',
    line: 5,
    path: 'lab.nova.nics',
    says: 'at least one nic',
  },
  {
    name: 'invalid fixed IPv4',
    kind: 'test',
    yaml: LAB + '    nics:\n      - net_id: fe2acef0-4383-4432-8fca-f9e23f835dd5\n        v4_fixed_ip: 300.1.1.1\n',
    line: 7,
    path: 'lab.nova.nics[0].v4_fixed_ip',
    says: 'must be an IPv4 address',
  },
  {
    name: 'port_id that is not a UUID',
    kind: 'test',
    yaml: LAB + '    nics:\n      - net_id: fe2acef0-4383-4432-8fca-f9e23f835dd5\n        port_id: 42\n',
    line: 7,
    path: 'lab.nova.nics[0].port_id',
    says: 'must be a UUID (got 42)',
  },
  {
    name: 'old net-id spelling',
    kind: 'test',
    yaml: LAB + '    nics:\n      - net-id: fe2acef0-4383-4432-8fca-f9e23f835dd5\n',
    line: 6,
    path: 'lab.nova.nics[0].net-id',
    says: 'unknown key (did you mean net_id?)',
  },
  {
    name: 'missing keystone section',
    kind: 'test',
    yaml: 'lab:\n  nova:\n    flavor: m1\n',
    line: 2,
    path: 'lab.keystone',
    says: 'is required',
  },
  {
    name: 'unknown keystone key',
    kind: 'test',
    yaml: 'lab:\n  keystone:\n    passwd: x\n  nova:\n    flavor: m1\n',
    line: 3,
    path: 'lab.keystone.passwd',
    says: 'unknown key',
  },
  {
    name: 'keystone api_version 4',
    kind: 'test',
    yaml: 'lab:\n  keystone:\n    api_version: 4\n  nova:\n    flavor: m1\n',
    line: 3,
    path: 'lab.keystone.api_version',
    says: 'must be 2 or 3',
  },
  {
    name: 'two aliases of the user name',
    kind: 'test',
    yaml: 'lab:\n  keystone:\n    username: a\n    USER: b\n  nova:\n    flavor: m1\n',
    line: 4,
    path: 'lab.keystone.USER',
    says: "sets the same value as 'username'",
  },
  {
    name: 'ssl_insecure as a word',
    kind: 'test',
    yaml: LAB + '  ssl_insecure: maybe\n',
    line: 5,
    path: 'lab.ssl_insecure',
    says: 'must be true or false (got "maybe")',
  },
  {
    name: 'test environment variable that is a number',
    kind: 'test',
    yaml: LAB + '  tests:\n    environment_variables:\n      FOO: 7\n',
    line: 7,
    path: 'lab.tests.environment_variables.FOO',
    says: 'must be a string',
  },
  {
    name: 'main_nic_regexp that does not compile',
    kind: 'test',
    yaml: LAB + '    main_nic_regexp: "inter(net"\n',
    line: 5,
    path: 'lab.nova.main_nic_regexp',
    says: 'must be a valid regular expression',
  },
  {
    name: 'both userdata and userdata_file',
    kind: 'test',
    yaml: LAB + '    userdata: "#cloud-config"\n    userdata_file: u.yaml\n',
    line: 6,
    path: 'lab.nova.userdata_file',
    says: 'not both',
  },
  {
    name: 'missing nova section',
    kind: 'test',
    yaml: 'lab:\n  keystone: {}\n',
    line: 2,
    path: 'lab.nova',
    says: 'is required',
  },
  {
    name: 'config_drive as a string',
    kind: 'test',
    yaml: LAB + '    config_drive: "true"\n',
    line: 5,
    path: 'lab.nova.config_drive',
    says: 'must be true or false',
  },
  // upload.yaml
  {
    name: 'preprocessing without output_filename',
    kind: 'upload',
    yaml: PROD + '  preprocessing:\n    cmdline: qemu-img convert\n',
    line: 4,
    path: 'prod.preprocessing.output_filename',
    says: 'is required',
  },
  {
    name: 'use_existing as a string',
    kind: 'upload',
    yaml: PROD + '  preprocessing:\n    cmdline: c\n    output_filename: o\n    use_existing: "no"\n',
    line: 6,
    path: 'prod.preprocessing.use_existing',
    says: 'must be true or false',
  },
  {
    name: 'external_upload item as a string',
    kind: 'upload',
    yaml: PROD + '  external_upload:\n    - ./upload.sh\n',
    line: 4,
    path: 'prod.external_upload[0]',
    says: 'must be a mapping with cmdline',
  },
  {
    name: 'share_with as a string',
    kind: 'upload',
    yaml: PROD + '  glance:\n    share_with: other-project\n',
    line: 4,
    path: 'prod.glance.share_with',
    says: 'must be a list of project names or ids',
  },
  {
    name: 'unknown upload key',
    kind: 'upload',
    yaml: PROD + '  glance_name: x\n',
    line: 3,
    path: 'prod.glance_name',
    says: 'unknown key',
  },
  {
    name: 'fractional min_disk',
    kind: 'upload',
    yaml: PROD + '  glance:\n    min_disk: 2.5\n',
    line: 4,
    path: 'prod.glance.min_disk',
    says: 'must be an integer >= 0 (got 2.5)',
  },
  {
    name: 'missing keystone in upload',
    kind: 'upload',
    yaml: 'prod:\n  glance: {}\n',
    line: 2,
    path: 'prod.keystone',
    says: 'is required',
  },
  // whole files
  {
    name: 'a file that is True',
    kind: 'upload',
    yaml: 'True\n',
    line: 1,
    says: 'must be a mapping of labels to environments (got true)',
  },
  {
    name: 'a file that is a string',
    kind: 'test',
    yaml: 'just some text\n',
    line: 1,
    says: 'must be a mapping of labels to environments (got "just some text")',
  },
  {
    name: 'a file that is a list',
    kind: 'images',
    yaml: '- filename: a\n- filename: b\n',
    line: 1,
    says: 'must be a mapping of labels to images (got a list)',
  },
  { name: 'an empty file', kind: 'images', yaml: '# nothing yet\n', line: 1, says: 'got an empty document' },
  {
    name: 'an unclosed flow list',
    kind: 'images',
    yaml: IMG + '  dib:\n    elements: [ubuntu, vm\n',
    line: 5,
    says: 'invalid YAML',
  },
  { name: 'bad indentation', kind: 'test', yaml: 'lab:\n  keystone: {}\n   nova: x\n', line: 3, says: 'invalid YAML' },
  {
    name: 'a key repeated in a section',
    kind: 'images',
    yaml: IMG + '  glance:\n    name: a\n    name: b\n',
    line: 5,
    path: 'img.glance.name',
    says: 'duplicate key (first defined on line 4)',
  },
  {
    name: 'a label repeated in one file',
    kind: 'upload',
    yaml: PROD + PROD,
    line: 3,
    path: 'prod',
    says: 'duplicate key (first defined on line 1)',
  },
];

describe('an invalid config is refused with exit 10 naming file, line and key path', () => {
  let tree: TempTree;
  beforeAll(() => (tree = new TempTree()));
  afterAll(() => tree.remove());

  test('the table holds at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  test.each(cases.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const dir = tree.dir(`case-${i}`);
    tree.write(`case-${i}/${c.kind}.yaml`, c.yaml);
    let error: unknown;
    try {
      loadConfig(c.kind, { cwd: dir, systemDir: tree.path('none') });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.exitCode).toBe(10);
    const prefix = `${c.kind}.yaml:${c.line}:`;
    const line = e.problems.find((p) => p.startsWith(prefix) && (c.path === undefined || p.includes(`: ${c.path}: `)));
    if (!line) throw new Error(`no problem at ${prefix} ${c.path ?? ''} among:\n${e.problems.join('\n')}`);
    expect(line).toMatch(/^[\w.]+\.yaml:\d+:\d+: /);
    expect(line).toContain(c.says);
    expect(line).not.toContain('\n');
  });
});
