/**
 * dibctl test on real guests: the guest image boots under QEMU with a config
 * drive, cloud-init sets it up, dibctl pins the host keys its console prints and
 * runs every generic test on it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeGuests, useGuestCloud } from './support';

/** Each JUnit case of a report: its name and, when it failed, its message. */
function junitCases(file: string): Array<{ name: string; failure?: string }> {
  const xml = fs.readFileSync(file, 'utf8');
  return [...xml.matchAll(/<testcase [^>]*name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => {
    const failure = /<failure message="([^"]*)"/.exec(m[2] ?? '');
    return { name: m[1], ...(failure ? { failure: failure[1] } : {}) };
  });
}

const GENERIC_CASES = [
  'test_10_root_filesystem.py::test_root_filesystem_fills_the_flavor_disk',
  'test_20_interfaces.py::test_every_interface_has_novas_addresses',
  'test_30_dns.py::test_dns_resolver_is_configured_and_answers',
  'test_40_hostname.py::test_hostname_matches_the_instance_name',
  'test_50_package.py::test_a_package_installs_and_serves_port_80',
  'test_90_reboot.py::test_the_instance_comes_back_after_a_hard_reboot',
];

describeGuests('generic tests on real guests', () => {
  const cloud = useGuestCloud();

  it('dibctl test passes every generic test on a guest of the test image and removes everything', async () => {
    const p = cloud.project({ guest: {} }, { good: {} });
    const r = await cloud.test(p, 'guest');
    const output = r.stdout + r.stderr;
    expect({ code: r.code, output }).toMatchObject({ code: 0 });
    // the host keys came from the guest's own console, printed there by cloud-init
    expect(output).toMatch(/Host keys of \S+ from its console log: .*ED25519/);
    const cases = junitCases(path.join(p.dir, 'guest.xml'));
    for (const name of GENERIC_CASES) expect(cases).toContainEqual({ name: expect.stringContaining(name) });
    expect(cases.filter((c) => c.failure)).toEqual([]);
    expect(cloud.leftovers()).toEqual({ servers: [], keypairs: [], images: [] });
  });

  it('broken guests fail and leave nothing: each generic test says why (exit 80); an image whose cloud-init never runs exits 71', async () => {
    const prefix = cloud.emu().networks[cloud.emu().regions[0]].cidr.split('.').slice(0, 3).join('.');
    // cloud-config that breaks one property per generic test, before sshd starts (bootcmd runs first)
    const userdata = [
      '#cloud-config',
      'hostname: not-the-instance-name',
      'resize_rootfs: false',
      'bootcmd:',
      // once every interface has its address, take down those not on the main network
      `  - [sh, -c, "n=$(ls /sys/class/net | grep -vc '^lo$'); for i in $(seq 120); do [ $(ip -4 -o addr show scope global | wc -l) -ge $n ] && break; sleep 1; done; for d in /sys/class/net/*; do i=\${d##*/}; [ $i = lo ] && continue; ip -4 -o addr show dev $i | grep -q ' ${prefix}[.]' || ip link set $i down; done"]`,
      '  - [sh, -c, "rm -f /etc/resolv.conf && : > /etc/resolv.conf"]',
      `  - [sh, -c, "echo 'deb http://127.0.0.1:9/debian bookworm main' > /etc/apt/sources.list && rm -rf /var/lib/apt/lists/*"]`,
      // from the second boot on, no SSH
      '  - [sh, -c, "if [ -e /var/lib/dibctl-booted ]; then systemctl mask ssh.service ssh.socket; fi; touch /var/lib/dibctl-booted"]',
      '',
    ].join('\n');
    const p = cloud.project(
      {
        broken: { environment: 'broken', environmentVariables: { generic_reboot_timeout: '150' } },
        // cloud-init=disabled on the kernel command line: no keys, no host keys, so no sshd
        nocloud: { environment: 'good', commandLineExtra: 'cloud-init=disabled', portWaitTimeout: 60 },
      },
      { broken: { userdata }, good: {} },
    );
    // the second guest mostly waits for an SSH server that never comes: both run at once
    const [r, nocloud] = await Promise.all([cloud.test(p, 'broken'), cloud.test(p, 'nocloud')]);
    expect({ code: r.code, output: r.stdout + r.stderr }).toMatchObject({ code: 80 });
    const cases = junitCases(path.join(p.dir, 'broken.xml'));
    const failure = (name: string) => cases.find((c) => c.name.includes(name))?.failure ?? '(passed or missing)';
    expect(failure('root_filesystem')).toMatch(
      /root file system on \S+ is [\d.]+ GiB of a 20.00 GiB disk: it was not grown/,
    );
    expect(failure('interfaces')).toMatch(/is down/);
    expect(failure('dns')).toMatch(/\/etc\/resolv.conf names no nameserver/);
    expect(failure('hostname')).toMatch(/the instance calls itself 'not-the-instance-name'; Nova derives 'dibctl-/);
    expect(failure('package')).toMatch(/apt-get could not install nginx/);
    expect(failure('reboot')).toMatch(/SSH \(\S+:22\) did not answer within 150s of the hard reboot/);
    expect({ code: nocloud.code, output: nocloud.stdout + nocloud.stderr }).toMatchObject({ code: 71 });
    expect(nocloud.stderr).toMatch(/No SSH server answered on \S+:22 .* so its host key could not be learned/);
    expect(cloud.leftovers()).toEqual({ servers: [], keypairs: [], images: [] });
  });
});
