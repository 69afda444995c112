"""The web pod's /shared layout and its log container, run with the real bash and GNU tail.

Upstream (discourse/discourse_docker e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd,
templates/web.template.yml, vendored under tests/fixtures/upstream): the code hook builds /shared
(log files that ``$home/log`` links to, uploads, backups, tmp) in the image; Kubernetes' emptyDir at
/shared hides it, so the pods must rebuild exactly that layout. Unicorn then reopens stdout and
stderr into ``log/unicorn.*.log`` in production (discourse/discourse config/unicorn.conf.rb:
``stderr_path``/``stdout_path`` under ``if ENV["RAILS_ENV"] == "production"``), and nginx writes
``access_log /var/log/nginx/access.log`` (config/nginx.sample.conf): so ``kubectl logs`` shows them
only through the log container.
"""

from __future__ import annotations

import re
import subprocess
import time

import yaml

from tests.fixtures.ansible import REPO_ROOT
from tests.integration.test_app import render_app

UPSTREAM = REPO_ROOT / "tests/fixtures/upstream/discourse_docker"


def tree(root):
    return sorted((p.relative_to(root).as_posix(), p.is_dir()) for p in root.rglob("*"))


def web_pod(tmp_path):
    documents = render_app(tmp_path)
    web = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("-web"))
    return web["spec"]["template"]


def without_chown(command):
    return " && ".join(part for part in command.split(" && ") if not part.strip().startswith("chown "))


def test_the_web_container_rebuilds_upstreams_shared_layout_before_booting(tmp_path):
    template = web_pod(tmp_path)
    command = template["spec"]["containers"][0]["command"]
    assert command[:2] == ["/bin/bash", "-c"] and command[2].endswith(" && exec /sbin/boot")
    ours = command[2].removesuffix(" && exec /sbin/boot")

    web = yaml.safe_load((UPSTREAM / "templates/web.template.yml").read_text())
    code = next(
        row["exec"]
        for row in web["run"]
        if isinstance(row.get("exec"), dict) and row["exec"].get("hook") == "code"
    )
    # what it creates under /shared; the `ln -s` lines point into the image's $home, which is not hidden
    upstream = [line for line in code["cmd"] if "/shared" in line and "ln " not in line]
    # the chown lines name the same directories; neither can run here (no discourse user)
    chown = next(c for c in upstream if c.startswith("chown"))
    assert ours.split(" && ")[-1] == re.sub(r"\s+", " ", chown)

    roots = {"upstream": tmp_path / "upstream", "ours": tmp_path / "ours"}
    scripts = {
        "upstream": " && ".join(c for c in upstream if not c.startswith("chown")),
        "ours": without_chown(ours),
    }
    for name, root in roots.items():
        root.mkdir()
        script = scripts[name].replace("/shared", f"{root}/shared")
        subprocess.run(["/bin/bash", "-c", script], check=True)
    assert tree(roots["ours"]) == tree(roots["upstream"])
    assert ("shared/log/rails/unicorn.stderr.log", False) in tree(roots["ours"])


def test_the_log_container_streams_rails_and_nginx_files_without_headers(tmp_path):
    template = web_pod(tmp_path)
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "logs"
    logs = next(c for c in template["spec"]["containers"] if c["name"] == "logs")
    assert logs["securityContext"]["runAsNonRoot"] is True
    assert {m["mountPath"] for m in logs["volumeMounts"]} == {"/shared", "/var/log/nginx"}
    command = logs["command"]
    assert command[:5] == ["tail", "-q", "-n", "+1", "-F"]

    root = tmp_path / "pod"
    files = {path: root / path.lstrip("/") for path in command[5:]}
    assert set(files) >= {"/shared/log/rails/production.log", "/var/log/nginx/access.log"}
    rails, access = files["/shared/log/rails/production.log"], files["/var/log/nginx/access.log"]
    rails.parent.mkdir(parents=True)
    rails.write_text('Started GET "/latest" for 203.0.113.7\n')  # written before tail starts
    # nginx's directory appears later, as the emptyDir is filled once the main container boots
    with subprocess.Popen(
        [*command[:5], *map(str, files.values())],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as tail:
        try:
            time.sleep(1.5)
            access.parent.mkdir(parents=True)
            access.write_text(
                '[02/Dec/2026:16:00:00 +0000] "forum.app.test" 203.0.113.7 "GET /latest HTTP/1.1" 200\n'
            )
            with rails.open("a") as handle:
                handle.write("Completed 200 OK in 12ms\n")
            lines = []
            deadline = time.monotonic() + 15
            while len(lines) < 3 and time.monotonic() < deadline:
                lines.append(tail.stdout.readline().rstrip("\n"))
        finally:
            tail.terminate()
    print("\n".join(lines))
    assert sorted(lines) == sorted(
        [
            'Started GET "/latest" for 203.0.113.7',
            "Completed 200 OK in 12ms",
            '[02/Dec/2026:16:00:00 +0000] "forum.app.test" 203.0.113.7 "GET /latest HTTP/1.1" 200',
        ]
    )
