"""Generic test: the hostname is Nova's derivation of the instance name."""

from dibctl_generic_checks import hostname_matches


def test_hostname_matches_the_instance_name(ssh_backend, instance):
    hostname_matches(ssh_backend, instance)
