"""Generic test: after a hard reboot through Nova the instance comes back, with the
same hostname, addresses and resolver. It runs last: it restarts the instance."""

import socket
import time

from dibctl_generic_checks import hostname_matches, interfaces_have_nova_addresses, resolver_nameservers, setting
from dibctl_pytest import ssh_backend_for


def _wait_active(nova, server_id, deadline):
    status = None
    while time.monotonic() < deadline:
        server = nova.servers.get(server_id)
        status = server.status
        if status == "ACTIVE":
            return
        assert status != "ERROR", "Nova put the instance in ERROR during the reboot: %s" % (
            getattr(server, "fault", None) or "no fault given"
        )
        time.sleep(2)
    raise AssertionError("the instance was still %s when the reboot time ran out" % status)


def _wait_for_ssh_banner(ip, port, deadline):
    """Until an SSH server greets on the address: an open port alone may be a NAT or
    proxy in front of an instance that is not up yet."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=5) as conn:
                conn.settimeout(10)
                if conn.recv(4) == b"SSH-":
                    return True
        except OSError:
            pass
        time.sleep(2)
    return False


def test_the_instance_comes_back_after_a_hard_reboot(ssh, ssh_backend, instance, nova, network, environment_variables):
    limit = float(setting(environment_variables, "reboot_timeout", 600))
    before = ssh_backend.check_output("cat /proc/sys/kernel/random/boot_id").strip()
    started = time.monotonic()
    deadline = started + limit
    instance.reboot("HARD")
    time.sleep(2)
    _wait_active(nova, instance.id, deadline)
    assert _wait_for_ssh_banner(ssh["ip"], int(ssh["port"]), deadline), (
        "SSH (%s:%s) did not answer within %ds of the hard reboot" % (ssh["ip"], ssh["port"], limit)
    )
    # sshd may accept TCP a moment before it takes logins
    host = None
    while host is None:
        try:
            host = ssh_backend_for(ssh)
            after = host.check_output("cat /proc/sys/kernel/random/boot_id").strip()
        except Exception:
            host = None
            if time.monotonic() > deadline:
                raise
            time.sleep(3)
    assert after != before, "the instance answered with the same boot id: it did not reboot"
    print("generic: back %.0fs after the hard reboot" % (time.monotonic() - started))
    hostname_matches(host, instance)
    interfaces_have_nova_addresses(host, network)
    resolver_nameservers(host)
