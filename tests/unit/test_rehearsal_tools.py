"""tools/rehearsal: the parts of the rehearsal cluster tool that need no cluster, Go or openssl."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rehearsal_cluster import bootstrap, build, cli, common, crds, pki, processes, versions

from ansible_collections.forumops.discourse.plugins.module_utils import kubeconfig

TOOL_DIR = Path(__file__).resolve().parents[2] / "tools" / "rehearsal"

MODULES = ["bootstrap", "build", "cli", "common", "crds", "kube", "pki", "processes", "versions"]


def test_the_entry_script_prints_the_usage_and_exits_2_for_an_unknown_command():
    result = subprocess.run(
        [sys.executable, str(TOOL_DIR / "rehearsal"), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == cli.__doc__.strip() + "\n"
    assert result.stderr.startswith("The rehearsal cluster: a real Kubernetes control plane on this machine")
    for command in ("build", "up", "down", "status", "reclaim", "pin"):
        assert f"    rehearsal {command} " in result.stderr


def test_the_entry_script_loaded_from_its_path_exposes_main_and_the_versions():
    """As tests/unit/test_preflight.py loads it: no .py suffix, not on sys.path."""
    path = TOOL_DIR / "rehearsal"
    loader = importlib.machinery.SourceFileLoader("rehearsal_entry", str(path))
    spec = importlib.util.spec_from_loader("rehearsal_entry", loader)
    tool = importlib.util.module_from_spec(spec)
    loader.exec_module(tool)
    assert tool.main is cli.main
    assert tool.load_versions is versions.load_versions
    assert tool.PREFLIGHT_VERSIONS == (
        "CNPG_VERSION",
        "BARMAN_CLOUD_VERSION",
        "CERT_MANAGER_VERSION",
        "GATEWAY_API_VERSION",
    )


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports_and_stays_small(module):
    imported = importlib.import_module(f"rehearsal_cluster.{module}")
    assert len(Path(imported.__file__).read_text().splitlines()) <= 400


def test_the_package_uses_the_standard_library_only():
    """It must run on a fresh machine before any venv exists."""
    allowed = set(sys.stdlib_module_names)
    for path in (TOOL_DIR / "rehearsal_cluster").glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")) and not line.startswith("from ."):
                top = line.split()[1].split(".")[0]
                assert top in allowed, f"{path.name}: {line}"


def test_paths_point_at_the_tool_directory():
    assert common.TOOL_DIR == TOOL_DIR
    assert TOOL_DIR.parent.parent == common.REPO_ROOT
    assert versions.PREFLIGHT == common.REPO_ROOT / "plugins" / "module_utils" / "preflight.py"
    assert build.COMPONENTS["kwok"]["dir"] == TOOL_DIR / "kwok"


# ---------------------------------------------------------------------------------------------
# cli


@pytest.mark.parametrize("argv", [["rehearsal"], ["rehearsal", "--help"], ["rehearsal", "up", "now"]])
def test_main_rejects_anything_but_one_known_command(argv, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_versions", lambda: pytest.fail("versions read for a bad command"))
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == cli.__doc__.strip() + "\n"


def test_main_dispatches_and_passes_status_exit_code(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "load_versions", lambda: {"KWOK_VERSION": "v0.8.0"})
    monkeypatch.setattr(cli, "build", lambda v: calls.append(("build", v)))
    monkeypatch.setattr(cli, "up", lambda v: calls.append(("up", v)))
    monkeypatch.setattr(cli, "down", lambda: calls.append(("down",)))
    monkeypatch.setattr(cli, "reclaim", lambda: calls.append(("reclaim",)))
    monkeypatch.setattr(cli, "pin", lambda v: calls.append(("pin", v)))
    monkeypatch.setattr(cli, "status", lambda: 3)
    commands = ("build", "up", "down", "reclaim", "pin", "status")
    assert [cli.main(["rehearsal", c]) for c in commands] == [0, 0, 0, 0, 0, 3]
    versions_seen = {"KWOK_VERSION": "v0.8.0"}
    assert calls == [
        ("build", versions_seen),
        ("up", versions_seen),
        ("down",),
        ("reclaim",),
        ("pin", versions_seen),
    ]


def test_main_turns_failures_into_exit_code_1(monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_versions", dict)

    def fail(_versions):
        raise common.RehearsalError("ports in use by something else: s3 16900")

    monkeypatch.setattr(cli, "build", fail)
    assert cli.main(["rehearsal", "build"]) == 1
    assert capsys.readouterr().err == "[rehearsal] error: ports in use by something else: s3 16900\n"

    def fail_command(_versions):
        raise subprocess.CalledProcessError(1, ["openssl", "req", Path("x")], stderr=b"bad key\n")

    monkeypatch.setattr(cli, "build", fail_command)
    assert cli.main(["rehearsal", "build"]) == 1
    assert capsys.readouterr().err == "[rehearsal] error: openssl req x failed: bad key\n\n"


# ---------------------------------------------------------------------------------------------
# versions


def test_load_versions_reads_versions_env_and_the_preflight_pins(tmp_path, monkeypatch):
    (tmp_path / "versions.env").write_text(
        "# comment\n\nKUBERNETES_VERSION=v1.36.3\n  ETCD_VERSION = v3.6.16  \nKWOK_VERSION=v0.8.0\n"
    )
    preflight = tmp_path / "preflight.py"
    preflight.write_text(
        'CNPG_VERSION = "1.30.1"\n'
        'BARMAN_CLOUD_VERSION = "v0.15.0"\n'
        'CERT_MANAGER_VERSION = "v1.21.2"\n'
        'GATEWAY_API_VERSION = "v1.6.3"\n'
    )
    monkeypatch.setattr(versions, "TOOL_DIR", tmp_path)
    monkeypatch.setattr(versions, "PREFLIGHT", preflight)
    assert versions.load_versions() == {
        "KUBERNETES_VERSION": "v1.36.3",
        "ETCD_VERSION": "v3.6.16",
        "KWOK_VERSION": "v0.8.0",
        "CNPG_VERSION": "v1.30.1",
        "BARMAN_CLOUD_VERSION": "v0.15.0",
        "CERT_MANAGER_VERSION": "v1.21.2",
        "GATEWAY_API_VERSION": "v1.6.3",
    }
    preflight.write_text('CNPG_VERSION = "1.30.1"\n')
    with pytest.raises(SystemExit, match=r'preflight.py has no BARMAN_CLOUD_VERSION = "\.\.\." line$'):
        versions.load_versions()


# ---------------------------------------------------------------------------------------------
# build


def test_required_and_component_version_compare_go_mod_with_versions_env(tmp_path, monkeypatch):
    (tmp_path / "go.mod").write_text(
        "module forumops.test/rehearsal/kwok\n\ngo 1.26.0\n\nrequire sigs.k8s.io/kwok v0.8.0\n"
    )
    assert build.required_version(tmp_path, "sigs.k8s.io/kwok") == "v0.8.0"
    assert build.required_version(tmp_path, "sigs.k8s.io/kwok/cmd") is None
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "go.mod").write_text("require (\n\tk8s.io/kubernetes v1.36.3\n)\n")
    assert build.required_version(tmp_path / "k8s", "k8s.io/kubernetes") == "v1.36.3"

    monkeypatch.setitem(build.COMPONENTS, "kwok", dict(build.COMPONENTS["kwok"], dir=tmp_path))
    assert build.component_version("kwok", {"KWOK_VERSION": "v0.8.0"}) == "v0.8.0"
    with pytest.raises(common.RehearsalError) as error:
        build.component_version("kwok", {"KWOK_VERSION": "v0.9.0"})
    assert str(error.value) == (
        f"{tmp_path / 'go.mod'} requires sigs.k8s.io/kwok v0.8.0, but versions.env says v0.9.0; "
        "run `tools/rehearsal/rehearsal pin` to regenerate the go.mod files"
    )


def test_ldflags_stamp_the_versions_as_upstream_release_builds_do(monkeypatch):
    assert (
        build.ldflags("etcd", "v3.6.16", None)
        == "-s -w -X=go.etcd.io/etcd/api/v3/version.GitSHA=module-v3.6.16"
    )
    assert build.ldflags("kwok", "v0.8.0", None) == "-s -w -X=sigs.k8s.io/kwok/pkg/consts.Version=0.8.0"
    monkeypatch.setattr(build, "module_time", lambda _dir, _module: "2026-11-12T10:00:00Z")
    expected = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        expected += [
            f"-X={package}.gitVersion=v1.36.3",
            f"-X={package}.gitMajor=1",
            f"-X={package}.gitMinor=36",
            f"-X={package}.gitCommit=",
            f"-X={package}.gitTreeState=archive",
            f"-X={package}.buildDate=2026-11-12T10:00:00Z",
        ]
    assert build.ldflags("kubernetes", "v1.36.3", None) == " ".join(expected)


def test_go_env_turns_off_workspaces_and_cgo_and_keeps_goflags(monkeypatch):
    monkeypatch.setenv("GOFLAGS", "-buildvcs=false")
    monkeypatch.setenv("GOWORK", "/elsewhere/go.work")
    env = build.go_env()
    assert (env["GOWORK"], env["CGO_ENABLED"], env["GOFLAGS"]) == ("off", "0", "-buildvcs=false -mod=mod")
    monkeypatch.delenv("GOFLAGS")
    assert build.go_env()["GOFLAGS"] == "-mod=mod"


def test_binaries_are_cached_by_component_and_version(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "BIN_DIR_OVERRIDE", "")
    monkeypatch.setattr(build, "CACHE_ROOT", tmp_path)
    monkeypatch.setattr(build, "component_version", lambda name, _v: {"kubernetes": "v1.36.3"}[name])
    assert build.binary_path("kube-scheduler", {}) == tmp_path / "kubernetes-v1.36.3" / "kube-scheduler"
    with pytest.raises(KeyError):
        build.binary_path("kubelet", {})
    monkeypatch.setattr(build, "BIN_DIR_OVERRIDE", "/opt/rehearsal/bin")
    assert build.binary_path("kube-scheduler", {}) == Path("/opt/rehearsal/bin/kube-scheduler")


def test_build_with_a_bin_dir_lacking_binaries_names_them(tmp_path, monkeypatch):
    (tmp_path / "etcd").write_text("")
    (tmp_path / "etcd").chmod(0o755)
    monkeypatch.setattr(build, "BIN_DIR_OVERRIDE", str(tmp_path))
    with pytest.raises(common.RehearsalError) as error:
        build.build({})
    assert str(error.value) == (
        f"REHEARSAL_BIN_DIR={tmp_path} lacks: kube-apiserver, kube-controller-manager, kube-scheduler, kwok"
    )


def test_pin_writes_the_wrapper_modules(tmp_path, monkeypatch, capsys):
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "go.mod").write_text(
        "module k8s.io/kubernetes\n\ngo 1.25.0\n\ngodebug default=go1.25\n\nreplace (\n"
        "\tk8s.io/api => ./staging/src/k8s.io/api\n"
        "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n)\n"
    )
    components = {name: dict(c, dir=tmp_path / name) for name, c in build.COMPONENTS.items()}
    (tmp_path / "etcd").mkdir()
    (tmp_path / "etcd" / "go.sum").write_text("stale\n")
    monkeypatch.setattr(build, "COMPONENTS", components)
    monkeypatch.setattr(build, "go_mod_download", lambda module, version: {"Dir": str(upstream)})
    listed = []
    monkeypatch.setattr(build.subprocess, "run", lambda argv, **kwargs: listed.append((argv, kwargs["cwd"])))
    build.pin({"KUBERNETES_VERSION": "v1.36.3", "ETCD_VERSION": "v3.6.16", "KWOK_VERSION": "v0.8.0"})

    assert (tmp_path / "kubernetes" / "go.mod").read_text() == (
        "// Wrapper module: builds kube-apiserver, kube-controller-manager and kube-scheduler from the\n"
        "// published k8s.io/kubernetes module. Upstream requires its 2 staging modules at\n"
        "// v0.0.0 and points them at ./staging, so each is replaced by its published release.\n"
        "// Generated by `tools/rehearsal/rehearsal pin` from k8s.io/kubernetes@v1.36.3's go.mod.\n"
        "module forumops.test/rehearsal/k8s\n"
        "\n"
        "go 1.25.0\n"
        "\n"
        "godebug default=go1.25\n"
        "\n"
        "require k8s.io/kubernetes v1.36.3\n"
        "\n"
        "replace (\n"
        "\tk8s.io/api => k8s.io/api v0.36.3\n"
        "\tk8s.io/client-go => k8s.io/client-go v0.36.3\n"
        ")\n"
    )
    assert (
        (tmp_path / "etcd" / "go.mod")
        .read_text()
        .endswith(
            "module forumops.test/rehearsal/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v3.6.16\n"
        )
    )
    assert not (tmp_path / "etcd" / "go.sum").exists()
    assert (
        (tmp_path / "kwok" / "go.mod")
        .read_text()
        .endswith("module forumops.test/rehearsal/kwok\n\ngo 1.26.0\n\nrequire sigs.k8s.io/kwok v0.8.0\n")
    )
    assert listed == [
        (
            [
                "go",
                "list",
                "-deps",
                "k8s.io/kubernetes/cmd/kube-apiserver",
                "k8s.io/kubernetes/cmd/kube-controller-manager",
                "k8s.io/kubernetes/cmd/kube-scheduler",
            ],
            tmp_path / "kubernetes",
        ),
        (["go", "list", "-deps", "go.etcd.io/etcd/server/v3"], tmp_path / "etcd"),
        (["go", "list", "-deps", "sigs.k8s.io/kwok/cmd/kwok"], tmp_path / "kwok"),
    ]
    assert capsys.readouterr().out == "".join(
        f"[rehearsal] pinned {name}: {tmp_path / name / 'go.mod'}\n"
        for name in ("kubernetes", "etcd", "kwok")
    )


# ---------------------------------------------------------------------------------------------
# crds

HELM_CRD = """\
{{- if or .Values.crds.enabled .Values.installCRDs }}
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: "challenges.acme.cert-manager.io"
  {{- if .Values.crds.keep }}
  annotations:
    helm.sh/resource-policy: keep
  {{- end }}
  labels:
    {{- include "cert-manager.crd-labels" . | nindent 4 }}
spec:
  group: acme.cert-manager.io
  scope: Namespaced
{{- end }}
"""


def test_render_helm_crd_renders_cert_managers_chart_with_default_values():
    assert crds.render_helm_crd(HELM_CRD, "crd-challenges.yaml") == (
        "apiVersion: apiextensions.k8s.io/v1\n"
        "kind: CustomResourceDefinition\n"
        "metadata:\n"
        '  name: "challenges.acme.cert-manager.io"\n'
        "  labels:\n"
        "    app.kubernetes.io/name: cert-manager\n"
        "    app.kubernetes.io/instance: cert-manager\n"
        "spec:\n"
        "  group: acme.cert-manager.io\n"
        "  scope: Namespaced\n"
    )


def test_render_helm_crd_refuses_what_it_does_not_understand():
    text = HELM_CRD.replace("  scope: Namespaced\n", "  scope: {{ .Values.scope }}\n")
    with pytest.raises(common.RehearsalError) as error:
        crds.render_helm_crd(text, "crd-challenges.yaml")
    assert str(error.value) == "cannot render Helm template crd-challenges.yaml: scope: {{ .Values.scope }}"


def test_crd_documents_join_every_source_and_render_helm_templates(tmp_path, monkeypatch, capsys):
    plain = tmp_path / "plain" / "config" / "crd" / "bases"
    plain.mkdir(parents=True)
    (plain / "b.yaml").write_text("kind: B\n")
    (plain / "a.yaml").write_text("kind: A\n")
    chart = tmp_path / "chart" / "templates"
    chart.mkdir(parents=True)
    (chart / "crd-x.yaml").write_text("{{- if .Values.crds.enabled }}\nkind: X\n{{- end }}\n")
    (chart / "deployment.yaml").write_text("kind: Deployment\n")
    monkeypatch.setattr(
        crds,
        "CRD_SOURCES",
        [
            ("Plain", "example.com/plain", "PLAIN_VERSION", ["config/crd/bases/*.yaml"]),
            ("Chart", "example.com/chart", "CHART_VERSION", ["templates/crd-*.yaml"]),
        ],
    )
    dirs = {"example.com/plain@v1.0.0": tmp_path / "plain", "example.com/chart@v2.0.0": tmp_path / "chart"}
    monkeypatch.setattr(crds, "go_mod_download", lambda module, version: {"Dir": dirs[f"{module}@{version}"]})
    versions_ = {"PLAIN_VERSION": "v1.0.0", "CHART_VERSION": "v2.0.0"}
    assert crds.crd_documents(versions_) == "kind: A\n\n---\nkind: B\n\n---\nkind: X\n"
    assert (
        capsys.readouterr().out
        == "[rehearsal]   Plain v1.0.0: 2 file(s)\n[rehearsal]   Chart v2.0.0: 1 file(s)\n"
    )

    monkeypatch.setitem(dirs, "example.com/chart@v2.0.0", tmp_path / "plain")
    with pytest.raises(common.RehearsalError) as error:
        crds.crd_documents(versions_)
    assert str(error.value) == "no CRDs in example.com/chart@v2.0.0 under templates/crd-*.yaml"


def test_crd_sources_read_the_operator_pins_from_the_preflight():
    assert {key for _label, _module, key, _patterns in crds.CRD_SOURCES} == {
        *versions.PREFLIGHT_VERSIONS,
        "PROMETHEUS_OPERATOR_VERSION",
    }


# ---------------------------------------------------------------------------------------------
# processes


def test_component_argv(tmp_path, monkeypatch):
    monkeypatch.setattr(processes, "STATE_DIR", tmp_path)
    monkeypatch.setattr(processes, "binary_path", lambda name, _versions: Path("/cache") / name)
    monkeypatch.setattr(processes, "PORTS", dict(common.PORTS, etcd=2379, **{"etcd-peer": 2380}))
    assert processes.component_argv("etcd", {}) == [
        "/cache/etcd",
        "--name=rehearsal",
        f"--data-dir={tmp_path / 'etcd'}",
        "--listen-client-urls=http://127.0.0.1:2379",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=rehearsal=http://127.0.0.1:2380",
        "--log-level=warn",
        "--unsafe-no-fsync=true",
        "--auto-compaction-retention=1",
        "--quota-backend-bytes=4294967296",
    ]
    scheduler = processes.component_argv("kube-scheduler", {})
    assert scheduler == [
        "/cache/kube-scheduler",
        f"--kubeconfig={tmp_path / 'kubeconfig'}",
        f"--authentication-kubeconfig={tmp_path / 'kubeconfig'}",
        f"--authorization-kubeconfig={tmp_path / 'kubeconfig'}",
        "--bind-address=127.0.0.1",
        f"--secure-port={common.PORTS['kube-scheduler']}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
    ]
    controller_manager = processes.component_argv("kube-controller-manager", {})
    assert controller_manager[0] == "/cache/kube-controller-manager"
    assert controller_manager[-1] == "--controllers=*"
    assert f"--cluster-signing-key-file={tmp_path / 'pki' / 'ca.key'}" in controller_manager
    apiserver = processes.component_argv("kube-apiserver", {})
    assert "--etcd-servers=http://127.0.0.1:2379" in apiserver
    assert "--service-cluster-ip-range=10.96.0.0/16" in apiserver
    assert processes.component_argv("kwok", {})[2:5] == [
        f"--config={TOOL_DIR / 'manifests' / 'kwok-stages.yaml'}",
        "--manage-all-nodes=true",
        "--cidr=10.244.0.0/16",
    ]
    with pytest.raises(KeyError):
        processes.component_argv("kubelet", {})


def test_the_s3_stand_in_runs_moto_from_the_project_venv(tmp_path, monkeypatch):
    monkeypatch.setattr(processes, "REPO_ROOT", tmp_path)
    with pytest.raises(common.RehearsalError) as error:
        processes.component_argv("s3", {})
    python = tmp_path / ".venv" / "bin" / "python"
    assert str(error.value) == f"{python} not found: the S3 stand-in runs moto from the venv (make setup)"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert processes.component_argv("s3", {}) == [
        str(python),
        "-m",
        "moto.server",
        "-H",
        "127.0.0.1",
        "-p",
        str(common.PORTS["s3"]),
    ]


def test_processes_start_in_order_and_every_one_has_a_health_check():
    assert processes.PROCESSES == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "s3",
        "kwok",
    ]
    assert set(processes.HEALTH) == set(processes.PROCESSES)
    assert processes.HEALTH["kube-apiserver"] == (
        f"https://127.0.0.1:{common.PORTS['kube-apiserver']}/readyz",
        True,
    )


def test_running_pid_ignores_missing_garbled_and_reused_pids(tmp_path, monkeypatch):
    monkeypatch.setattr(processes, "STATE_DIR", tmp_path)
    (tmp_path / "pids").mkdir()
    assert processes.running_pid("etcd") is None
    processes.pid_file("etcd").write_text("not a pid\n/bin/etcd\n")
    assert processes.running_pid("etcd") is None
    me = Path("/proc/self/exe").resolve()
    processes.pid_file("etcd").write_text(f"{os.getpid()}\n{me}\n")
    assert processes.running_pid("etcd") == os.getpid()
    processes.pid_file("etcd").write_text(f"{os.getpid()}\n/some/other/binary\n")
    assert processes.running_pid("etcd") is None


def test_tail_and_elapsed(tmp_path, monkeypatch):
    log = tmp_path / "etcd.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 31)))
    assert processes.tail(log, lines=2) == "line 29\nline 30"
    assert processes.tail(tmp_path / "missing.log") == ""
    monkeypatch.setattr(common.time, "monotonic", lambda: 1000.0)
    assert common.elapsed(1000.0 - 125.7) == "2m05s"


# ---------------------------------------------------------------------------------------------
# pki


def test_the_kubeconfig_embeds_the_ca_and_the_admin_credentials(tmp_path, monkeypatch):
    monkeypatch.setattr(pki, "STATE_DIR", tmp_path)
    (tmp_path / "pki").mkdir()
    for name in ("ca.crt", "admin.crt", "admin.key"):
        (tmp_path / "pki" / name).write_bytes(name.encode())
    pki.write_kubeconfig()
    path = tmp_path / "kubeconfig"
    assert path.stat().st_mode & 0o777 == 0o600

    document = json.loads(path.read_text())
    assert (document["apiVersion"], document["kind"], document["current-context"]) == (
        "v1",
        "Config",
        "rehearsal",
    )
    # The collection's own kubeconfig reader (what the modules use against the rehearsal cluster)
    # resolves the current context to the API server, the embedded CA and the admin's client pair.
    assert kubeconfig.load_kubeconfig(str(path), environ={}) == kubeconfig.empty_config(
        f"https://127.0.0.1:{common.PORTS['kube-apiserver']}"
    ) | {"context": "rehearsal", "ca_data": b"ca.crt", "cert_data": b"admin.crt", "key_data": b"admin.key"}


# ---------------------------------------------------------------------------------------------
# bootstrap


def test_persistent_volumes(tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap, "STATE_DIR", tmp_path)
    monkeypatch.setattr(bootstrap, "PV_COUNT", 2)
    monkeypatch.setattr(bootstrap, "PV_SIZE", "1Gi")
    docs = [json.loads(doc) for doc in bootstrap.persistent_volumes().split("\n---\n")]
    assert docs == [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"rehearsal-pv-0{n}", "labels": {"forumops.test/rehearsal-pv": "true"}},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "rehearsal-local",
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": str(tmp_path / "pv" / f"0{n}"), "type": "DirectoryOrCreate"},
            },
        }
        for n in (1, 2)
    ]
    assert sorted(p.name for p in (tmp_path / "pv").iterdir()) == ["01", "02"]


def test_the_inventory_overlay_points_at_the_cluster_and_the_s3_stand_in(tmp_path, monkeypatch):
    monkeypatch.setattr(bootstrap, "STATE_DIR", tmp_path)
    bootstrap.write_inventory()
    assert (tmp_path / "inventory" / "hosts.yml").read_text() == (
        "# Hosts come from the customer inventory given first.\nall: {}\n"
    )
    text = (tmp_path / "inventory" / "group_vars" / "all.yml").read_text()
    assert text.startswith(
        "# Written by tools/rehearsal/rehearsal up: the rehearsal cluster and its S3 stand-in.\n"
    )
    assert json.loads(text.split("\n", 1)[1]) == {
        "discourse_kubeconfig": str(tmp_path / "kubeconfig"),
        "discourse_storage_api_endpoint": f"http://127.0.0.1:{common.PORTS['s3']}",
        "discourse_storage_path_style": True,
        "discourse_database_cluster_labels": {"forumops.test/operator": "kwok"},
    }


def test_reclaim_wipes_released_volumes_and_drops_their_claim(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bootstrap, "STATE_DIR", tmp_path)
    released = tmp_path / "pv" / "01"
    (released / "pgdata").mkdir(parents=True)
    (released / "pgdata" / "PG_VERSION").write_text("17\n")
    (released / "lost+found").write_text("")
    bound = tmp_path / "pv" / "02"
    bound.mkdir()
    (bound / "keep").write_text("")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "keep").write_text("")

    def volume(name, path, phase):
        return {
            "metadata": {"name": name, "resourceVersion": "42"},
            "spec": {"hostPath": {"path": str(path)}},
            "status": {"phase": phase},
        }

    items = [
        volume("pv-01", released, "Released"),
        volume("pv-02", bound, "Bound"),
        volume("x", outside, "Released"),
    ]
    calls = []

    def kubectl(*args, check=True):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, stdout=json.dumps({"items": items}))

    monkeypatch.setattr(bootstrap, "kubectl", kubectl)
    bootstrap.reclaim()
    assert list(released.iterdir()) == []
    assert [p.name for p in bound.iterdir()] == ["keep"]
    assert [p.name for p in outside.iterdir()] == ["keep"]
    patch = (
        '[{"op": "test", "path": "/metadata/resourceVersion", "value": "42"}, '
        '{"op": "remove", "path": "/spec/claimRef"}]'
    )
    assert calls == [
        ("get", "pv", "-l", "forumops.test/rehearsal-pv", "-o", "json"),
        ("patch", "pv", "pv-01", "--type=json", "-p", patch),
        ("patch", "pv", "x", "--type=json", "-p", patch),
    ]
    assert capsys.readouterr().out == "[rehearsal] reclaimed 2 released PersistentVolume(s)\n"
