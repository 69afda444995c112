"""external mode against real valkey-server processes: the checks pass, or fail naming what to fix.

Render mode keeps these runs off the Kubernetes API (the Secret is not written there), so only the
server check is exercised; test_valkey_statefulset.py covers the Secret on the rehearsal cluster.
"""

import json

import pytest

from tests.fixtures.valkey import GOOD_CONFIG, SESSION_PASSWORD, external_connection, run_role

pytestmark = pytest.mark.valkey


def external(ansible, tmp_path, server, **inputs):
    variables = {
        "discourse_namespace": "forum",
        "discourse_site_name": "forum",
        "discourse_render_dir": str(tmp_path / "render"),
        "discourse_valkey_mode": "external",
        "discourse_valkey_external_host": server.host,
        "discourse_valkey_external_port": server.port,
        "discourse_valkey_external_password": server.password,
        # Render mode checks no server unless asked: these tests ask.
        "discourse_valkey_external_verify": True,
    }
    variables.update(inputs)
    return run_role(ansible, tmp_path, **variables)


def test_a_good_server_passes_and_its_connection_is_published(ansible, tmp_path, valkey_server):
    result, facts = external(ansible, tmp_path, valkey_server)

    assert result.returncode == 0, result.stdout + result.stderr
    assert facts == external_connection(valkey_server)
    assert "WARNING" not in result.stdout
    assert SESSION_PASSWORD not in result.stdout + result.stderr
    # Nothing is rendered for an external server.
    assert not (tmp_path / "render" / "forum" / "valkey.yaml").exists()


def test_the_module_reports_what_the_server_says_in_check_mode(ansible, valkey_server):
    result = ansible(
        "ansible",
        "localhost",
        "--check",
        "-m",
        "forumops.discourse.valkey_check",
        "-a",
        json.dumps({"host": valkey_server.host, "port": valkey_server.port, "password": SESSION_PASSWORD}),
        "-o",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reported = json.loads(result.stdout.split("=>", 1)[1])
    info = valkey_server.client().info()

    assert reported["changed"] is False
    assert reported["auth_required"] is True
    assert reported["server"] == {
        "server_name": "valkey",
        "version": info["valkey_version"],
        "redis_version": info["redis_version"],
        "mode": info["server_mode"],
        "role": "master",
        "maxmemory_policy": "noeviction",
        "maxmemory": 0,
        "aof_enabled": True,
        "cluster_enabled": False,
    }


def test_an_evicting_server_fails_naming_the_policy_and_the_override(ansible, tmp_path, valkey_factory):
    server = valkey_factory(GOOD_CONFIG.replace("noeviction", "allkeys-lru"), password="lru-password")

    result, facts = external(ansible, tmp_path, server)

    assert result.returncode == 2
    assert facts is None
    assert (
        f"The external Valkey server at 127.0.0.1:{server.port} has maxmemory-policy allkeys-lru; "
        "Discourse needs noeviction"
    ) in result.stdout
    assert "discourse_valkey_external_allow_eviction: true" in result.stdout


def test_an_evicting_server_is_accepted_with_a_warning_when_allowed(ansible, tmp_path, valkey_factory):
    server = valkey_factory(GOOD_CONFIG.replace("noeviction", "volatile-lru"), password="lru-password")

    result, facts = external(ansible, tmp_path, server, discourse_valkey_external_allow_eviction=True)

    assert result.returncode == 0, result.stdout
    output = " ".join(result.stdout.split())
    assert f"WARNING: 127.0.0.1:{server.port} has maxmemory-policy volatile-lru" in output
    assert facts["port"] == server.port


def test_a_wrong_password_fails_naming_the_variable_and_is_never_shown(ansible, tmp_path, valkey_server):
    result, facts = external(
        ansible, tmp_path, valkey_server, discourse_valkey_external_password="wrong-pw-1234"
    )

    assert result.returncode == 2
    assert facts is None
    output = " ".join(result.stdout.split())
    assert f"The external Valkey server at 127.0.0.1:{valkey_server.port} refused authentication" in output
    assert "check discourse_valkey_external_password" in output
    assert "WRONGPASS invalid username-password pair" in output
    assert "wrong-pw-1234" not in result.stdout + result.stderr


def test_a_server_without_a_password_is_refused(ansible, tmp_path, valkey_factory):
    server = valkey_factory(GOOD_CONFIG.replace("protected-mode yes", "protected-mode no"))

    result, _facts = external(ansible, tmp_path, server, discourse_valkey_external_password="some-password")

    assert result.returncode == 2
    assert "the server has no password configured" in " ".join(result.stdout.split())


def test_a_cluster_mode_server_fails(ansible, tmp_path, valkey_factory):
    server = valkey_factory(GOOD_CONFIG.replace("cluster-enabled no", "cluster-enabled yes"), password="c-pw")

    result, _facts = external(ansible, tmp_path, server)

    assert result.returncode == 2
    output = " ".join(result.stdout.split())
    assert f"127.0.0.1:{server.port} (discourse_valkey_external_host) is a cluster-mode node" in output
    assert "(INFO cluster: cluster_enabled:1)" in output
    assert "Sidekiq cannot use cluster mode" in output


def test_a_replica_fails(ansible, tmp_path, valkey_server, valkey_factory):
    replica = valkey_factory(
        GOOD_CONFIG + f"replicaof 127.0.0.1 {valkey_server.port}\nmasterauth {SESSION_PASSWORD}\n",
        password="replica-pw",
    )

    result, _facts = external(ansible, tmp_path, replica)

    assert result.returncode == 2
    assert "is a slave (read-only replica), not the primary" in " ".join(result.stdout.split())


def test_an_unreachable_server_fails_naming_host_and_port(ansible, tmp_path, valkey_factory):
    server = valkey_factory(GOOD_CONFIG, password="gone-pw")
    server.stop()

    result, _facts = external(ansible, tmp_path, server)

    assert result.returncode == 2
    output = " ".join(result.stdout.split())
    assert "Cannot talk to the external Valkey server (discourse_valkey_external_host," in output
    assert f"cannot connect to 127.0.0.1:{server.port}: Connection refused" in output


def test_render_mode_without_a_password_cannot_verify(ansible, tmp_path, valkey_server):
    result, _facts = external(ansible, tmp_path, valkey_server, discourse_valkey_external_password="")

    assert result.returncode == 2
    assert "In render mode the Secret is not read: set discourse_valkey_external_password" in " ".join(
        result.stdout.split()
    )
