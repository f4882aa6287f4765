"""Generic test: a DNS resolver is configured and answers."""

from dibctl_generic_checks import resolver_answers, setting


def test_dns_resolver_is_configured_and_answers(ssh_backend, environment_variables):
    resolver_answers(ssh_backend, setting(environment_variables, "dns_name", "deb.debian.org"))
