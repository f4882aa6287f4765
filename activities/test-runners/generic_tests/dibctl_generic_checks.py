"""What dibctl's generic tests check on an instance, as functions over a testinfra
host, so that the reboot test can check the same properties again after the
reboot. Each failure says what was found, what was expected and where it comes
from."""

import json
import re

GIB = 1024 ** 3


def nova_hostname(name):
    """The hostname Nova derives from an instance's display name (sanitize_hostname)."""
    h = re.sub(r"[ _.]", "-", name)
    h = re.sub(r"[^\w-]+", "", h, flags=re.ASCII)
    h = h.lower().strip(".-")[:63]
    return h or "server"


def setting(environment_variables, name, default):
    """A knob of the generic tests, from tests.environment_variables (``generic_<name>``)."""
    return environment_variables.get("generic_%s" % name) or default


def root_filesystem_fills_disk(host, flavor):
    """The root file system spans the disk the flavor gives (cloud-init's growpart and resizefs)."""
    source = host.check_output("findmnt -n -o SOURCE /").strip()
    parent = host.check_output("lsblk -n -d -o PKNAME %s 2>/dev/null || true" % source).strip()
    disk = "/dev/%s" % parent if parent else source
    disk_bytes = int(host.check_output("lsblk -b -n -d -o SIZE %s" % disk).strip())
    fs_bytes = int(host.check_output("df -B1 --output=size / | tail -n 1").strip())
    gib = lambda n: "%.2f GiB" % (n / GIB)
    problems = []
    if flavor.disk and disk_bytes < flavor.disk * GIB:
        problems.append(
            "the root disk %s is %s, but the flavor %s gives %d GiB" % (disk, gib(disk_bytes), flavor.name, flavor.disk)
        )
    # ext4 keeps a few percent for its own structures; a file system left at the image's size is far below
    if fs_bytes < 0.9 * disk_bytes:
        problems.append(
            "the root file system on %s is %s of a %s disk: it was not grown at first boot "
            "(cloud-init's growpart and resizefs, or the image's own growroot)" % (source, gib(fs_bytes), gib(disk_bytes))
        )
    assert not problems, "; ".join(problems)


def _guest_interfaces(host):
    data = json.loads(host.check_output("ip -j address show"))
    out = {}
    for link in data:
        mac = (link.get("address") or "").lower()
        addrs = [a["local"] for a in link.get("addr_info", []) if a.get("scope") != "link"]
        out[link["ifname"]] = {"mac": mac, "addresses": addrs, "up": "UP" in link.get("flags", [])}
    return out


def interfaces_have_nova_addresses(host, network):
    """Every port Nova attached is an interface (by MAC) that is up and holds the port's addresses."""
    guest = _guest_interfaces(host)
    by_mac = {v["mac"]: (name, v) for name, v in guest.items() if v["mac"]}
    seen = ", ".join("%s %s %s" % (n, v["mac"], "/".join(v["addresses"]) or "no address") for n, v in guest.items())
    problems = []
    for iface in network:
        mac = (iface.get("mac_addr") or "").lower()
        wanted = [f["ip_address"] for f in (iface.get("fixed_ips") or [])]
        wanted = wanted or [a.get("addr") for a in (iface.get("addresses") or []) if a.get("addr")]
        where = "port %s on %s" % (iface.get("port_id") or "?", iface.get("network") or iface.get("net_id") or "?")
        if mac:
            found = by_mac.get(mac)
            if not found:
                problems.append("no interface has the MAC %s of %s" % (mac, where))
                continue
            name, v = found
        else:
            # a cloud that does not list interfaces: find the interface by address
            match = [(n, v) for n, v in guest.items() if set(wanted) & set(v["addresses"])]
            if not match:
                problems.append("no interface holds %s (%s)" % ("/".join(wanted), where))
                continue
            name, v = match[0]
        if not v["up"]:
            problems.append("%s (%s, %s) is down" % (name, mac or "?", where))
        missing = [ip for ip in wanted if ip not in v["addresses"]]
        if missing:
            problems.append(
                "%s (%s) lacks %s that Nova gave %s; it has %s"
                % (name, v["mac"], ", ".join(missing), where, ", ".join(v["addresses"]) or "no address")
            )
    assert not problems, "%s (the instance's interfaces: %s)" % ("; ".join(problems), seen)


def resolver_nameservers(host):
    """The nameservers the instance asks: resolv.conf's, or systemd-resolved's behind its stub."""
    conf = host.file("/etc/resolv.conf")
    assert conf.exists, "/etc/resolv.conf does not exist: no resolver is configured"
    servers = re.findall(r"^\s*nameserver\s+(\S+)", conf.content_string, re.M)
    if servers and all(s.startswith("127.0.0.5") for s in servers):
        upstream = re.findall(r"\s(\d+\.\d+\.\d+\.\d+)", host.run("resolvectl dns 2>/dev/null").stdout)
        assert upstream, (
            "resolv.conf points at systemd-resolved's stub (%s), which has no DNS server "
            "(resolvectl dns shows none): the network configuration carried no nameserver" % ", ".join(servers)
        )
        return upstream
    assert servers, "/etc/resolv.conf names no nameserver:\n%s" % conf.content_string.strip()
    return servers


def resolver_answers(host, name):
    """The configured resolver answers for a name that exists."""
    servers = resolver_nameservers(host)
    r = host.run("getent ahosts %s" % name)
    assert r.rc == 0 and r.stdout.strip(), (
        "the resolver (nameservers %s) gave no address for %s (getent exit %d); "
        "set generic_dns_name in tests.environment_variables to a name this cloud resolves"
        % (", ".join(servers), name, r.rc)
    )


def hostname_matches(host, instance):
    """The instance's hostname is what Nova derived from its name."""
    expected = nova_hostname(instance.name)
    actual = host.check_output("hostname").strip()
    short = actual.split(".")[0]
    assert short == expected, "the instance calls itself %r; Nova derives %r from its name %r" % (
        actual,
        expected,
        instance.name,
    )
