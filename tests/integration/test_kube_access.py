"""Reaching the cluster the way kubectl does: exec credential plugins, proxies, tls-server-name, CAs.

The example site converges against the rehearsal API server (RBAC on, ServiceAccount tokens
accepted) with kubeconfigs shaped like those of managed clusters: a user whose credential comes from
an exec plugin (as `aws eks get-token`, `gke-gcloud-auth-plugin` and `kubelogin` give it), a
cluster behind a CONNECT proxy named by `proxy-url` or by HTTPS_PROXY (Debian's tinyproxy), and a
server reached under another name with `tls-server-name`.

Upstream (kubernetes/client-go): plugin/pkg/client/auth/exec/exec.go (ExecCredential, the credential
kept until expirationTimestamp, a fresh one after a 401), tools/clientcmd/client_config.go
(proxy-url, tls-server-name), Go's net/http ProxyFromEnvironment (HTTPS_PROXY; never for localhost
or loopback addresses, so the HTTPS_PROXY case names the server by this machine's host name).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import time

import pytest
import yaml

from tests.fixtures.ansible import ansible_env, example_args, play_recap, run_tool
from tests.fixtures.postgres import free_port
from tests.fixtures.rehearsal import KUBECONFIG, STATE_DIR, kubectl, rehearsal_env

pytestmark = pytest.mark.rehearsal

SITE = "example_forum"


def converge(namespace, kubeconfig, env=None, *extra):
    args = example_args(
        "playbooks/site.yml",
        namespace,
        "-e",
        f"discourse_kubeconfig={kubeconfig}",
        *extra,
        state_dir=STATE_DIR,
    )
    return run_tool("ansible-playbook", *args, env=env or ansible_env())


def admin_kubeconfig():
    return yaml.safe_load(KUBECONFIG.read_text())


def write_kubeconfig(path, cluster=None, user=None):
    config = admin_kubeconfig()
    config["clusters"][0]["cluster"].update(cluster or {})
    if user is not None:
        config["users"][0]["user"] = user
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def deployer(rehearsal_namespace):
    """A ServiceAccount with cluster-admin: the identity the exec plugin's tokens belong to."""
    ns = rehearsal_namespace
    kubectl("create", "serviceaccount", "deployer", "-n", ns)
    kubectl(
        "create", "clusterrolebinding", f"{ns}-deployer", "--clusterrole=cluster-admin",
        f"--serviceaccount={ns}:deployer",
    )  # fmt: skip
    yield f"system:serviceaccount:{ns}:deployer"
    kubectl("delete", "clusterrolebinding", f"{ns}-deployer", "--ignore-not-found")


def token_plugin(tmp_path, namespace, first_token=None):
    """(plugin path, run counter): a plugin that mints a real, expiring token of the deployer
    ServiceAccount per run and counts its runs; with first_token its first run hands out that one."""
    kubectl_path = shutil.which("kubectl", path=rehearsal_env()["PATH"])
    count = tmp_path / "plugin-runs"
    count.touch()
    mint = f"$({kubectl_path} --kubeconfig {KUBECONFIG} create token deployer -n {namespace} --duration=600s)"
    first = f"token={mint}"
    if first_token:
        first = f'if [ "$(wc -l < {count})" -eq 1 ]; then token={first_token}; else {first}; fi'
    script = tmp_path / "get-token"
    script.write_text(
        "#!/bin/bash\nset -euo pipefail\n"
        f"echo run >> {count}\n{first}\n"
        'expires=$(date -u -d "+590 seconds" +%Y-%m-%dT%H:%M:%SZ)\n'
        'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        '"status":{"token":"%s","expirationTimestamp":"%s"}}\' "$token" "$expires"\n'
    )
    script.chmod(0o755)
    return script, count


@pytest.fixture
def exec_plugin(tmp_path, rehearsal_namespace, deployer):
    script, count = token_plugin(tmp_path, rehearsal_namespace)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(script),
            "interactiveMode": "Never",
            "installHint": "get-token comes with the test",
        }
    }
    return write_kubeconfig(tmp_path / "exec-kubeconfig", user=user), count


def test_an_exec_plugin_user_converges_the_site_and_the_plugin_runs_once(
    rehearsal_namespace, exec_plugin, tmp_path
):
    kubeconfig, count = exec_plugin
    env = ansible_env(FORUMOPS_KUBE_CACHE_DIR=str(tmp_path / "cache"))

    first = converge(rehearsal_namespace, kubeconfig, env)

    assert first.returncode == 0, first.stdout[-4000:]
    # One credential for the whole converge: every task's worker reads the cached one.
    assert count.read_text().count("run") == 1
    second = converge(rehearsal_namespace, kubeconfig, env)
    assert play_recap(second, SITE)["changed"] == 0, second.stdout[-4000:]
    assert count.read_text().count("run") == 1


@pytest.fixture
def tinyproxy(tmp_path):
    """Debian's tinyproxy on 127.0.0.1, allowed to CONNECT to the rehearsal API server's port."""
    port = free_port()
    api_port = admin_kubeconfig()["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1]
    log = tmp_path / "tinyproxy.log"
    config = tmp_path / "tinyproxy.conf"
    config.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 600\nAllow 127.0.0.1\nConnectPort {api_port}\n"
        f'LogFile "{log}"\nLogLevel Connect\nMaxClients 50\n'
    )
    process = subprocess.Popen(
        ["tinyproxy", "-d", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield {"url": f"http://127.0.0.1:{port}", "log": log, "api_port": api_port}
    process.terminate()
    process.wait(timeout=10)


def test_a_proxy_url_converges_through_the_proxy(rehearsal_namespace, tinyproxy, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "proxied", cluster={"proxy-url": tinyproxy["url"]})

    result = converge(rehearsal_namespace, kubeconfig)

    assert result.returncode == 0, result.stdout[-4000:]
    connects = tinyproxy["log"].read_text().count(f"CONNECT 127.0.0.1:{tinyproxy['api_port']}")
    assert connects >= 1, tinyproxy["log"].read_text()[-2000:]


def test_https_proxy_and_tls_server_name_converge_through_the_proxy(rehearsal_namespace, tinyproxy, tmp_path):
    """Go proxies no loopback address, so the server is this machine's name, which resolves to
    127.0.0.1 here (/etc/hosts) and is not in the API server's certificate: tls-server-name gives
    the name the certificate carries (localhost)."""
    name = socket.gethostname()
    assert socket.gethostbyname(name) == "127.0.0.1", f"the test needs {name} to resolve to 127.0.0.1"
    server = f"https://{name}:{tinyproxy['api_port']}"
    kubeconfig = write_kubeconfig(
        tmp_path / "by-name", cluster={"server": server, "tls-server-name": "localhost"}
    )

    result = converge(rehearsal_namespace, kubeconfig, ansible_env(HTTPS_PROXY=tinyproxy["url"], NO_PROXY=""))

    assert result.returncode == 0, result.stdout[-4000:]
    assert f"CONNECT {name}:{tinyproxy['api_port']}" in tinyproxy["log"].read_text()


def test_a_wrong_ca_fails_naming_the_context_before_any_change(rehearsal_namespace, tmp_path):
    other = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k"),
         "-subj", "/CN=other-ca", "-days", "1"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    kubeconfig = write_kubeconfig(
        tmp_path / "wrong-ca", cluster={"certificate-authority-data": base64.b64encode(other).decode()}
    )

    result = converge(rehearsal_namespace, kubeconfig)

    output = " ".join(result.stdout.split())
    assert result.returncode == 2, output[-3000:]
    assert "the API server of context rehearsal (https://127.0.0.1:" in output
    assert "presented a certificate its CA does not verify" in output
    assert play_recap(result, SITE)["changed"] == 0


def test_a_failing_exec_plugin_prints_its_stderr_and_install_hint(rehearsal_namespace, tmp_path):
    script = tmp_path / "expired-login"
    script.write_text("#!/bin/sh\necho 'error: the SSO session has expired' >&2\nexit 1\n")
    script.chmod(0o755)
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": str(script),
            "installHint": "Run: aws sso login",
        }
    }
    kubeconfig = write_kubeconfig(tmp_path / "failing", user=user)

    result = converge(
        rehearsal_namespace, kubeconfig, ansible_env(FORUMOPS_KUBE_CACHE_DIR=str(tmp_path / "c"))
    )

    output = " ".join(result.stdout.split())
    assert result.returncode == 2, output[-3000:]
    expected = f"exec plugin {script} failed with exit status 1: error: the SSO session has expired"
    assert f"{expected} Run: aws sso login" in output


def test_an_expired_credential_is_refreshed_after_a_401(rehearsal_namespace, deployer, tmp_path):
    """The first run hands out a token the API server refuses (a 401): the client runs the plugin
    again and the second, real token works."""
    script, count = token_plugin(tmp_path, rehearsal_namespace, first_token="revoked-token")
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script)}}
    kubeconfig = write_kubeconfig(tmp_path / "rotating-kubeconfig", user=user)
    playbook = tmp_path / "get.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Read the namespace",
                            "forumops.discourse.k8s_get": {
                                "kubeconfig": str(kubeconfig),
                                "api_version": "v1",
                                "kind": "Namespace",
                                "name": rehearsal_namespace,
                            },
                            "register": "got",
                        },
                        {
                            "ansible.builtin.debug": {
                                "msg": "{{ got.resources | map(attribute='metadata.name') | list | to_json }}"
                            }
                        },
                    ],
                }
            ]
        )
    )

    result = run_tool(
        "ansible-playbook", playbook, env=ansible_env(FORUMOPS_KUBE_CACHE_DIR=str(tmp_path / "c"))
    )

    assert result.returncode == 0, result.stdout[-3000:]
    assert json.dumps([rehearsal_namespace]) in result.stdout
    assert count.read_text().count("run") == 2


def test_impersonation_converges_as_the_deployer_and_without_it_the_403_names_verb_and_resource(
    rehearsal_namespace, deployer, tmp_path
):
    """An identity that may only impersonate the deployer ServiceAccount (RBAC verb impersonate on
    serviceaccounts/deployer) converges the site with `as`; with its own rights alone it gets 403s."""
    ns = rehearsal_namespace
    kubectl("create", "serviceaccount", "impersonator", "-n", ns)
    kubectl(
        "create", "role", "impersonate-deployer", "-n", ns, "--verb=impersonate",
        "--resource=serviceaccounts", "--resource-name=deployer",
    )  # fmt: skip
    kubectl(
        "create", "rolebinding", "impersonate-deployer", "-n", ns, "--role=impersonate-deployer",
        f"--serviceaccount={ns}:impersonator",
    )  # fmt: skip
    token = kubectl("create", "token", "impersonator", "-n", ns, "--duration=600s").stdout.strip()
    as_deployer = write_kubeconfig(tmp_path / "impersonating", user={"token": token, "as": deployer})
    on_its_own = write_kubeconfig(tmp_path / "own-rights", user={"token": token})

    impersonating = converge(ns, as_deployer)
    refused = converge(ns, on_its_own)
    # The same through the inventory inputs, for every role and playbook (module_defaults).
    by_inputs = converge(ns, on_its_own, None, "-e", f"discourse_kube_impersonate_user={deployer}")

    assert impersonating.returncode == 0, impersonating.stdout[-4000:]
    assert by_inputs.returncode == 0, by_inputs.stdout[-4000:]
    assert play_recap(by_inputs, SITE)["changed"] == 0
    output = " ".join(refused.stdout.split())
    assert refused.returncode == 2, output[-3000:]
    assert re.search(
        rf'403 .*User "system:serviceaccount:{ns}:impersonator" cannot (get|list) resource "\w+"', output
    ), output[-3000:]
