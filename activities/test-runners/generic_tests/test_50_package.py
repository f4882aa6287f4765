"""Generic test: a user can install a web server from the distribution and reach port 80."""

import time
import urllib.error
import urllib.request

from dibctl_generic_checks import setting

# how each package manager installs without asking; the first present wins
MANAGERS = [
    ("apt-get", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q %s", "apt-get update -q"),
    ("dnf", "dnf install -y -q %s", None),
    ("yum", "yum install -y -q %s", None),
    ("zypper", "zypper --non-interactive install %s", "zypper --non-interactive refresh"),
    ("apk", "apk add %s", "apk update"),
]


def _install(host, package):
    for tool, install, refresh in MANAGERS:
        if host.exists(tool):
            cmd = "sudo -n sh -c '%s'" % (install % package)
            r = host.run(cmd)
            if r.rc != 0 and refresh:
                # the image's package lists may be older than the mirror
                host.run("sudo -n sh -c '%s'" % refresh)
                r = host.run(cmd)
            assert r.rc == 0, "%s could not install %s (exit %d): %s" % (
                tool,
                package,
                r.rc,
                (r.stderr or r.stdout).strip()[-800:],
            )
            return tool
    raise AssertionError("no package manager found (looked for %s)" % ", ".join(m[0] for m in MANAGERS))


def _http_status(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, None
    except urllib.error.HTTPError as err:
        return err.code, None
    except OSError as err:
        return None, err


def test_a_package_installs_and_serves_port_80(ssh_backend, main_ip, environment_variables):
    package = setting(environment_variables, "package", "nginx")
    _install(ssh_backend, package)
    ssh_backend.run("sudo -n systemctl enable --now %s 2>/dev/null || sudo -n service %s start" % (package, package))
    assert ssh_backend.socket("tcp://0.0.0.0:80").is_listening or ssh_backend.socket("tcp://:::80").is_listening, (
        "%s is installed but nothing listens on port 80 inside the instance" % package
    )
    url = "http://%s/" % (main_ip if ":" not in main_ip else "[%s]" % main_ip)
    deadline = time.monotonic() + 30
    status, err = _http_status(url, 5)
    while status is None and time.monotonic() < deadline:
        time.sleep(1)
        status, err = _http_status(url, 5)
    assert status is not None, (
        "%s listens on port 80 inside the instance, but %s does not answer from here (%s): "
        "a firewall in the image or the test environment's security groups block it" % (package, url, err)
    )
