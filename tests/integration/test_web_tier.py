"""The image's nginx, built the way the image build builds it, run in Debian's nginx behind an ingress.

Upstream: discourse/discourse ``config/nginx.sample.conf`` (tests/fixtures/upstream/discourse, see its
PROVENANCE) is copied and edited by the pups ``exec``/``replace``/``file`` rows of the lock's templates
(images/default.yml: web, web.ratelimited, offline-page) at discourse/discourse_docker
e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd (tests/fixtures/upstream/discourse_docker), rendered by our
pups emulation from the container config the discourse_image role generates. pups runs each exec
command through a shell (discourse/pups 2069d66f3991b9edc8b34805cef8787296b75393,
lib/pups/exec_command.rb: ``IO.popen(command)``); so do we. Our addition is the discourse_app role's
realip snippet, taken from the role's rendered ConfigMap and put where its Deployment mounts it.

The tree starts from Debian's /etc/nginx (discourse/base runs nginx on Debian). Only file locations
move for the test: absolute paths under /etc/nginx, /var/www, /var/nginx and /var/log/nginx point into
a temporary root, the pod listens on a loopback port instead of 80, and the Unicorn upstream
(127.0.0.1:3000 in the sample) is a stub app on a free port. A second Debian nginx plays
ingress-nginx: it appends X-Forwarded-For, sends X-Forwarded-Proto https (TLS ends there) and connects
from 127.0.0.10. Clients connect from their own loopback addresses.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from ansible_collections.forumops.discourse.plugins.module_utils import image, pups
from tests.fixtures.ansible import REPO_ROOT
from tests.integration.test_app import render_app

UPSTREAM = REPO_ROOT / "tests/fixtures/upstream"
LOCK = yaml.safe_load((REPO_ROOT / "images/default.yml").read_text())
INGRESS_ADDRESS = "127.0.0.10"
MOVED = ("/etc/nginx", "/var/www/", "/var/nginx", "/var/log/nginx")
OFFLINE_PAGE = "<html><body>forum offline (stand-in for discourse-offline-page)</body></html>\n"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def moved(text, root):
    for prefix in MOVED:
        text = text.replace(prefix, f"{root}{prefix}")
    return text


def image_nginx_tree(root):
    """Run the nginx part of the build into ``root``; returns the rendered pups rows applied."""
    shutil.copytree("/etc/nginx", root / "etc/nginx", symlinks=True)
    (root / "var/www/discourse/config").mkdir(parents=True)
    (root / "var/www/discourse/public").mkdir()
    shutil.copy(UPSTREAM / "discourse/nginx.sample.conf", root / "var/www/discourse/config/nginx.sample.conf")
    config = image.container_config(
        LOCK["templates"],
        LOCK["discourse"]["version"],
        params=LOCK["params"],
        env=LOCK["env"],
        precompile=LOCK["image"]["precompile"],
    )
    templates = pups.read_templates(UPSTREAM / "discourse_docker", config["templates"])
    rendered = pups.render(pups.dump_config(config), templates, "app")
    applied = []
    for row in rendered["run"]:
        for kind, body in row.items():
            if kind == "exec":
                for command in pups.exec_commands(body, None):
                    if any(prefix in command for prefix in ("/etc/nginx", "/var/nginx")):
                        result = subprocess.run(
                            ["/bin/sh", "-c", moved(command, root)],
                            capture_output=True,
                            text=True,
                            check=False,
                        )
                        assert result.returncode == 0 or body.get("raise_on_fail") is False, (command, result)
                        applied.append(("exec", command))
            elif kind == "file" and body["path"].startswith("/etc/nginx/"):
                path = Path(moved(body["path"], root))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(body.get("contents") or "")
                applied.append(("file", body["path"]))
            elif kind == "replace" and body["filename"].startswith("/etc/nginx/"):
                path = Path(moved(body["filename"], root))
                path.write_text(pups.apply_replace(path.read_text(), body, {}))
                applied.append(("replace", body["filename"]))
    return applied


def role_real_ip(tmp_path, cidrs):
    """The realip snippet and its mount path, as the discourse_app role renders the test site."""
    documents = render_app(tmp_path, "-e", json.dumps({"discourse_app_trusted_proxy_cidrs": cidrs}))
    config_map = next(
        d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-nginx")
    )
    web = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-web"))
    mounts = web["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    mount = next(m for m in mounts if m.get("subPath") == "real-ip.conf")
    return config_map["data"]["real-ip.conf"], mount["mountPath"]


class StubApp(BaseHTTPRequestHandler):
    """Unicorn's place: answers every request and records what nginx forwarded."""

    protocol_version = "HTTP/1.1"
    seen: list = []
    release = threading.Event()

    def log_message(self, *args):
        pass

    def record(self, received=0):
        self.seen.append(
            {
                "path": self.path,
                "real_ip": self.headers.get("X-Real-IP"),
                "forwarded_for": self.headers.get("X-Forwarded-For"),
                "proto": self.headers.get("X-Forwarded-Proto"),
                "received": received,
            }
        )

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.record()
        if self.path.startswith("/message-bus/"):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in (b"first\n", None, b"second\n", b""):
                if chunk is None:
                    self.release.wait(20)
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            return
        self.reply(b"ok" if self.path == "/srv/status" else b"app")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        remaining = length
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        self.record(received=length)
        self.reply(str(length).encode())


def start_nginx(config, error_log):
    check = subprocess.run(
        ["nginx", "-t", "-e", str(error_log), "-c", str(config), "-g", f"pid {config}.pid;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    return subprocess.Popen(
        ["nginx", "-e", str(error_log), "-c", str(config), "-g", f"pid {config}.pid;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(port, process):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nginx did not listen on {port}")


class WebTier:
    """The pod's nginx (with ``real_ip``, the role's snippet, or none: upstream alone), the stub app
    and the ingress nginx."""

    def __init__(self, tmp_path, real_ip=None):
        # Not under pytest's 0700 tmp_path: nginx's workers run as www-data and must read the tree.
        self.root = Path(tempfile.mkdtemp(prefix="web-tier-", dir="/tmp"))
        self.root.chmod(0o755)
        self.tmp_path = tmp_path
        self.real_ip = real_ip
        self.processes = []

    def __enter__(self):
        root = self.root
        self.applied = image_nginx_tree(root)
        conf_d = root / "etc/nginx/conf.d"
        self.built = {p.relative_to(conf_d).as_posix(): p.read_text() for p in conf_d.rglob("*.conf")}
        if self.real_ip is not None:
            text, mount_path = self.real_ip
            Path(moved(mount_path, root)).write_text(text)
        offline = root / "var/www/discourse-offline-page/html"
        offline.mkdir(parents=True)
        (offline / "error_page.html").write_text(OFFLINE_PAGE)
        self.app_port, self.pod_port, self.ingress_port = free_port(), free_port(), free_port()
        (conf_d / "outlets/server/10-http.conf").write_text(f"listen 127.0.0.1:{self.pod_port};\n")
        site = conf_d / "discourse.conf"
        site.write_text(
            site.read_text().replace("server 127.0.0.1:3000;", f"server 127.0.0.1:{self.app_port};")
        )
        for path in (root / "etc/nginx").rglob("*"):
            if path.is_file() and not path.is_symlink():
                path.write_text(moved(path.read_text(), root))
        for sub in ("var/log/nginx", "var/nginx/cache"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for path in [root, *root.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)

        StubApp.seen = []
        StubApp.release = threading.Event()
        self.app = ThreadingHTTPServer(("127.0.0.1", self.app_port), StubApp)
        self.app.daemon_threads = True
        threading.Thread(target=self.app.serve_forever, daemon=True).start()

        pod = start_nginx(root / "etc/nginx/nginx.conf", root / "pod-error.log")
        self.processes.append(pod)
        ingress_conf = root / "ingress.conf"
        ingress_conf.write_text(
            # Its own temporary files: nginx hands its temp directories to its worker user.
            "daemon off;\nuser www-data;\nworker_processes 1;\nevents {}\nhttp {\n  access_log off;\n"
            f"  client_body_temp_path {root}/ingress-body;\n  proxy_temp_path {root}/ingress-proxy;\n"
            f"  server {{\n    listen 127.0.0.1:{self.ingress_port};\n    client_max_body_size 0;\n"
            "    location / {\n"
            f"      proxy_pass http://127.0.0.1:{self.pod_port};\n      proxy_bind {INGRESS_ADDRESS};\n"
            "      proxy_http_version 1.1;\n      proxy_buffering off;\n"
            "      proxy_set_header Host $host;\n"
            "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "      proxy_set_header X-Forwarded-Proto https;\n    }\n  }\n}\n"
        )
        ingress = start_nginx(ingress_conf, root / "ingress-error.log")
        self.processes.append(ingress)
        wait_for(self.pod_port, pod)
        wait_for(self.ingress_port, ingress)
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(10)
        self.app.shutdown()
        self.app.server_close()
        shutil.rmtree(self.root, ignore_errors=True)

    def request(self, client, path, port=None, headers=None, method="GET", body=None, timeout=10):
        conn = http.client.HTTPConnection(
            "127.0.0.1", port or self.ingress_port, timeout=timeout, source_address=(client, 0)
        )
        try:
            conn.request(method, path, body=body, headers={"Host": "forum.app.test", **(headers or {})})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def burst(self, client, count, headers=None):
        """``count`` requests as fast as one client sends them; returns the status codes."""
        return [self.request(client, "/t/some-topic/1", headers=headers)[0] for _unused in range(count)]


@pytest.fixture(scope="module")
def role_snippet(tmp_path_factory):
    return role_real_ip(tmp_path_factory.mktemp("role"), [f"{INGRESS_ADDRESS}/32"])


def test_build_produces_upstreams_outlets_and_our_snippet_is_rendered_by_the_role(role_snippet, tmp_path):
    text, mount_path = role_snippet
    assert mount_path == "/etc/nginx/conf.d/outlets/before-server/10-real-ip.conf"
    assert text.splitlines()[1:] == [
        f"set_real_ip_from {INGRESS_ADDRESS}/32;",
        "real_ip_header X-Forwarded-For;",
        "real_ip_recursive on;",
    ]
    with WebTier(tmp_path, role_snippet) as tier:
        built = tier.built
        # web.template.yml moves `listen 80;` into the server outlet (two lines where IPv6 exists)
        assert built["outlets/server/10-http.conf"].splitlines()[0] == "listen 80;"
        assert "listen 80;" not in built["discourse.conf"]
        # upload_size of the lock (20m), through web.template.yml's replace
        assert f"client_max_body_size {LOCK['params']['upload_size']};" in built["discourse.conf"]
        reqs = LOCK["params"]["reqs_per_second"]
        assert f"zone=flood:10m rate={reqs}r/s;" in built["outlets/before-server/30-ratelimited.conf"]
        assert "error_page 502 /error_page.html;" in built["outlets/server/30-offline-page.conf"]
        assert ("replace", "/etc/nginx/conf.d/discourse.conf") in tier.applied
        status, body = tier.request("127.0.0.2", "/srv/status")
        print(f"/srv/status through ingress and pod nginx: {status} {body!r}")
        assert (status, body) == (200, b"ok")


def test_each_client_behind_the_ingress_has_its_own_rate_limit_budget(role_snippet, tmp_path):
    with WebTier(tmp_path, role_snippet) as tier:
        first = tier.burst("127.0.0.2", 30)
        second = tier.burst("127.0.0.3", 10)
        print(
            f"127.0.0.2: {first.count(200)} x 200, {first.count(429)} x 429 of 30; "
            f"127.0.0.3 right after: {second.count(200)} x 200, {second.count(429)} x 429 of 10"
        )
        assert first.count(429) > 0 and set(first) == {200, 429}
        assert second == [200] * 10
        seen = {entry["real_ip"] for entry in StubApp.seen}
        assert seen == {"127.0.0.2", "127.0.0.3"}, seen


def test_a_spoofed_forwarded_for_does_not_move_the_limit(role_snippet, tmp_path):
    with WebTier(tmp_path, role_snippet) as tier:
        exhausted = tier.burst("127.0.0.2", 30)
        # Through the ingress, claiming to be the exhausted client: the ingress appends the real peer.
        spoof_in = tier.burst("127.0.0.4", 10, headers={"X-Forwarded-For": "127.0.0.2"})
        # The exhausted client claiming another address gains nothing either.
        escape = tier.burst("127.0.0.2", 10, headers={"X-Forwarded-For": "203.0.113.9"})
        # Straight at the pod from outside the trusted range: the header is not believed.
        StubApp.seen.clear()
        direct = tier.request(
            "127.0.0.5", "/t/x", port=tier.pod_port, headers={"X-Forwarded-For": "127.0.0.3"}
        )
        print(
            f"exhausted 127.0.0.2: {exhausted.count(429)} x 429 of 30; 127.0.0.4 claiming 127.0.0.2: "
            f"{spoof_in.count(200)} x 200 of 10; "
            f"127.0.0.2 claiming 203.0.113.9: {escape.count(429)} x 429 of 10"
        )
        assert exhausted.count(429) > 0
        assert spoof_in == [200] * 10
        assert escape.count(429) > 0
        assert direct[0] == 200
        assert StubApp.seen[-1]["real_ip"] == "127.0.0.5"
        assert StubApp.seen[-1]["proto"] == "http"


def test_without_the_snippet_everyone_behind_the_ingress_shares_one_budget(tmp_path):
    """Upstream alone (the defect): $binary_remote_addr is the ingress controller's address."""
    with WebTier(tmp_path, real_ip=None) as tier:
        first = tier.burst("127.0.0.2", 30)
        second = tier.burst("127.0.0.3", 10)
        print(f"no realip: 127.0.0.3 after 127.0.0.2: {second.count(429)} x 429 of 10")
        assert first.count(429) > 0
        assert second.count(429) > 0
        assert {entry["real_ip"] for entry in StubApp.seen} == {INGRESS_ADDRESS}


def test_https_scheme_body_size_message_bus_streaming_and_offline_page(role_snippet, tmp_path):
    limit = LOCK["params"]["upload_size"]
    assert limit == "20m"
    with WebTier(tmp_path, role_snippet) as tier:
        tier.request("127.0.0.2", "/latest")
        assert StubApp.seen[-1]["proto"] == "https"

        small = tier.request("127.0.0.2", "/uploads.json", method="POST", body=b"x" * (19 << 20))
        large = tier.request("127.0.0.3", "/uploads.json", method="POST", body=b"x" * (21 << 20))
        print(f"POST 19 MiB: {small[0]} ({small[1].decode()} bytes at the app); POST 21 MiB: {large[0]}")
        assert small == (200, str(19 << 20).encode())
        assert large[0] == 413

        conn = http.client.HTTPConnection(
            "127.0.0.1", tier.ingress_port, timeout=10, source_address=("127.0.0.6", 0)
        )
        conn.request("GET", "/message-bus/abc/poll", headers={"Host": "forum.app.test"})
        response = conn.getresponse()
        # Buffered, this read would wait for the app, which holds the rest until we have read it.
        assert response.read(6) == b"first\n"
        StubApp.release.set()
        assert response.read() == b"second\n"
        conn.close()
        print("/message-bus/ streamed its first chunk while the app still held the response open")

        tier.app.shutdown()
        tier.app.server_close()
        status, body = tier.request("127.0.0.7", "/t/some-topic/1")
        print(f"app down: {status}, offline page served: {body.decode() == OFFLINE_PAGE}")
        assert (status, body.decode()) == (502, OFFLINE_PAGE)
