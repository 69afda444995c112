"""Geolocation: an init container puts MaxMind's GeoLite2 databases where Discourse opens them.

Upstream (discourse/discourse lib/discourse_ip_info.rb; the path and file names at
046e68c7e2f607bfdb16c5a4ced687cb7eeb4fbb, the download in the current version): ``DiscourseIpInfo.path``
is ``Rails.root/vendor/data`` and it opens ``GeoLite2-City.mmdb`` and ``GeoLite2-ASN.mmdb`` there;
``mmdb_download`` fetches ``File.join(maxmind_mirror_url, "<edition>.tar.gz")`` when a mirror is set,
else ``https://download.maxmind.com/geoip/databases/<edition>/download?suffix=tar.gz`` with
``Authorization: Basic base64(account_id:license_key)``, and moves every ``**/*.mmdb`` of the tarball
into place. vendor/data also holds ``RT_sRGB.icm`` (vendor/data at 01d0aeb5a92db340aaba044b2ab1dd2fc27a5964),
so the files are mounted one by one. discourse_docker image/base/Dockerfile
(e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd) installs curl in the base image the init container runs.

The init container's script is taken from the rendered Deployment and run here by the real bash,
curl and tar against a local HTTP server standing in for MaxMind and for a mirror.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.fixtures.rehearsal import kubectl
from tests.integration.test_app import SITE, converge, empty_kubeconfig, render_app

ACCOUNT, LICENSE = "123456", "lic_Abc123XyZ_mmk"
DATABASES = {"GeoLite2-City": b"city-mmdb-bytes\x00\x01", "GeoLite2-ASN": b"asn-mmdb-bytes\x00\x02"}
MOUNTS = [
    {
        "name": "maxmind",
        "mountPath": f"/var/www/discourse/vendor/data/{edition}.mmdb",
        "subPath": f"{edition}.mmdb",
        "readOnly": True,
    }
    for edition in ("GeoLite2-City", "GeoLite2-ASN")
]


def tarball(edition):
    """Shaped like MaxMind's: <edition>_<date>/ with the .mmdb and its licence files."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in ((f"{edition}.mmdb", DATABASES[edition]), ("LICENSE.txt", b"licence\n")):
            info = tarfile.TarInfo(f"{edition}_20261201/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.fixture(scope="module")
def maxmind_server():
    """MaxMind's download URL with Basic auth, and a mirror without; records every request."""
    requests = []
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT}:{LICENSE}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append((self.path, self.headers.get("Authorization")))
            for edition in DATABASES:
                if self.path == f"/geoip/databases/{edition}/download?suffix=tar.gz":
                    if self.headers.get("Authorization") != expected_auth:
                        return self.send_error(401)
                    return self.reply(tarball(edition))
                if self.path == f"/mirror/{edition}.tar.gz":
                    return self.reply(tarball(edition))
            return self.send_error(404)

        def reply(self, body):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "requests": requests}
    server.shutdown()


def pod_specs(documents):
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in documents if d["kind"] == "Deployment"
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("maxmind")
    return render_app(
        tmp_path,
        "-e",
        "discourse_app_maxmind_existing_secret=geo",
        "-e",
        "discourse_app_sidekiq_mode=separated",
    )


def run_init(container, tmp_path, **env):
    """The init container's command in a scratch directory standing for its /maxmind volume."""
    target = tmp_path / "maxmind"
    target.mkdir()
    script = container["command"][2].replace("cd /maxmind", f"cd {target}")
    values = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    result = subprocess.run(
        [*container["command"][:2], script],
        env={"PATH": os.environ["PATH"], **values, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, {p.name: p.read_bytes() for p in target.iterdir()}


def test_web_and_sidekiq_pods_get_the_init_container_and_the_two_files(rendered):
    for name, spec in pod_specs(rendered).items():
        [init] = spec["initContainers"]
        assert init["name"] == "maxmind", name
        assert init["volumeMounts"] == [{"name": "maxmind", "mountPath": "/maxmind"}]
        # Only what the download needs, the credentials by reference.
        assert init["env"] == [
            {"name": "FORUMOPS_MAXMIND_URL", "value": "https://download.maxmind.com/geoip/databases"},
            {
                "name": "DISCOURSE_MAXMIND_ACCOUNT_ID",
                "valueFrom": {"secretKeyRef": {"name": "geo", "key": "account-id"}},
            },
            {
                "name": "DISCOURSE_MAXMIND_LICENSE_KEY",
                "valueFrom": {"secretKeyRef": {"name": "geo", "key": "license-key"}},
            },
        ]
        assert init["securityContext"]["runAsNonRoot"] is True
        main = spec["containers"][0]
        assert [m for m in main["volumeMounts"] if m["name"] == "maxmind"] == MOUNTS, name
        assert {"name": "maxmind", "emptyDir": {}} in spec["volumes"]
        # Upstream's own variables reach Discourse too (its admin problem check reads them).
        assert {e["name"] for e in main["env"]} >= {
            "DISCOURSE_MAXMIND_ACCOUNT_ID",
            "DISCOURSE_MAXMIND_LICENSE_KEY",
        }
    assert sorted(pod_specs(rendered)) == ["app-forum-sidekiq", "app-forum-web"]
    egress = next(
        d for d in rendered if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("egress")
    )
    assert {
        "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    } in egress["spec"]["egress"]


def test_without_maxmind_no_init_container_and_no_mount(tmp_path):
    for spec in pod_specs(render_app(tmp_path)).values():
        assert "initContainers" not in spec
        assert all(v["name"] != "maxmind" for v in spec["volumes"])


def test_the_init_container_downloads_with_basic_auth_and_unpacks(rendered, maxmind_server, tmp_path):
    init = pod_specs(rendered)["app-forum-web"]["initContainers"][0]
    start = len(maxmind_server["requests"])

    result, files = run_init(
        init,
        tmp_path,
        FORUMOPS_MAXMIND_URL=maxmind_server["url"] + "/geoip/databases",
        DISCOURSE_MAXMIND_ACCOUNT_ID=ACCOUNT,
        DISCOURSE_MAXMIND_LICENSE_KEY=LICENSE,
    )

    assert result.returncode == 0, result.stderr
    assert files == {f"{edition}.mmdb": data for edition, data in DATABASES.items()}
    assert [path for path, _auth in maxmind_server["requests"][start:]] == [
        "/geoip/databases/GeoLite2-City/download?suffix=tar.gz",
        "/geoip/databases/GeoLite2-ASN/download?suffix=tar.gz",
    ]
    assert LICENSE not in result.stdout + result.stderr


def test_a_mirror_needs_no_credentials(tmp_path, maxmind_server):
    documents = render_app(
        tmp_path, "-e", f"discourse_app_maxmind_mirror_url={maxmind_server['url']}/mirror/"
    )
    init = pod_specs(documents)["app-forum-web"]["initContainers"][0]
    assert [e["name"] for e in init["env"]] == ["FORUMOPS_MAXMIND_URL", "DISCOURSE_MAXMIND_MIRROR_URL"]
    egress = next(
        d for d in documents if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("egress")
    )
    # The egress rule follows the mirror's port.
    port = int(maxmind_server["url"].rsplit(":", 1)[1])
    assert egress["spec"]["egress"][-1]["ports"] == [{"port": port, "protocol": "TCP"}]
    start = len(maxmind_server["requests"])

    result, files = run_init(init, tmp_path)

    assert result.returncode == 0, result.stderr
    assert files == {f"{edition}.mmdb": data for edition, data in DATABASES.items()}
    # File.join collapses the slash between the mirror URL and the file name.
    assert maxmind_server["requests"][start:] == [
        ("/mirror/GeoLite2-City.tar.gz", None),
        ("/mirror/GeoLite2-ASN.tar.gz", None),
    ]


def test_a_refused_download_leaves_empty_files_and_the_pod_starts(rendered, maxmind_server, tmp_path):
    init = pod_specs(rendered)["app-forum-web"]["initContainers"][0]

    result, files = run_init(
        init,
        tmp_path,
        FORUMOPS_MAXMIND_URL=maxmind_server["url"] + "/geoip/databases",
        DISCOURSE_MAXMIND_ACCOUNT_ID=ACCOUNT,
        DISCOURSE_MAXMIND_LICENSE_KEY="wrong-key",
    )

    assert result.returncode == 0
    assert files == {"GeoLite2-City.mmdb": b"", "GeoLite2-ASN.mmdb": b""}
    assert result.stderr.count("could not fetch") == 2, result.stderr
    assert "wrong-key" not in result.stdout + result.stderr


@pytest.mark.rehearsal
def test_the_api_server_accepts_the_pods_with_the_init_container(rehearsal_namespace, tmp_path):
    ns = rehearsal_namespace
    render_dir = tmp_path / "render"
    result = converge(
        ns,
        "-e",
        f"discourse_render_dir={render_dir}",
        "-e",
        json.dumps({"discourse_app_maxmind_existing_secret": "geo", "discourse_app_sidekiq_mode": "hybrid"}),
        kubeconfig=empty_kubeconfig(tmp_path),
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert yaml.safe_load((render_dir / SITE / "kustomization.yaml").read_text())["resources"] == ["app.yaml"]

    dry_run = kubectl("apply", "--server-side", "--dry-run=server", "-k", str(render_dir / SITE), check=False)

    assert dry_run.returncode == 0, dry_run.stderr
    assert "deployment.apps/app-forum-web serverside-applied (server dry run)" in dry_run.stdout
    assert "deployment.apps/app-forum-sidekiq serverside-applied (server dry run)" in dry_run.stdout
