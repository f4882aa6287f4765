"""Generic test: the root file system grew to the flavor's disk at first boot."""

from dibctl_generic_checks import root_filesystem_fills_disk


def test_root_filesystem_fills_the_flavor_disk(ssh_backend, flavor):
    root_filesystem_fills_disk(ssh_backend, flavor)
