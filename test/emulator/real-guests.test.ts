/**
 * The parts of real guests that need no VM: what the config drive holds (in
 * Nova's shapes), the ISO cloud-init finds by its label, how a server's QEMU
 * guest is made up from the cloud's state, and the host addresses of guests.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DriveContents, metaData, networkData, writeConfigDrive } from '../../emulator/config-drive';
import { HostAddresses } from '../../emulator/host-addresses';
import { qemuSpec } from '../../emulator/qemu-spec';
import { seedState } from '../../emulator/seed';
import { Image, Server } from '../../emulator/state';

const DRIVE: DriveContents = {
  uuid: '6f0c1f7c-9b8e-4a57-9d44-2f1f4e1d8a11',
  name: 'DIBCTL-web_1',
  hostname: 'dibctl-web-1',
  projectId: 'p1',
  availabilityZone: 'nova',
  metadata: { role: 'test' },
  keypair: { name: 'k1', publicKey: 'ssh-ed25519 AAAAC3Nza k1' },
  userData: Buffer.from('#cloud-config\nhostname: x\n').toString('base64'),
  nics: [
    {
      portId: '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9',
      networkId: 'n1',
      mac: 'fa:16:3e:00:00:01',
      mtu: 1450,
      ip: '10.70.1.23',
      cidr: '10.70.1.0/24',
      gateway: '10.70.1.1',
      dns: ['10.70.1.2'],
    },
    {
      portId: '1a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9',
      networkId: 'n2',
      mac: 'fa:16:3e:00:00:02',
      mtu: 1450,
      ip: '10.71.0.40',
      cidr: '10.71.0.0/16',
      gateway: null,
      dns: [],
    },
  ],
};

describe('config drive', () => {
  it("holds Nova's meta_data.json: the hostname with Nova's domain, the keypair twice, the metadata", () => {
    expect(metaData(DRIVE)).toEqual({
      uuid: DRIVE.uuid,
      name: 'DIBCTL-web_1',
      hostname: 'dibctl-web-1.novalocal',
      launch_index: 0,
      availability_zone: 'nova',
      project_id: 'p1',
      meta: { role: 'test' },
      public_keys: { k1: 'ssh-ed25519 AAAAC3Nza k1' },
      keys: [{ name: 'k1', type: 'ssh', data: 'ssh-ed25519 AAAAC3Nza k1' }],
      devices: [],
      dedicated_cpus: [],
    });
  });

  it("holds Nova's network_data.json: a link per port by MAC, a static network per link, DNS as services", () => {
    expect(networkData(DRIVE)).toEqual({
      links: [
        {
          id: 'tap0a1b2c3d-4e',
          vif_id: DRIVE.nics[0].portId,
          type: 'ovs',
          mtu: 1450,
          ethernet_mac_address: 'fa:16:3e:00:00:01',
        },
        {
          id: 'tap1a1b2c3d-4e',
          vif_id: DRIVE.nics[1].portId,
          type: 'ovs',
          mtu: 1450,
          ethernet_mac_address: 'fa:16:3e:00:00:02',
        },
      ],
      networks: [
        {
          id: 'network0',
          type: 'ipv4',
          link: 'tap0a1b2c3d-4e',
          ip_address: '10.70.1.23',
          netmask: '255.255.255.0',
          routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.70.1.1' }],
          network_id: 'n1',
          services: [{ type: 'dns', address: '10.70.1.2' }],
        },
        {
          id: 'network1',
          type: 'ipv4',
          link: 'tap1a1b2c3d-4e',
          ip_address: '10.71.0.40',
          netmask: '255.255.0.0',
          routes: [],
          network_id: 'n2',
          services: [],
        },
      ],
      services: [{ type: 'dns', address: '10.70.1.2' }],
    });
  });

  const isoinfo = spawnSync('isoinfo', ['--version'], { stdio: 'ignore' }).error ? it.skip : it;
  isoinfo('is an ISO 9660 volume labelled config-2 with the files under openstack/latest', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dibctl-config-drive-'));
    try {
      const iso = writeConfigDrive(dir, DRIVE);
      const info = spawnSync('isoinfo', ['-d', '-i', iso], { encoding: 'utf8' }).stdout;
      expect(info).toMatch(/^Volume id: config-2$/m);
      const files = spawnSync('isoinfo', ['-f', '-R', '-i', iso], { encoding: 'utf8' }).stdout.split('\n').sort();
      expect(files).toEqual(
        expect.arrayContaining([
          '/openstack/latest/meta_data.json',
          '/openstack/latest/network_data.json',
          '/openstack/latest/user_data',
          '/openstack/latest/vendor_data.json',
        ]),
      );
      const userData = spawnSync('isoinfo', ['-R', '-i', iso, '-x', '/openstack/latest/user_data'], {
        encoding: 'utf8',
      });
      expect(userData.stdout).toBe('#cloud-config\nhostname: x\n');
      // the files it was made from do not stay beside it
      expect(fs.readdirSync(dir)).toEqual(['config-drive.iso']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a server's QEMU guest", () => {
  const image = (id: string, props: Record<string, string> = {}, file: string | null = `f-${id}`): Image =>
    ({ id, name: id, disk_format: 'qcow2', properties: props, file: file ?? undefined }) as unknown as Image;

  function cloudWith(realGuests: boolean) {
    const state = seedState(['R'], realGuests);
    const rs = state.regions.R;
    const net = rs.networks[0];
    const subnet = rs.subnets.find((s) => s.network_id === net.id)!;
    const ip = subnet.cidr.replace('.0/24', '.20');
    rs.ports.push({
      id: 'port-1',
      name: '',
      network_id: net.id,
      project_id: 'p',
      mac_address: 'fa:16:3e:aa:bb:cc',
      fixed_ips: [{ subnet_id: subnet.id, ip_address: ip }],
      device_id: 's1',
      device_owner: 'compute:nova',
      status: 'ACTIVE',
      admin_state_up: true,
      created_at: '',
      updated_at: '',
    });
    const server = {
      id: 's1',
      name: 'web',
      hostname: 'web',
      project_id: 'p',
      user_id: 'u',
      image_id: 'disk',
      flavor_id: '3',
      key_name: null,
      addresses: [{ network_id: net.id, network_name: net.name, port_id: 'port-1', ip, mac: 'fa:16:3e:aa:bb:cc' }],
      metadata: {},
      availability_zone: 'nova',
      user_data: null,
    } as unknown as Server;
    return { rs, server, subnet, ip };
  }

  it("boots the kernel and initramfs the image names, with its command line, the flavor's size and the port's network", () => {
    const { rs, server, subnet, ip } = cloudWith(true);
    rs.images.push(
      image('disk', { kernel_id: 'k', ramdisk_id: 'r', os_command_line: 'root=LABEL=x ro console=ttyS0' }),
      image('k'),
      image('r'),
    );
    const spec = qemuSpec(rs, '/data', server, 'R/s1', 22);
    expect(spec.kernel).toEqual({ file: '/data/f-k', ramdisk: '/data/f-r', cmdline: 'root=LABEL=x ro console=ttyS0' });
    expect(spec.disk).toEqual({ file: '/data/f-disk', format: 'qcow2', sizeBytes: 40 * 1024 ** 3 });
    expect(spec.ramMb).toBe(4096);
    expect(spec.vcpus).toBe(Math.min(2, os.cpus().length));
    expect(spec.drive.nics).toEqual([
      expect.objectContaining({
        ip,
        mac: 'fa:16:3e:aa:bb:cc',
        cidr: subnet.cidr,
        gateway: subnet.gateway_ip,
        dns: subnet.dns_nameservers,
      }),
    ]);
    expect(subnet.dns_nameservers).toHaveLength(1);
  });

  it('boots from its disk when the image names no kernel, and refuses an image without data', () => {
    const { rs, server } = cloudWith(true);
    rs.images.push(image('disk'));
    expect(qemuSpec(rs, '/data', server, 'R/s1', 22).kernel).toBeUndefined();
    rs.images[0] = image('disk', { kernel_id: 'gone' });
    expect(() => qemuSpec(rs, '/data', server, 'R/s1', 22)).toThrow('the kernel gone of the image does not exist');
    rs.images[0] = image('disk', {}, null);
    expect(() => qemuSpec(rs, '/data', server, 'R/s1', 22)).toThrow('the image disk has no data');
  });

  it("refuses a network of loopback addresses, which a guest's NIC cannot carry", () => {
    const { rs, server } = cloudWith(false);
    rs.images.push(image('disk'));
    expect(() => qemuSpec(rs, '/data', server, 'R/s1', 22)).toThrow(/has loopback addresses \(127\.[\d.]+\/24\)/);
  });
});

const root = process.getuid?.() === 0 && !spawnSync('ip', ['-V'], { stdio: 'ignore' }).error;
(root ? describe : describe.skip)('host addresses of real guests (root)', () => {
  const onLo = () => spawnSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout;
  const localRoute = (ip: string) =>
    spawnSync('ip', ['route', 'show', 'table', 'local', ip], { encoding: 'utf8' }).stdout.trim();

  it('removes what dead emulators left, makes each address reachable from 127.0.0.1, and takes it back', async () => {
    // an emulator that died without cleaning up: its pid is gone, its address is still there
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    const stale = '10.251.7.7';
    spawnSync('ip', ['addr', 'add', `${stale}/32`, 'dev', 'lo', 'label', `lo:dg${dead.pid}`]);
    expect(onLo()).toContain(stale);

    const addresses = new HostAddresses();
    const ip = '10.251.7.8';
    try {
      addresses.add(ip);
      expect(onLo()).not.toContain(stale);
      expect(onLo()).toMatch(new RegExp(`inet ${ip.replace(/\./g, '\\.')}/32 .*lo:dg${process.pid}`));
      expect(localRoute(ip)).toMatch(/src 127\.0\.0\.1/);
      addresses.remove(ip);
      expect(onLo()).not.toContain(ip);
      expect(localRoute(ip)).toBe('');
    } finally {
      addresses.close();
      spawnSync('ip', ['addr', 'del', `${stale}/32`, 'dev', 'lo']);
    }
  });
});
