"""module_utils/kubeconfig: what kubectl reads from a kubeconfig, exec plugins, proxies; no server.

Upstream (kubernetes/client-go): tools/clientcmd/api/types.go (the kubeconfig fields: exec,
tls-server-name, proxy-url, as, as-uid, as-groups, as-user-extra), plugin/pkg/client/auth/exec/exec.go
(ExecCredential in and out, KUBERNETES_EXEC_INFO, interactiveMode, expirationTimestamp, installHint,
a command with a path separator relative to the kubeconfig), transport/round_trippers.go
(Impersonate-* headers), and Go's net/http ProxyFromEnvironment (HTTPS_PROXY, NO_PROXY, never
for localhost).
"""

import base64
import datetime
import json
import os
import stat

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import kube_client, kubeconfig

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"
UTC = datetime.timezone.utc  # noqa: UP017


def document(user, cluster=None):
    return {
        "clusters": [{"name": "c1", "cluster": cluster or {"server": "https://10.0.0.1:6443"}}],
        "users": [{"name": "u1", "user": user}],
        "contexts": [{"name": "dev", "context": {"cluster": "c1", "user": "u1"}}],
        "current-context": "dev",
    }


def resolve(doc, base_dir="/home/ops/.kube"):
    return kubeconfig.resolve_kubeconfig(kubeconfig.merge_kubeconfigs([(doc, base_dir)]))


def test_an_exec_user_resolves_to_its_plugin_with_the_cluster_info_it_asked_for():
    exec_spec = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": "bin/get-token",
        "args": ["--cluster", "prod"],
        "env": [{"name": "AWS_PROFILE", "value": "ops"}],
        "installHint": "Install it with: make tools",
        "provideClusterInfo": True,
        "interactiveMode": "Never",
    }
    cluster = {
        "server": "https://k.example:6443",
        "certificate-authority-data": base64.b64encode(CA).decode(),
        "tls-server-name": "kubernetes.default",
        "extensions": [{"name": "client.authentication.k8s.io/exec", "extension": {"region": "eu"}}],
    }
    config = resolve(document({"exec": exec_spec}, cluster))
    assert config["exec"] == {
        "api_version": "client.authentication.k8s.io/v1",
        "command": "/home/ops/.kube/bin/get-token",
        "args": ["--cluster", "prod"],
        "env": {"AWS_PROFILE": "ops"},
        "install_hint": "Install it with: make tools",
        "cluster": {
            "server": "https://k.example:6443",
            "tls-server-name": "kubernetes.default",
            "insecure-skip-tls-verify": False,
            "certificate-authority-data": base64.b64encode(CA).decode(),
            "proxy-url": "",
            "config": {"region": "eu"},
        },
    }
    assert (config["token"], config["tls_server_name"]) == (None, "kubernetes.default")
    # A bare command is looked up on PATH, as client-go does; no cluster info unless asked for.
    plain = resolve(
        document({"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}})
    )
    assert (plain["exec"]["command"], plain["exec"]["cluster"]) == ("aws", None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"},
            "kubeconfig user 'u1': exec plugin apiVersion 'client.authentication.k8s.io/v1alpha1' is not one "
            "of client.authentication.k8s.io/v1, client.authentication.k8s.io/v1beta1",
        ),
        (
            {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "kubelogin",
                "interactiveMode": "Always",
            },
            "kubeconfig user 'u1': exec plugin kubelogin needs interactiveMode Always, which a converge "
            "cannot give it (no terminal); log in first or use a non-interactive plugin",
        ),
    ],
)
def test_an_exec_plugin_the_converge_cannot_run_is_refused_in_one_line(spec, message):
    with pytest.raises(kubeconfig.KubeError) as error:
        resolve(document({"exec": spec}))
    assert str(error.value) == message


def test_impersonation_fields_become_client_gos_headers():
    config = resolve(
        document(
            {
                "token": "t",
                "as": "system:serviceaccount:forum:deployer",
                "as-uid": "1234",
                "as-groups": ["deployers", "system:authenticated"],
                "as-user-extra": {"reason/why": ["converge"]},
            }
        )
    )
    assert config["impersonate"] == {
        "user": "system:serviceaccount:forum:deployer",
        "uid": "1234",
        "groups": ["deployers", "system:authenticated"],
        "extra": {"reason/why": ["converge"]},
    }
    assert kube_client.impersonation_headers(config["impersonate"]) == [
        ("Impersonate-User", "system:serviceaccount:forum:deployer"),
        ("Impersonate-Uid", "1234"),
        ("Impersonate-Group", "deployers"),
        ("Impersonate-Group", "system:authenticated"),
        ("Impersonate-Extra-reason%2Fwhy", "converge"),
    ]
    assert resolve(document({"token": "t"}))["impersonate"] is None


def test_a_socks_proxy_is_refused_naming_the_cluster():
    with pytest.raises(kubeconfig.KubeError) as error:
        resolve(document({"token": "t"}, {"server": "https://k", "proxy-url": "socks5://127.0.0.1:1080"}))
    assert str(error.value) == (
        "cluster 'c1' uses proxy-url socks5://, which forumops.discourse does not support "
        "(http:// CONNECT proxies are)"
    )


@pytest.mark.parametrize(
    ("server", "proxy_url", "environ", "expected"),
    [
        (
            "https://k.example:6443",
            "http://squid:3128",
            {"HTTPS_PROXY": "http://other:1"},
            "http://squid:3128",
        ),
        ("https://k.example:6443", None, {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://k.example:6443", None, {"https_proxy": "p:3128"}, "http://p:3128"),
        ("https://k.example:6443", None, {"HTTP_PROXY": "http://p:3128"}, None),
        ("http://k.example:8080", None, {"HTTP_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://k.example:6443", None, {"HTTPS_PROXY": "http://p", "NO_PROXY": "example"}, None),
        ("https://k.example:6443", None, {"HTTPS_PROXY": "http://p", "NO_PROXY": ".example"}, None),
        ("https://k.example:6443", None, {"HTTPS_PROXY": "http://p", "NO_PROXY": "xample"}, "http://p"),
        ("https://10.1.2.3:6443", None, {"HTTPS_PROXY": "http://p", "no_proxy": "10.0.0.0/8"}, None),
        ("https://10.1.2.3:6443", None, {"HTTPS_PROXY": "http://p", "NO_PROXY": "*"}, None),
        ("https://127.0.0.1:16443", None, {"HTTPS_PROXY": "http://p"}, None),
        ("https://localhost:16443", None, {"HTTPS_PROXY": "http://p"}, None),
    ],
)
def test_the_proxy_is_the_kubeconfigs_or_the_environments_as_go_picks_it(
    server, proxy_url, environ, expected
):
    assert kubeconfig.proxy_for(server, proxy_url, environ) == expected


SETTINGS = {
    "api_version": "client.authentication.k8s.io/v1",
    "command": "get-token",
    "args": [],
    "env": {},
    "install_hint": "",
    "cluster": None,
}


def credential(status, api_version="client.authentication.k8s.io/v1"):
    return json.dumps({"apiVersion": api_version, "kind": "ExecCredential", "status": status})


def test_an_exec_credential_gives_a_token_or_a_certificate_and_its_expiry():
    assert kubeconfig.parse_exec_credential(
        credential({"token": "abc", "expirationTimestamp": "2026-12-03T10:00:00Z"}), SETTINGS
    ) == {
        "token": "abc",
        "cert_data": None,
        "key_data": None,
        "expires": datetime.datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
    }
    assert kubeconfig.parse_exec_credential(
        credential({"clientCertificateData": "CERT", "clientKeyData": "KEY"}), SETTINGS
    ) == {"token": None, "cert_data": b"CERT", "key_data": b"KEY", "expires": None}


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("not json", "exec plugin get-token printed no ExecCredential JSON"),
        (
            credential({"token": "a"}, "client.authentication.k8s.io/v1beta1"),
            "exec plugin get-token answered 'client.authentication.k8s.io/v1beta1', not the "
            "client.authentication.k8s.io/v1 the kubeconfig asks for",
        ),
        (credential({}), "exec plugin get-token returned neither a token nor a client certificate and key"),
    ],
)
def test_a_bad_exec_credential_is_named(output, message):
    with pytest.raises(kubeconfig.KubeError) as error:
        kubeconfig.parse_exec_credential(output, SETTINGS)
    assert str(error.value) == message


def test_the_plugin_is_told_it_is_not_interactive_and_gets_the_cluster_when_asked():
    assert json.loads(kubeconfig.exec_info(SETTINGS)) == {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    with_cluster = dict(SETTINGS, cluster={"server": "https://k"})
    assert json.loads(kubeconfig.exec_info(with_cluster))["spec"]["cluster"] == {"server": "https://k"}


@pytest.fixture
def plugin(tmp_path):
    """A plugin script that counts its runs and prints a token expiring at $EXPIRES."""
    script = tmp_path / "get-token"
    script.write_text(
        "#!/bin/sh\n"
        'echo run >> "$COUNT_FILE"\n'
        'n=$(wc -l < "$COUNT_FILE")\n'
        'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        '"status":{"token":"token-%s","expirationTimestamp":"%s"}}\' "$n" "$EXPIRES"\n'
    )
    script.chmod(0o755)
    count = tmp_path / "count"
    count.touch()
    environ = {
        "PATH": os.environ["PATH"],
        "COUNT_FILE": str(count),
        "EXPIRES": "2026-12-03T10:00:00Z",
        "FORUMOPS_KUBE_CACHE_DIR": str(tmp_path / "cache"),
    }
    return dict(SETTINGS, command=str(script)), environ, count


def test_an_exec_credential_is_kept_until_it_expires_across_processes(plugin):
    settings, environ, count = plugin
    clock = [datetime.datetime(2026, 12, 3, 9, 0, tzinfo=UTC)]
    first = kubeconfig.ExecCredentials(settings, environ, now=lambda: clock[0])
    assert first.get()["token"] == "token-1"
    # Another worker process (a new object) reads the file instead of running the plugin.
    assert kubeconfig.ExecCredentials(settings, environ, now=lambda: clock[0]).get()["token"] == "token-1"
    assert count.read_text().count("run") == 1
    mode = stat.S_IMODE(os.stat(first.path).st_mode)
    assert (mode, stat.S_IMODE(os.stat(os.path.dirname(first.path)).st_mode)) == (0o600, 0o700)
    clock[0] = datetime.datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    assert first.get()["token"] == "token-2"
    # After a 401 the client asks again whatever the expiry says.
    assert first.get(refresh=True)["token"] == "token-3"
    assert count.read_text().count("run") == 3


def test_a_failing_or_missing_plugin_says_why_and_how_to_install_it(plugin, tmp_path):
    settings, environ, _count = plugin
    failing = tmp_path / "fails"
    failing.write_text("#!/bin/sh\necho 'token expired, run aws sso login' >&2\nexit 3\n")
    failing.chmod(0o755)
    hinted = dict(settings, command=str(failing), install_hint="See https://docs.example/login.")
    with pytest.raises(kubeconfig.KubeError) as error:
        kubeconfig.ExecCredentials(hinted, environ).get()
    assert str(error.value) == (
        f"exec plugin {failing} failed with exit status 3: token expired, run aws sso login "
        "See https://docs.example/login."
    )
    missing = dict(settings, command="no-such-plugin", install_hint="Install it with: apt install x.")
    with pytest.raises(kubeconfig.KubeError) as error:
        kubeconfig.ExecCredentials(missing, environ).get()
    assert (
        str(error.value)
        == "exec plugin no-such-plugin is not installed (not found on PATH). Install it with: apt install x."
    )


def test_an_inline_kubeconfig_dict_is_read_like_a_file():
    config = kubeconfig.load_kubeconfig(document({"token": "inline"}), environ={})
    assert (config["server"], config["token"], config["context"]) == (
        "https://10.0.0.1:6443",
        "inline",
        "dev",
    )
