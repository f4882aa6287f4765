import path from 'node:path';
import { loadTestPlan, loadUploadPlan } from '../../config';
import { runDibctl } from '../support/cli';
import { TempTree, envWithout } from './helpers';

const IMAGES = `xenial:
  filename: xenial.img.qcow2
  glance:
    name: 'lab'
    upload_timeout: 900
    properties:
      display_priority: "4"
      allowed_flavors: "[3,4,5,6]"
      hw_qemu_guest_agent: yes
    public: False
    min_ram: 1024
    tags: [nightly]
  dib:
    environment_variables:
      DIB_APT_REPO: mirror.example.com
      DIB_RELEASE: xenial
    elements:
      - ubuntu
      - vm
    cli_options: [--no-tmpfs]
    min_version: 2.0.0
    max_version: 3.9.9
  nova:
    active_timeout: 600
  tests:
    ssh:
      username: ubuntu
    wait_for_port: 22
    port_wait_timeout: 30
    environment_name: example_env
    environment_variables:
      ssh_username: cloud-user
    tests_list:
      - shell: tests/shell.d/
        timeout: 300
      - pytest: tests/pytest/example.py
  external_tests:
    - cmdline: ./smoke.sh
`;

const TEST = `example_env:
  ssl_insecure: True
  ssl_ca_path: /etc/ssl/certs
  disable_warnings: False
  keystone:
    api_version: 2
    user_domain_id: default
    project_domain_id: default
  nova:
    flavor: "30"
    nics:
      - net_id: fe2acef0-4383-4432-8fca-f9e23f835dd5
        v4_fixed_ip: '192.168.0.1'
      - net_id: 631a37ed-8ab5-4463-aae0-eb06d841ee6a
        port_id: 4c7d017c-6d98-4ce3-b547-2c30be70bab1
      - net_id: db26f178-c617-47d2-928e-5ed3c0f34b43
    userdata_file: path/to/file
    config_drive: true
    main_nic_regexp: internet
    availability_zone: az2
    create_timeout: 10
    active_timeout: 999
    keypair_timeout: 5
    cleanup_timeout: 120
  tests:
    port_wait_timeout: 3000
    environment_variables:
      foo: bar
  glance:
    upload_timeout: 1666
    api_version: 1
    protected: True
    properties:
      key1: value1
      key2: value2
example_env2:
  keystone:
    auth_url: http://auth.example.com/
  nova:
    flavor_id: '30'
    nics:
    - net_id: fe2acef0-4383-4432-8fca-f9e23f835dd5
    userdata: '{"json": "here"}'
    availability_zone: 'az2'
`;

const UPLOAD = `non_production_environment:
  keystone:
    os_auth_url: https://auth.lab.example.com:5000/v2.0
    os_tenant_name: tenantname
    os_username: mock_user
    os_password: mock_password
  ssl_insecure: true
  glance:
    disk_format: raw
    share_with: [ops, qa]
  preprocessing:
    cmdline: qemu-img convert -O raw %(input_filename)s %(output_filename)s
    output_filename: '%(input_filename)s.raw'
    use_existing: true
us-1:
  keystone:
    auth_url: https://auth.us01.example.com:5000/v3
    project_name: tenantname
    username: mock_user
    password: mock_password
  external_upload:
    - cmdline: ./upload.sh %(input_filename)s
external_only:
  external_upload:
    - cmdline: ./upload.sh %(input_filename)s
`;

describe('configs in the shape of the reference load', () => {
  let tree: TempTree;
  let cwd: string;
  beforeAll(() => {
    tree = new TempTree();
    cwd = tree.dir('work');
    tree.write('work/images.yaml', IMAGES);
    tree.write('work/test.yaml', TEST);
    tree.write('work/upload.yaml', UPLOAD);
  });
  afterAll(() => tree.remove());
  const opts = () => ({ cwd, systemDir: tree.path('no-etc') });

  test('an image with its test environment merges into a plain object with defaults', () => {
    const plan = loadTestPlan('xenial', opts());
    expect(plan.image.filename).toBe(path.join(cwd, 'xenial.img.qcow2'));
    expect(plan.image.dib).toEqual({
      elements: ['ubuntu', 'vm'],
      environmentVariables: { DIB_APT_REPO: 'mirror.example.com', DIB_RELEASE: 'xenial' },
      cliOptions: ['--no-tmpfs'],
      minVersion: '2.0.0',
      maxVersion: '3.9.9',
    });
    expect(plan.image.tests.testsList).toEqual([
      { kind: 'shell', path: path.join(cwd, 'tests/shell.d'), timeout: 300 },
      { kind: 'pytest', path: path.join(cwd, 'tests/pytest/example.py'), timeout: 300 },
    ]);
    expect(plan.image.tests.ssh).toEqual({ username: 'ubuntu', port: 22, hostKeyCheck: 'console', keyType: 'rsa' });
    expect(plan.glance).toEqual({
      apiVersion: 1,
      name: 'lab',
      uploadTimeout: 1666,
      uploadStallTimeout: 120,
      properties: {
        display_priority: '4',
        allowed_flavors: '[3,4,5,6]',
        hw_qemu_guest_agent: 'true',
        key1: 'value1',
        key2: 'value2',
      },
      tags: ['nightly'],
      containerFormat: 'bare',
      diskFormat: 'qcow2',
      public: false,
      visibility: 'shared',
      minDisk: 0,
      minRam: 1024,
      protected: true,
      shareWith: [],
    });
    expect(plan.timeouts).toEqual({
      createTimeout: 10,
      activeTimeout: 999,
      keypairTimeout: 5,
      cleanupTimeout: 120,
      uploadTimeout: 1666,
      portWaitTimeout: 3000,
    });
    expect(plan.environmentVariables).toEqual({ ssh_username: 'cloud-user', foo: 'bar' });
    expect(plan.environment.nova.nics).toHaveLength(3);
    expect(plan.environment.nova.userdataFile).toBe(path.join(cwd, 'path/to/file'));
    expect(plan.environment.sslInsecure).toBe(true);
  });

  test('tests.ssh.host_key_check defaults to console; an unquoted off (a YAML 1.1 boolean) means off', () => {
    const images = (check: string) =>
      IMAGES.replace('      username: ubuntu\n', `      username: ubuntu\n      host_key_check: ${check}\n`);
    const cases: Array<[string, string]> = [
      ['off', 'off'],
      ['"off"', 'off'],
      ['no', 'off'],
      ['first-use', 'first-use'],
      ['console', 'console'],
      ['yes', 'console'],
    ];
    for (const [written, meant] of cases) {
      const dir = tree.dir(`check-${written.replace(/\W/g, '')}`);
      tree.write(path.relative(tree.path(), path.join(dir, 'images.yaml')), images(written));
      tree.write(path.relative(tree.path(), path.join(dir, 'test.yaml')), TEST);
      const plan = loadTestPlan('xenial', { cwd: dir, systemDir: tree.path('no-etc') });
      expect([written, plan.image.tests.ssh?.hostKeyCheck]).toEqual([written, meant]);
    }
  });

  test('the merged view survives JSON round trips unchanged and holds no keystone values', () => {
    const plan = loadTestPlan('xenial', { ...opts(), environment: 'example_env2' });
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    const upload = loadUploadPlan('xenial', 'non_production_environment', opts());
    const text = JSON.stringify(upload);
    expect(JSON.parse(text)).toEqual(upload);
    expect(text).not.toContain('mock_password');
    expect(text).not.toContain('mock_user');
    expect(text).not.toContain('keystone');
  });

  test('an upload environment keeps image name and merges formats and sharing', () => {
    const plan = loadUploadPlan('xenial', 'non_production_environment', opts());
    expect(plan.glance.name).toBe('lab');
    expect(plan.glance.diskFormat).toBe('raw');
    expect(plan.glance.shareWith).toEqual(['ops', 'qa']);
    expect(plan.environment.preprocessing).toEqual({
      cmdline: 'qemu-img convert -O raw %(input_filename)s %(output_filename)s',
      outputFilename: '%(input_filename)s.raw',
      useExisting: true,
      deleteProcessedAfterUpload: true,
    });
    expect(loadUploadPlan('xenial', 'us-1', opts()).environment.externalUpload).toEqual([
      './upload.sh %(input_filename)s',
    ]);
  });

  test('a test environment given explicitly replaces the image default, with default timeouts filled in', () => {
    const plan = loadTestPlan('xenial', { ...opts(), environment: 'example_env2' });
    expect(plan.environment.label).toBe('example_env2');
    expect(plan.environment.nova.flavorId).toBe('30');
    expect(plan.timeouts).toEqual({
      createTimeout: 360,
      activeTimeout: 600,
      keypairTimeout: 10,
      cleanupTimeout: 60,
      uploadTimeout: 900,
      portWaitTimeout: 30,
    });
  });

  test('dibctl validate accepts them once the files they name exist', async () => {
    tree.write('work/tests/shell.d/10-ping', '#!/bin/sh\ntrue\n');
    tree.write('work/tests/pytest/example.py', 'def test_nothing():\n    pass\n');
    tree.write('work/path/to/file', '#cloud-config\n');
    const r = await runDibctl(['validate'], {
      cwd,
      env: envWithout({
        HOME: tree.path('home'),
        XDG_CONFIG_HOME: undefined,
        DIBCTL_SYSTEM_CONFIG_DIR: tree.path('no-etc'),
      }),
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('upload: 3 labels (non_production_environment, us-1, external_only)');
    expect(r.code).toBe(0);
  });
});
