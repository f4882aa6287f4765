/**
 * What a test runner receives about the booted instance, and what it returns.
 * Every framework (shell, pytest, ts, ssh, image, external) gets the same
 * context; the shapes follow dibctl's shell variables and pytest fixtures.
 * Nothing here is secret except the private key, which is a file path.
 */
import type { TestSpec } from '../../config/view';

export interface FlavorInfo {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  /** Flavor extra specs (DIBCTL_FLAVOR_META_<key>, `flavor_meta`). */
  extraSpecs: Record<string, string>;
}

/**
 * One interface of the instance (DIBCTL_IFACE_<n>_INFO, the `network` fixture):
 * Nova's interface record (GET /servers/{id}/os-interface), as dibctl's
 * novaclient `interface_list()` gave it, with the network's name and the
 * port's addresses from the server record. When the cloud refuses that
 * listing, only `network` and `addresses` (one interface per network).
 */
export interface InterfaceInfo {
  port_id?: string;
  net_id?: string;
  mac_addr?: string;
  port_state?: string;
  fixed_ips?: Array<{ subnet_id: string; ip_address: string }>;
  tag?: string | null;
  /** Network name (the key of the server's `addresses`); absent for a port with no address there. */
  network?: string;
  /** One record per address as Nova reports it: addr, version, OS-EXT-IPS:type, OS-EXT-IPS-MAC:mac_addr. */
  addresses: Array<Record<string, unknown>>;
}

export interface SshAccess {
  ip: string;
  username: string;
  port: number;
  /** Path of the private key file (0600), on the worker host. */
  privateKeyFile: string;
  /** Path of an ssh_config file for this instance. */
  configFile: string;
  /**
   * known_hosts (0600) pinning the instance's host keys: every connection
   * checks the host key against it. Absent: host keys are not checked
   * (`tests.ssh.host_key_check: off`).
   */
  knownHostsFile?: string;
  /**
   * `ssh -o UserKnownHostsFile=FILE -o StrictHostKeyChecking=yes -o PasswordAuthentication=no -i KEY user@ip`
   * (plus -p when not 22; `-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null` without known_hosts).
   */
  commandLine: string;
}

export interface PortWait {
  ip: string;
  port: number;
  /** Seconds allowed. */
  timeout: number;
  /** Seconds the wait took. */
  waited: number;
}

export interface InstanceTestContext {
  /** Nova's server record as returned by GET /servers/{id}. */
  instance: Record<string, unknown> & { id: string; name: string };
  flavor: FlavorInfo;
  ips: string[];
  ipsV4: string[];
  ipsV6: string[];
  mainIp: string;
  interfaces: InterfaceInfo[];
  ssh?: SshAccess;
  portWait?: PortWait;
  /** tests.environment_variables after merging (test env > image). */
  environmentVariables: Record<string, string>;
  /** tests.pass_environment of image and environment: the worker's variables the tests may see. */
  passEnvironment?: string[];
  /** Glance's record of the image under test. */
  imageInfo: Record<string, unknown> & { id: string };
  /** The images.yaml entry (plain view). */
  imageConfig: Record<string, unknown>;
  /** The images.yaml entry as written (snake_case keys, YAML values): pytest's `image_config`. */
  imageEntry: Record<string, unknown>;
  /** Absolute path of the image file on this host, when there is one. */
  imageFile?: string;
  /** Test environment label: runners that need cloud clients resolve credentials from it on the worker. */
  testEnvironment: string;
  /** Where the config files were read (so credentials resolve the same way on the worker). */
  configOptions: { cwd: string; imagesConfig?: string; testConfig?: string; uploadConfig?: string };
}

/**
 * One test case inside an entry, as a JUnit report lists it: a script of a
 * shell directory, a pytest test, a check of an image file.
 */
export interface TestCaseResult {
  /** e.g. `shell: /abs/tests/10-ping`, `pytest: test_net.py::test_dns`, `image: /abs/img.qcow2: format` */
  name: string;
  passed: boolean;
  /** Not run: an earlier failure stopped the entry. */
  skipped?: boolean;
  durationMs: number;
  /** Why it failed (or was skipped), in one line. */
  reason?: string;
  /** The end of a failed case's own output, scrubbed of known secrets. */
  output?: string;
}

export interface TestEntryResult {
  /** e.g. `shell: tests/00-ping` */
  name: string;
  framework: TestSpec['kind'] | 'ts' | 'external';
  passed: boolean;
  durationMs: number;
  /** Last part of the combined output (the full output is streamed live and kept in a log file). */
  outputTail: string;
  exitCode?: number | null;
  /** Why it failed, in one line: exit code, time limit, missing tool. */
  reason?: string;
  /** Log file with the full output, on the worker host. */
  logFile?: string;
  /** The entry's cases, when it has several (a shell directory, a pytest suite, image checks). */
  cases?: TestCaseResult[];
}
