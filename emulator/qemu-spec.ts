/** What a server's QEMU guest is made of, read from the region's state: image, kernel, flavor, keypair, ports. */
import os from 'node:os';
import path from 'node:path';
import { DriveNic } from './config-drive';
import { QemuGuestSpec } from './qemu';
import { Image, RegionState, Server } from './state';

const GiB = 1024 ** 3;
/** What Nova's libvirt driver boots a kernel with when the image has no os_command_line. */
const DEFAULT_COMMAND_LINE = 'root=/dev/vda console=tty0 console=ttyS0';

export function qemuSpec(rs: RegionState, dataDir: string, s: Server, id: string, sshPort: number): QemuGuestSpec {
  const dataOf = (img: Image | undefined, what: string): string => {
    if (!img) throw new Error(`the ${what} does not exist`);
    if (!img.file) throw new Error(`the ${what} ${img.id} has no data`);
    return path.join(dataDir, img.file);
  };
  const image = rs.images.find((i) => i.id === s.image_id);
  const file = dataOf(image, 'image');
  const flavor = rs.flavors.find((f) => f.id === s.flavor_id);
  if (!flavor) throw new Error(`flavor ${s.flavor_id} does not exist`);
  const kernelId = image!.properties.kernel_id;
  const ramdiskId = image!.properties.ramdisk_id;
  const kernel = kernelId
    ? {
        file: dataOf(
          rs.images.find((i) => i.id === kernelId),
          `kernel ${kernelId} of the image`,
        ),
        ramdisk: ramdiskId
          ? dataOf(
              rs.images.find((i) => i.id === ramdiskId),
              `ramdisk ${ramdiskId} of the image`,
            )
          : undefined,
        cmdline: image!.properties.os_command_line || DEFAULT_COMMAND_LINE,
      }
    : undefined;
  const nics: DriveNic[] = s.addresses.map((a) => {
    const port = rs.ports.find((p) => p.id === a.port_id);
    const subnet = rs.subnets.find((x) => x.id === port?.fixed_ips[0]?.subnet_id);
    const network = rs.networks.find((n) => n.id === a.network_id);
    if (!port || !subnet || !network) throw new Error(`port ${a.port_id} of the server is gone`);
    if (subnet.cidr.startsWith('127.'))
      throw new Error(
        `network ${network.name} has loopback addresses (${subnet.cidr}), which a guest's NIC cannot carry: ` +
          'real guests need networks with private addresses (a fresh emulator state with real guests has them)',
      );
    return {
      portId: port.id,
      networkId: network.id,
      mac: a.mac,
      mtu: network.mtu,
      ip: a.ip,
      cidr: subnet.cidr,
      gateway: subnet.gateway_ip || null,
      dns: subnet.dns_nameservers,
    };
  });
  const keypair = s.key_name ? rs.keypairs.find((k) => k.name === s.key_name && k.user_id === s.user_id) : undefined;
  return {
    id,
    drive: {
      uuid: s.id,
      name: s.name,
      hostname: s.hostname,
      projectId: s.project_id,
      availabilityZone: s.availability_zone,
      metadata: s.metadata,
      keypair: keypair ? { name: keypair.name, publicKey: keypair.public_key } : undefined,
      userData: s.user_data,
      nics,
    },
    disk: { file, format: image!.disk_format ?? 'raw', sizeBytes: flavor.disk * GiB },
    kernel,
    ramMb: flavor.ram,
    vcpus: Math.max(1, Math.min(flavor.vcpus, os.cpus().length)),
    sshPort,
  };
}
