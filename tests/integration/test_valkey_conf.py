"""The valkey.conf and StatefulSet the role renders, run with a real valkey-server and valkey-cli.

The config comes from the role itself (render mode, no API), and the server is started with the
StatefulSet's own arguments; only what differs between a pod and a test is changed: the port, the
bind address and the data directory (appended by start_valkey), and $(VALKEY_PASSWORD), which
Kubernetes would expand from the Secret.
"""

import hashlib
import os
import subprocess

import pytest
import valkey

from tests.fixtures.valkey import VALKEY_CLI, render

pytestmark = pytest.mark.valkey

PASSWORD = "rendered-config-test-password"
EXTRA = {"hz": 20, "slowlog-log-slower-than": 5000}


@pytest.fixture(scope="module")
def rendered(ansible, tmp_path_factory):
    """The role's manifests rendered once per set of inputs (each render is an ansible-playbook run)."""
    cache = {}

    def get(maxmemory="", extra=None):
        key = (maxmemory, bool(extra))
        if key not in cache:
            inputs = {"discourse_valkey_maxmemory": maxmemory, "discourse_valkey_extra_config": extra or {}}
            cache[key] = render(ansible, tmp_path_factory.mktemp("render"), **inputs)
        return cache[key]

    return get


def pod_server(objects, valkey_factory):
    """Start valkey-server the way the StatefulSet's container does, with the ConfigMap's file."""
    conf = objects[("ConfigMap", "valkey")]["data"]["valkey.conf"]
    container = objects[("StatefulSet", "valkey")]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["valkey-server"]
    args = container["args"]
    # The ConfigMap is mounted at /etc/valkey; the first argument is its one file.
    assert args[0] == "/etc/valkey/valkey.conf"
    env = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"]}
    assert env["VALKEY_PASSWORD"] == {"name": "valkey-password", "key": "password"}
    expanded = [arg.replace("$(VALKEY_PASSWORD)", PASSWORD) for arg in args[1:]]
    return valkey_factory(conf, *expanded), conf, container


def test_the_rendered_config_runs_with_noeviction_aof_and_no_cluster(rendered, valkey_factory):
    objects, _text = rendered("64mb")
    server, _conf, _container = pod_server(objects, valkey_factory)
    client = server.client(password=PASSWORD)

    assert client.ping() is True
    assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert client.config_get("cluster-enabled") == {"cluster-enabled": "no"}
    assert client.config_get("protected-mode") == {"protected-mode": "yes"}
    assert client.config_get("maxmemory") == {"maxmemory": str(64 * 1024 * 1024)}
    assert client.info("cluster") == {"cluster_enabled": 0}
    client.set("sidekiq:queue", "job")
    client.execute_command("BGREWRITEAOF")
    # AOF on the data directory (the pod's /data volume).
    assert (server.data_dir / "appendonlydir").is_dir()


def test_clients_without_the_password_are_refused(rendered, valkey_factory):
    objects, _text = rendered()
    server, _conf, _container = pod_server(objects, valkey_factory)

    with pytest.raises(valkey.exceptions.AuthenticationError, match="Authentication required"):
        server.client(password=None).get("any-key")
    with pytest.raises(valkey.exceptions.AuthenticationError, match="invalid username-password pair"):
        server.client(password="not-the-password").ping()
    assert server.client(password=PASSWORD).ping() is True
    # Without a maxmemory input there is no cap.
    assert server.client(password=PASSWORD).config_get("maxmemory") == {"maxmemory": "0"}


def test_at_the_memory_cap_writes_fail_and_nothing_is_evicted(rendered, valkey_factory):
    objects, _text = rendered("2mb", EXTRA)
    server, _conf, _container = pod_server(objects, valkey_factory)
    client = server.client(password=PASSWORD)
    value = "x" * 20_000

    written = 0
    with pytest.raises(valkey.exceptions.OutOfMemoryError, match="maxmemory"):
        for index in range(1000):
            client.set(f"job:{index}", value)
            written += 1
    assert 0 < written < 1000
    # noeviction: every key written before the cap is still there.
    assert client.dbsize() == written
    assert client.info("stats")["evicted_keys"] == 0


def test_the_probe_command_needs_the_password_from_the_environment(rendered, valkey_factory):
    objects, _text = rendered()
    server, _conf, container = pod_server(objects, valkey_factory)
    probe_names = ("startupProbe", "readinessProbe", "livenessProbe")
    probes = [container[name]["exec"]["command"] for name in probe_names]
    assert probes[0] == probes[1] == probes[2]
    # The pod's valkey-cli and port 6379 are the test's binary and port.
    command = [str(VALKEY_CLI) if arg == "valkey-cli" else arg for arg in probes[0]]
    command = [str(server.port) if arg == "6379" else arg for arg in command]
    assert "REDISCLI_AUTH" in {item["name"] for item in container["env"]}

    with_password = subprocess.run(
        command, env={**os.environ, "REDISCLI_AUTH": PASSWORD}, capture_output=True, text=True, check=False
    )
    without = subprocess.run(
        command,
        env={k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert (with_password.returncode, with_password.stdout) == (0, "PONG\n")
    assert without.returncode == 1
    assert "NOAUTH" in without.stdout + without.stderr


def test_rendered_files_hold_no_secret_and_the_checksum_is_the_configs(rendered):
    objects, text = rendered("64mb")
    other, _other_text = rendered("128mb")

    assert list(objects) == [
        ("ConfigMap", "valkey"),
        ("Service", "valkey-headless"),
        ("Service", "valkey"),
        ("NetworkPolicy", "valkey"),
        ("StatefulSet", "valkey"),
    ]
    assert "kind: Secret" not in text
    conf_lines = objects[("ConfigMap", "valkey")]["data"]["valkey.conf"].splitlines()
    assert [line for line in conf_lines if line.startswith(("requirepass", "include", "user "))] == []
    assert "Secret valkey-password in namespace forum" in text
    for obj in (objects, other):
        conf = obj[("ConfigMap", "valkey")]["data"]["valkey.conf"]
        annotations = obj[("StatefulSet", "valkey")]["spec"]["template"]["metadata"]["annotations"]
        # Render mode never knows the password: only the config's hash.
        assert annotations == {"forumops.io/config-checksum": hashlib.sha256(conf.encode()).hexdigest()}
    checksum = objects[("StatefulSet", "valkey")]["spec"]["template"]["metadata"]["annotations"]
    other_checksum = other[("StatefulSet", "valkey")]["spec"]["template"]["metadata"]["annotations"]
    assert checksum != other_checksum


def test_extra_config_lands_in_valkey_conf_and_runs(rendered, valkey_factory):
    objects, _text = rendered("2mb", EXTRA)
    server, conf, _container = pod_server(objects, valkey_factory)

    assert conf.endswith("# discourse_valkey_extra_config\nhz 20\nslowlog-log-slower-than 5000\n")
    client = server.client(password=PASSWORD)
    assert client.config_get("hz") == {"hz": "20"}
    assert client.config_get("slowlog-log-slower-than") == {"slowlog-log-slower-than": "5000"}
