/**
 * Config behaviour dibctl users rely on: the nova create request's default
 * limit, the larger port wait of image and environment, and an instance on
 * several networks without main_nic_regexp refused (by validate, and at boot).
 */
import { chooseMainIp } from '../../activities/image-test';
import { loadTestPlan } from '../../config';
import { runDibctl } from '../support/cli';
import { TempTree, envWithout } from './helpers';

const NET_A = '3a8f6c2e-1111-4a4a-9b9b-000000000001';
const NET_B = '3a8f6c2e-2222-4a4a-9b9b-000000000002';

describe('dibctl defaults and checks of image and test environment', () => {
  let tree: TempTree;
  let cwd: string;
  const env = () =>
    envWithout({ HOME: tree.path('home'), XDG_CONFIG_HOME: undefined, DIBCTL_SYSTEM_CONFIG_DIR: tree.path('no-etc') });
  const images = (portWait: number) =>
    `img:\n  filename: img.qcow2\n  tests:\n    environment_name: lab\n    port_wait_timeout: ${portWait}\n`;
  const testEnv = (nova: string, tests = '') =>
    `lab:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n  nova:\n    flavor: m1\n${nova}${tests}`;

  beforeEach(() => {
    tree = new TempTree();
    cwd = tree.dir('work');
    tree.write('work/upload.yaml', 'prod:\n  keystone:\n    auth_url: http://keystone.example:5000/v3\n');
  });
  afterEach(() => tree.remove());

  test('nova.create_timeout defaults to 360 s; tests.port_wait_timeout is the larger of image and environment', () => {
    tree.write('work/images.yaml', images(120));
    tree.write(
      'work/test.yaml',
      testEnv(`    nics: [{ net_id: ${NET_A} }]\n`, '  tests:\n    port_wait_timeout: 30\n'),
    );
    const plan = loadTestPlan('img', { cwd, env: env() });
    expect(plan.timeouts.createTimeout).toBe(360);
    expect(plan.timeouts.portWaitTimeout).toBe(120);
    tree.write(
      'work/test.yaml',
      testEnv(`    nics: [{ net_id: ${NET_A} }]\n`, '  tests:\n    port_wait_timeout: 200\n'),
    );
    expect(loadTestPlan('img', { cwd, env: env() }).timeouts.portWaitTimeout).toBe(200);
  });

  test('validate refuses several networks without nova.main_nic_regexp, naming the key to set', async () => {
    tree.write('work/images.yaml', images(61));
    tree.write('work/test.yaml', testEnv(`    nics: [{ net_id: ${NET_A} }, { net_id: ${NET_B} }]\n`));
    const r = await runDibctl(['validate'], { cwd, env: env() });
    expect(r.code).toBe(10);
    expect(r.stderr).toMatch(
      /test\.yaml:\d+:\d+: lab\.nova\.nics: 2 networks and no nova\.main_nic_regexp: set it to the name of the network/,
    );
    tree.write(
      'work/test.yaml',
      testEnv(`    nics: [{ net_id: ${NET_A} }, { net_id: ${NET_B} }]\n    main_nic_regexp: '^private$'\n`),
    );
    const fixed = await runDibctl(['validate'], { cwd, env: env() });
    expect(fixed.stderr).toBe('');
    expect(fixed.code).toBe(0);
  });

  test('an instance on several networks without main_nic_regexp is refused with the networks named', () => {
    const addresses = {
      public: [{ addr: '192.0.2.5', version: 4 as const }],
      private: [{ addr: '10.0.0.5', version: 4 as const }],
    };
    expect(() => chooseMainIp(addresses)).toThrow(
      "The instance is on several networks (public, private) and the test environment has no nova.main_nic_regexp: set it to the network dibctl reaches the instance on, e.g. main_nic_regexp: '^public$'",
    );
    expect(chooseMainIp({ private: addresses.private })).toBe('10.0.0.5');
  });
});
