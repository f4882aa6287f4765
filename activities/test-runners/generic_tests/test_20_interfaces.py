"""Generic test: every interface is configured with the addresses Nova gave it."""

from dibctl_generic_checks import interfaces_have_nova_addresses


def test_every_interface_has_novas_addresses(ssh_backend, network):
    interfaces_have_nova_addresses(ssh_backend, network)
