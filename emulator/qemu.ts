/**
 * Real guests: each ACTIVE server is a QEMU virtual machine of its Glance image.
 * Its disk is a copy-on-write overlay of the image grown to the flavor's disk, it
 * has the flavor's RAM and vCPUs, a config drive with its metadata, one virtio NIC
 * per port (QEMU's user network on the port's subnet, with the port's MAC, the
 * fixed IP's ports 22 and 80 forwarded from the same address on the host), and
 * its serial console written to a file that `os-getConsoleOutput` reads. Images
 * that name a `kernel_id` (and `ramdisk_id`) boot that kernel directly with the
 * image's `os_command_line`, as Nova does; others boot from their disk.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DriveContents, writeConfigDrive } from './config-drive';
import { HostAddresses } from './host-addresses';

export interface QemuGuestSpec {
  id: string;
  drive: DriveContents;
  disk: { file: string; format: string; sizeBytes: number };
  kernel?: { file: string; ramdisk?: string; cmdline: string };
  ramMb: number;
  vcpus: number;
  /** The host port forwarded to the guest's port 22 on each fixed IP. */
  sshPort: number;
}

interface Vm {
  child: ChildProcess;
  /** Set when the emulator itself ends the VM (stop, reboot, delete). */
  stopping: boolean;
  exited: Promise<void>;
  addresses: string[];
}

const QEMU = 'qemu-system-x86_64';

/** Whether QEMU is installed, and what to install when not. */
export function qemuMissing(): string | undefined {
  for (const [tool, pkg] of [
    [QEMU, 'qemu-system-x86'],
    ['qemu-img', 'qemu-utils'],
    ['genisoimage', 'genisoimage'],
  ]) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error) return `${tool} is missing (apt-get install ${pkg})`;
  }
  return undefined;
}

let accel: Promise<'kvm' | 'tcg'> | undefined;

/**
 * KVM when it boots a kernel within a few seconds, else TCG (software emulation):
 * on some hosts /dev/kvm opens but guests hang before their first message.
 * `DIBCTL_GUEST_ACCEL=tcg|kvm` decides without probing.
 */
function chooseAccel(kernel: string | undefined): Promise<'kvm' | 'tcg'> {
  const forced = process.env.DIBCTL_GUEST_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return Promise.resolve(forced);
  accel ??= new Promise((resolve) => {
    if (!kernel || !fs.existsSync('/dev/kvm')) return resolve('tcg');
    const probe = spawn(
      QEMU,
      [
        ...['-accel', 'kvm', '-cpu', 'host', '-m', '256', '-nodefaults', '-no-user-config', '-display', 'none'],
        ...['-no-reboot', '-serial', 'stdio', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1'],
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    const done = (result: 'kvm' | 'tcg') => {
      clearTimeout(timer);
      probe.kill('SIGKILL');
      resolve(result);
    };
    const timer = setTimeout(() => done('tcg'), 5000);
    probe.stdout!.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.includes('Linux version')) done('kvm');
    });
    probe.on('error', () => done('tcg'));
    probe.on('exit', () => done(out.includes('Linux version') ? 'kvm' : 'tcg'));
  });
  return accel;
}

function run(tool: string, args: string[]): string {
  const r = spawnSync(tool, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`${tool}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${tool} ${args[0]}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/** The image's size as a disk (its virtual size for qcow2). */
function virtualSize(file: string, format: string): number {
  const info = JSON.parse(run('qemu-img', ['info', '--output=json', '-f', format, file])) as { 'virtual-size': number };
  return info['virtual-size'];
}

const qemuFormat = (diskFormat: string) => (diskFormat === 'qcow2' ? 'qcow2' : 'raw');

export class QemuGuests {
  private readonly vms = new Map<string, Vm>();
  private readonly addresses = new HostAddresses();

  constructor(
    private readonly root: string,
    /** Called when a VM ends by itself (the guest powered off or crashed). */
    private readonly onExit: (id: string) => void,
  ) {}

  private dir(id: string): string {
    return path.join(this.root, id);
  }

  has(id: string): boolean {
    return this.vms.has(id);
  }

  /** The serial console so far, as lines. */
  console(id: string): string[] {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir(id), 'console.log'), 'latin1');
    } catch {
      return [];
    }
    return text
      .replace(/\r/g, '')
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .split('\n');
  }

  /** Starts the VM; resolves once QEMU runs it (the guest boots on its own from there). */
  async start(spec: QemuGuestSpec): Promise<void> {
    await this.stop(spec.id);
    const dir = this.dir(spec.id);
    fs.mkdirSync(dir, { recursive: true });
    const overlay = path.join(dir, 'disk.qcow2');
    if (!fs.existsSync(overlay)) {
      const format = qemuFormat(spec.disk.format);
      const size = Math.max(spec.disk.sizeBytes, virtualSize(spec.disk.file, format));
      run('qemu-img', [
        ...['create', '-q', '-f', 'qcow2', '-F', format, '-b', path.resolve(spec.disk.file)],
        ...[overlay, String(size)],
      ]);
    }
    const iso = writeConfigDrive(dir, spec.drive);
    const ips = spec.drive.nics.map((n) => n.ip);
    for (const ip of ips) this.addresses.add(ip);
    const how = await chooseAccel(spec.kernel?.file);
    const args = [
      ...['-name', `guest=${spec.drive.name},debug-threads=on`, '-nodefaults', '-no-user-config'],
      ...['-machine', 'pc', '-accel', how === 'kvm' ? 'kvm' : 'tcg', '-cpu', how === 'kvm' ? 'host' : 'max'],
      ...['-m', String(spec.ramMb), '-smp', String(spec.vcpus), '-display', 'none', '-vga', 'none'],
      ...['-chardev', `file,id=console,path=${path.join(dir, 'console.log')},append=on`, '-serial', 'chardev:console'],
      ...['-object', 'rng-random,filename=/dev/urandom,id=rng0', '-device', 'virtio-rng-pci,rng=rng0'],
      ...['-drive', `file=${overlay},format=qcow2,if=virtio,cache=unsafe,discard=unmap`],
      ...['-drive', `file=${iso},format=raw,if=virtio,readonly=on,media=disk`],
      ...spec.drive.nics.flatMap((n, i) => {
        const [net, bits] = n.cidr.split('/');
        const dns = n.dns[0] ? `,dns=${n.dns[0]}` : '';
        const gateway = n.gateway ? `,host=${n.gateway}` : '';
        const forwards = [`tcp:${n.ip}:${spec.sshPort}-${n.ip}:22`, `tcp:${n.ip}:80-${n.ip}:80`];
        return [
          '-netdev',
          `user,id=net${i},net=${net}/${bits}${gateway}${dns},dhcpstart=${n.ip},${forwards.map((f) => `hostfwd=${f}`).join(',')}`,
          '-device',
          `virtio-net-pci,netdev=net${i},mac=${n.mac}`,
        ];
      }),
      ...(spec.kernel
        ? [
            ...['-kernel', spec.kernel.file, '-append', spec.kernel.cmdline],
            ...(spec.kernel.ramdisk ? ['-initrd', spec.kernel.ramdisk] : []),
          ]
        : []),
    ];
    // The VM ends with the process that started it, even when that one is killed
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', QEMU, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < 8192) stderr += d.toString();
    });
    const vm: Vm = {
      child,
      stopping: false,
      addresses: ips,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    this.vms.set(spec.id, vm);
    const early = await Promise.race([
      vm.exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 1000)),
      new Promise<true>((resolve) => child.once('error', () => resolve(true))),
    ]);
    if (early) {
      this.vms.delete(spec.id);
      for (const ip of ips) this.addresses.remove(ip);
      throw new Error(`QEMU did not start the guest: ${stderr.trim() || 'it exited at once'}`);
    }
    void vm.exited.then(() => {
      if (this.vms.get(spec.id) !== vm) return;
      this.vms.delete(spec.id);
      for (const ip of ips) this.addresses.remove(ip);
      if (!vm.stopping) this.onExit(spec.id);
    });
  }

  /** Ends the VM at once (the power is cut); with removeFiles its disk and console go too. */
  async stop(id: string, removeFiles = false): Promise<void> {
    const vm = this.vms.get(id);
    if (vm) {
      vm.stopping = true;
      this.vms.delete(id);
      vm.child.kill('SIGKILL');
      await vm.exited;
      for (const ip of vm.addresses) this.addresses.remove(ip);
    }
    if (removeFiles) fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.vms.keys()].map((id) => this.stop(id)));
    this.addresses.close();
  }
}
