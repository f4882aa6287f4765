#!/usr/bin/env bash
# Builds the small Debian guest image that the emulator boots under QEMU (guests: 'qemu'):
# a partitionless ext4 root file system (compressed qcow2) with cloud-init, OpenSSH and
# systemd-networkd, plus the kernel and initramfs to boot it directly, as Nova does for
# images that name a kernel_id and ramdisk_id. Everything comes from Debian's mirror.
#
#   scripts/guest-image.sh [--force]       prints the directory that holds the image
#
# The result is cached in $DIBCTL_GUEST_IMAGE_DIR (default ~/.cache/dibctl/guest-image-v1)
# and rebuilt only with --force or when it is incomplete. Needs root (debootstrap).
set -euo pipefail

version=1
out="${DIBCTL_GUEST_IMAGE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dibctl/guest-image-v$version}"
mirror="${DIBCTL_GUEST_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm
size=1536M

if [ "${1:-}" != "--force" ] && [ -f "$out/ready" ]; then
  echo "$out"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "building the guest image needs root (debootstrap); run as root or set DIBCTL_GUEST_IMAGE_DIR to a built one" >&2
  exit 2
fi
for tool in debootstrap mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install debootstrap e2fsprogs qemu-utils" >&2; exit 2; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/dibctl-guest-image.XXXXXX")"
cleanup() {
  for m in proc sys dev/pts dev; do umount "$work/root/$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
root="$work/root"

packages=(
  linux-image-cloud-amd64 initramfs-tools
  systemd-sysv systemd-resolved udev dbus
  cloud-init cloud-guest-utils openssh-server sudo
  iproute2 netbase ca-certificates curl e2fsprogs
)
echo "debootstrap $suite from $mirror" >&2
debootstrap --variant=minbase "$suite" "$root" "$mirror" >&2
echo "deb $mirror $suite main" > "$root/etc/apt/sources.list"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
# no service starts inside the chroot
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
echo "installing ${packages[*]}" >&2
chroot "$root" env DEBIAN_FRONTEND=noninteractive sh -ec \
  "apt-get update -qq && apt-get install -y -qq --no-install-recommends $(echo "${packages[*]}")" >&2
rm -f "$root/usr/sbin/policy-rc.d"

# The disk is the root file system itself: no partition table, no boot loader
cat > "$root/etc/fstab" <<FSTAB
LABEL=dibctl-root / ext4 defaults,errors=remount-ro 0 1
FSTAB
rm -f "$root/etc/hostname" "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

cat > "$root/etc/cloud/cloud.cfg.d/90-dibctl-guest.cfg" <<CFG
# Metadata comes from the config drive; there is no metadata service to wait for
datasource_list: [ConfigDrive, None]
system_info:
  network:
    renderers: [networkd]
  default_user:
    name: debian
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
    lock_passwd: true
CFG

chroot "$root" /bin/sh -e <<'CHROOT' >&2
systemctl enable systemd-networkd systemd-resolved
ln -sf /run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
# what slows a first boot under emulation and serves no guest test
systemctl mask apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer 2>/dev/null || true
systemctl mask systemd-networkd-wait-online.service
# package lists, so that a test can install a package without downloading them first
apt-get update -qq
apt-get clean
update-initramfs -u -k all
CHROOT
for m in dev/pts dev sys proc; do umount "$root/$m"; done

mkdir -p "$work/out"
cp "$(readlink -f "$root/vmlinuz")" "$work/out/vmlinuz"
cp "$(readlink -f "$root/initrd.img")" "$work/out/initrd.img"
rm -rf "$root/boot"/* "$root/vmlinuz" "$root/vmlinuz.old" "$root/initrd.img" "$root/initrd.img.old"
mkfs.ext4 -q -L dibctl-root -d "$root" "$work/root.raw" "$size" >&2
qemu-img convert -c -f raw -O qcow2 "$work/root.raw" "$work/out/root.qcow2"
cat > "$work/out/image.json" <<JSON
{"version": $version, "suite": "$suite", "kernel": "vmlinuz", "ramdisk": "initrd.img", "disk": "root.qcow2",
 "disk_format": "qcow2", "os_command_line": "root=LABEL=dibctl-root ro console=ttyS0", "default_user": "debian"}
JSON
touch "$work/out/ready"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$work/out" "$out"
echo "$out"
