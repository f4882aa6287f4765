"""dibctl's pytest fixtures, for test suites written for dibctl.

dibctl runs ``python3 -m pytest -p dibctl_pytest -v -s -x PATH`` with the path of a
private (0600) JSON file in ``DIBCTL_TEST_DATA``: the instance, flavor,
addresses, SSH access, image, environment variables and, when the test
environment's credentials could be resolved, the cloud's auth settings. The
file is deleted when pytest ends. Nothing secret is passed on the command line.
Every SSH connection the fixtures make or hand out accepts only the host keys
dibctl pinned for the instance (its known_hosts), unless host key checking is
off in the image's ``tests.ssh.host_key_check``.

Fixtures (same names and shapes as dibctl's): instance, flavor, flavor_meta,
ips, ips_v4, ips_v6, main_ip, network, ssh, ssh_backend, ssh_client,
wait_for_port, port, environment_variables, image_info, image_config,
console_output, nova, glance.
"""

import functools
import io
import json
import os
import socket
import sys
import time
import urllib.parse

import pytest

DATA_VARIABLE = "DIBCTL_TEST_DATA"


class Record(dict):
    """A JSON object that also answers attribute access (``instance.name``),
    as the novaclient/glanceclient resources dibctl handed out did."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self):
        return dict(self)

    @property
    def _info(self):
        return dict(self)


def _server_networks(record):
    """``{network name: [addresses]}`` from a server record, as novaclient's Server.networks."""
    nets = {}
    for name, addrs in (record.get("addresses") or {}).items():
        nets[name] = [a.get("addr") for a in addrs]
    return nets


def _novaclient_server_class():
    try:
        from novaclient.v2.servers import Server
    except ImportError:
        return None
    return Server


_MISSING = object()


class Instance(object):
    """The test instance as dibctl handed it out, a novaclient Server: Nova's
    record as attributes (``instance.name``, ``instance.status``,
    ``instance.networks``, ``instance.flavor``, ``instance.image``...) or keys
    (``instance['id']``), and the server's calls (``reboot()``,
    ``get_console_output()``, ``interface_list()``, ``get()`` to refresh the
    record, and every other method of novaclient's Server), made on Nova with
    the test environment's credentials."""

    def __init__(self, info):
        self._record = _record(info)
        self._server = None

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        record = self.__dict__.get("_record") or {}
        if name in record:
            return record[name]
        server_class = _novaclient_server_class()
        if server_class is None:
            raise AttributeError(
                "instance.%s: not in Nova's record of the instance, and the server's calls need the "
                "Python module 'novaclient', which is not installed (Debian: apt-get install python3-novaclient)"
                % name
            )
        if name != "manager" and not hasattr(server_class, name):
            raise AttributeError(
                "instance.%s: neither a key of Nova's record of the instance (%s) nor a call of novaclient's Server"
                % (name, ", ".join(sorted(record)))
            )
        return getattr(self._nova_server("instance.%s" % name), name)

    def _nova_server(self, purpose):
        """novaclient's Server for this instance, on the test environment's Nova."""
        if self._server is None:
            nova = _nova_client(purpose)
            server_class = _novaclient_server_class()
            self._server = server_class(nova.servers, json.loads(json.dumps(self._record)), loaded=True)
        return self._server

    @property
    def networks(self):
        return _server_networks(self._record)

    @property
    def _info(self):
        return dict(self._record)

    def to_dict(self):
        return json.loads(json.dumps(self._record))

    def reboot(self, reboot_type="SOFT"):
        """Reboots the instance (``'SOFT'`` or ``'HARD'``); Nova answers at once, the
        instance is back once ``get()`` shows it ACTIVE and its SSH port answers."""
        return self._nova_server("instance.reboot()").reboot(reboot_type)

    def get_console_output(self, length=None):
        return self._nova_server("instance.get_console_output()").get_console_output(length)

    def interface_list(self):
        return self._nova_server("instance.interface_list()").interface_list()

    def get(self, key=_MISSING, default=None):
        """``get()`` re-reads the record from Nova (novaclient's refresh);
        ``get(key[, default])`` reads a key of the record, as a dict's get."""
        if key is not _MISSING:
            return self._record.get(key, default)
        fresh = _nova_client("instance.get()").servers.get(self._record["id"])
        self._record = _record(fresh.to_dict())
        self._server = fresh

    def __getitem__(self, key):
        return self._record[key]

    def __contains__(self, key):
        return key in self._record

    def keys(self):
        return self._record.keys()

    def __eq__(self, other):
        if isinstance(other, Instance):
            return self._record == other._record
        if isinstance(other, dict):
            return self._record == other
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return "<Server: %s>" % self._record.get("name")


class Flavor(Record):
    def get_keys(self):
        return dict(self.get("extra_specs") or {})


def _record(value, cls=Record):
    if isinstance(value, dict):
        return cls({k: _record(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_record(v) for v in value]
    return value


def _load():
    path = os.environ.get(DATA_VARIABLE)
    if not path:
        raise pytest.UsageError(
            "dibctl_pytest: %s is not set; run these tests with 'dibctl test'" % DATA_VARIABLE
        )
    with open(path) as f:
        return json.load(f)


_DATA = None


def _data():
    global _DATA
    if _DATA is None:
        _DATA = _load()
    return _DATA


def _context():
    return _data()["context"]


def _need(module, package, who="this fixture"):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        pytest.fail(
            "%s needs the Python module '%s', which is not installed "
            "(Debian: apt-get install %s)" % (who, module, package),
            pytrace=False,
        )


CASES_VARIABLE = "DIBCTL_PYTEST_CASES"


def pytest_runtest_logreport(report):
    """Appends each phase of each test (setup, call, teardown) as a JSON line
    to the file named by DIBCTL_PYTEST_CASES: dibctl's JUnit report lists
    every test with its outcome, time and, on failure, its own output."""
    path = os.environ.get(CASES_VARIABLE)
    if not path:
        return
    text = ""
    if report.failed:
        parts = [report.longreprtext or ""]
        for title, content in report.sections:
            parts.append("----- %s -----\n%s" % (title, content))
        text = "\n".join(p for p in parts if p)
    elif report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        text = str(report.longrepr[2])
    line = {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "duration": report.duration,
        "text": text[-8192:],
        "crash": str(getattr(getattr(report.longrepr, "reprcrash", None), "message", "") or "")[:1024],
    }
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


class _Tee(object):
    """A sys.stdout/sys.stderr that writes through and keeps a copy."""

    def __init__(self, real):
        self._real = real
        self._copy = io.StringIO()

    def write(self, text):
        self._copy.write(text)
        return self._real.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._real.flush()

    def text(self):
        return self._copy.getvalue()

    def __getattr__(self, name):
        return getattr(self._real, name)


def _tee_phase(item, when):
    """With -s (output shown as it happens, as dibctl ran pytest) pytest keeps no
    copy of a test's output; this keeps what the test prints through sys.stdout
    and sys.stderr as the phase's report sections, so a failed test's report
    still carries its own output."""
    if item.config.getoption("capture") != "no":
        yield
        return
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out._real, err._real
        for key, tee in (("stdout", out), ("stderr", err)):
            if tee.text():
                item.add_report_section(when, key, tee.text())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _tee_phase(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _tee_phase(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield from _tee_phase(item, "teardown")


def pytest_report_header(config):
    if not os.environ.get(DATA_VARIABLE):
        return None
    ctx = _context()
    return "dibctl: instance %s (%s), main ip %s" % (
        ctx["instance"].get("name"),
        ctx["instance"].get("id"),
        ctx.get("mainIp"),
    )


@pytest.fixture(scope="session")
def instance():
    """The test instance: Nova's record and the calls of novaclient's Server (see Instance)."""
    return Instance(_context()["instance"])


@pytest.fixture(scope="session")
def flavor():
    f = _context()["flavor"]
    return Flavor(
        id=f["id"],
        name=f["name"],
        ram=f["ram"],
        vcpus=f["vcpus"],
        disk=f["disk"],
        extra_specs=dict(f.get("extraSpecs") or {}),
    )


@pytest.fixture(scope="session")
def flavor_meta(flavor):
    return flavor.get_keys()


@pytest.fixture(scope="session")
def ips():
    return list(_context()["ips"])


@pytest.fixture(scope="session")
def ips_v4():
    return list(_context()["ipsV4"])


@pytest.fixture(scope="session")
def ips_v6():
    return list(_context()["ipsV6"])


@pytest.fixture(scope="session")
def main_ip():
    return _context()["mainIp"]


@pytest.fixture(scope="session")
def network():
    """The instance's interfaces, as novaclient's interface_list() gave them to dibctl:
    Nova's records (port_id, mac_addr, net_id, fixed_ips, port_state) with the
    network name and the port's addresses ({network, addresses} per network
    when the cloud does not list interfaces)."""
    return _record(_context()["interfaces"])


@pytest.fixture(scope="session")
def environment_variables():
    """The test process's environment with tests.environment_variables over it
    (test environment's over the image's), as dibctl merged them."""
    merged = {k: v for k, v in os.environ.items() if k not in (DATA_VARIABLE, CASES_VARIABLE)}
    merged.update(_context().get("environmentVariables") or {})
    return merged


@pytest.fixture(scope="session")
def image_info():
    """Glance's record of the image under test."""
    return _record(_context()["imageInfo"])


@pytest.fixture(scope="session")
def image_config():
    """The image's entry as written in images.yaml (its keys and YAML values)."""
    entry = _context().get("imageEntry")
    if entry is None:
        pytest.fail("the test data carries no images.yaml entry for the image", pytrace=False)
    return entry


@pytest.fixture(scope="session")
def ssh():
    s = _context().get("ssh")
    if not s:
        pytest.fail("the image has no tests.ssh section: no SSH access to the instance", pytrace=False)
    port = int(s["port"])
    host = "[%s]" % s["ip"] if ":" in s["ip"] else s["ip"]
    user_host = "%s@%s" % (urllib.parse.quote(s["username"], safe=""), host)
    return {
        "ip": s["ip"],
        "username": s["username"],
        "port": port,
        "private_key_file": s["privateKeyFile"],
        "config": s["configFile"],
        "known_hosts": s.get("knownHostsFile"),
        # the words of the ssh command, for subprocess: ssh["command_line"] + ["uname", "-a"]
        "command_line": list(_data().get("sshCommandWords") or []),
        # a testinfra host spec: testinfra.get_host(ssh["connector"], ssh_config=ssh["config"])
        "connector": "ssh://%s" % (user_host if port == 22 else "%s:%d" % (user_host, port)),
        "key_name": _context()["instance"].get("key_name"),
    }


def _pin_host_keys(paramiko, client, known_hosts):
    """Makes a paramiko client accept only the host keys dibctl pinned for the
    instance (``known_hosts`` None: host keys are not checked, as configured)."""
    if known_hosts:
        client.load_host_keys(known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())


def _pinned_paramiko_backend(ssh):
    """testinfra's paramiko backend, connecting with the ``ssh`` fixture's values
    and checking the host key against the instance's known_hosts."""
    paramiko = _need("paramiko", "python3-paramiko")
    _need("testinfra", "python3-testinfra")
    import testinfra.host
    from testinfra.backend.paramiko import ParamikoBackend

    class PinnedParamikoBackend(ParamikoBackend):
        @functools.cached_property
        def client(self):
            client = paramiko.SSHClient()
            _pin_host_keys(paramiko, client, ssh["known_hosts"])
            client.connect(
                ssh["ip"],
                port=int(ssh["port"]),
                username=ssh["username"],
                key_filename=ssh["private_key_file"],
                timeout=self.timeout,
                look_for_keys=False,
                allow_agent=False,
            )
            return client

    backend = PinnedParamikoBackend(
        "%s@%s:%s" % (ssh["username"], ssh["ip"], ssh["port"]),
        ssh_config=ssh["config"],
        ssh_identity_file=ssh["private_key_file"],
    )
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    return host


def ssh_backend_for(ssh):
    """A new testinfra host on the instance from the ``ssh`` fixture's values (a fresh
    connection, e.g. after the instance rebooted), pinned as ``ssh_backend`` is."""
    return _pinned_paramiko_backend(ssh)


@pytest.fixture(scope="session")
def ssh_backend(ssh):
    """A testinfra host on the instance, over SSH (paramiko), that accepts only
    the host keys dibctl pinned for the instance."""
    return _pinned_paramiko_backend(ssh)


@pytest.fixture
def ssh_client():
    """A paramiko client (connect it with the ``ssh`` fixture's values) that
    knows the instance's pinned host keys and rejects any other; a plain one
    when host keys are not checked."""
    paramiko = _need("paramiko", "python3-paramiko")
    client = paramiko.SSHClient()
    known_hosts = (_context().get("ssh") or {}).get("knownHostsFile")
    if known_hosts:
        _pin_host_keys(paramiko, client, known_hosts)
    yield client
    client.close()


def _port_open(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def wait_for_port(main_ip):
    """``wait_for_port(port=22, timeout=60)``: True once the port accepts TCP on the main IP."""

    def wait(port=22, timeout=60, host=None):
        deadline = time.monotonic() + timeout
        while True:
            if _port_open(host or main_ip, port, min(3, max(timeout, 0.1))):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)

    return wait


@pytest.fixture(scope="session")
def port():
    """The wait for tests.wait_for_port: {ip, port, timeout, wait_time} (``delay``, as
    dibctl's documentation named it, is the same), or None when none was asked."""
    p = _context().get("portWait")
    if not p:
        return None
    return {"ip": p["ip"], "port": p["port"], "timeout": p["timeout"], "wait_time": p["waited"], "delay": p["waited"]}


def _session(who="this fixture"):
    cloud = _data().get("cloud")
    if not cloud:
        reason = _data().get("cloudError") or "no credentials for the test environment"
        if who == "this fixture":
            pytest.fail("no cloud client: %s" % reason, pytrace=False)
        pytest.fail("%s calls Nova, but there is no cloud client: %s" % (who, reason), pytrace=False)
    _need("keystoneauth1", "python3-keystoneauth1", who)
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import generic, v3

    url = cloud["authUrl"]
    if cloud.get("applicationCredentialSecret"):
        auth = v3.ApplicationCredential(
            auth_url=url,
            application_credential_id=cloud.get("applicationCredentialId"),
            application_credential_name=cloud.get("applicationCredentialName"),
            application_credential_secret=cloud["applicationCredentialSecret"],
            user_id=cloud.get("userId"),
            username=cloud.get("username"),
            user_domain_name=cloud.get("userDomainName"),
            user_domain_id=cloud.get("userDomainId"),
        )
    else:
        auth = generic.Password(
            auth_url=url,
            username=cloud.get("username"),
            user_id=cloud.get("userId"),
            password=cloud.get("password"),
            project_name=cloud.get("projectName"),
            project_id=cloud.get("projectId"),
            user_domain_name=cloud.get("userDomainName"),
            user_domain_id=cloud.get("userDomainId"),
            project_domain_name=cloud.get("projectDomainName"),
            project_domain_id=cloud.get("projectDomainId"),
        )
    verify = False if cloud.get("insecure") else (cloud.get("cacert") or True)
    return ks_session.Session(auth=auth, verify=verify), cloud


_NOVA = None


def _nova_client(who="this fixture"):
    """One novaclient for the run (the ``nova`` fixture and the instance's calls)."""
    global _NOVA
    if _NOVA is None:
        _need("novaclient", "python3-novaclient", who)
        from novaclient import client as nova_client

        sess, cloud = _session(who)
        _NOVA = nova_client.Client(
            "2.1",
            session=sess,
            region_name=cloud.get("regionName"),
            endpoint_type=cloud.get("interface") or "public",
        )
    return _NOVA


@pytest.fixture(scope="session")
def nova():
    """A novaclient authenticated with the test environment's credentials."""
    return _nova_client()


@pytest.fixture(scope="session")
def glance():
    """A glanceclient (v2) authenticated with the test environment's credentials."""
    _need("glanceclient", "python3-glanceclient")
    from glanceclient import Client as GlanceClient

    sess, cloud = _session()
    kwargs = {"session": sess, "region_name": cloud.get("regionName"), "interface": cloud.get("interface") or "public"}
    override = (cloud.get("endpointOverrides") or {}).get("image")
    if override:
        kwargs["endpoint_override"] = override
    return GlanceClient("2", **kwargs)


@pytest.fixture
def console_output(nova, instance):
    """The instance's console log, fetched when the test asks for it."""
    return nova.servers.get_console_output(instance.id)
