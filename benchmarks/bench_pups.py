"""Median time of one pups render: five templates, about 90 run rows, hooks, tags and params.

Run: .venv/bin/python benchmarks/bench_pups.py [--renders N]
Prints the median milliseconds per render and the ratio to a baseline measured in the same process
(a plain PyYAML safe load of the same documents, with libyaml when present), so that numbers
from different machines compare.
Exits non-zero when the median is over the 20 ms target.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]

import yaml  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import pups  # noqa: E402

TARGET_MS = 20.0


def template(index, rows):
    """A template in the shape of discourse_docker's: env, params, tagged rows, hook anchors, replaces."""
    lines = [
        "env:",
        f"  T{index}_WORKERS: {index + 2}",
        f"  T{index}_FLAG: yes",
        "params:",
        f"  home{index}: /var/www/t{index}",
        f"  rate{index}: {10 + index}",
        "run:",
    ]
    tags = ["build", "migrate", "precompile", "db", None]
    for row in range(rows):
        tag = tags[row % len(tags)]
        tag_line = [f"      tag: {tag}"] if tag else []
        kind = row % 3
        if kind == 0:
            lines += ["  - exec:", f"      cd: $home{index}", f"      hook: h{index}_{row}", *tag_line]
            lines += ["      cmd:", f"        - echo {row} $home{index} $$ENV_T{index}_WORKERS"]
            lines += ["        - echo done"]
        elif kind == 1:
            lines += ["  - file:", f"      path: $home{index}/f{row}", *tag_line, "      chmod: '+x'"]
            lines += ["      contents: |", "        #!/bin/bash", f"        exec run $rate{index}r/s"]
        else:
            lines += ["  - replace:", f"      filename: /etc/t{index}.conf", *tag_line]
            lines += ["      from: /^limit.*$/", f"      to: 'limit $rate{index}r/s'", "      global: true"]
    lines += ["hooks:", f"  after_h{index}_0:", f"    - exec: echo after {index}"]
    lines += [f"  before_h{index}_3:", f"    - exec: echo before {index}"]
    return "\n".join(lines) + "\n"


def config_text(names):
    lines = ["templates:"] + [f"  - {name}" for name in names]
    lines += ["expose:", "  - '80:80'", "env:", "  LANG: en_US.UTF-8"]
    lines += ["  DISCOURSE_HOSTNAME: forum.example.com"]
    lines += ["hooks:", "  after_h0_0:", "    - exec:", "        cd: $home0/plugins", "        cmd:"]
    lines += [f"          - git clone https://example.com/plugin-{i}.git" for i in range(4)]
    return "\n".join(lines) + "\n"


def measure(function, renders):
    times = []
    for _unused in range(renders):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "templates"))
        names = []
        for index in range(5):
            name = f"templates/t{index}.template.yml"
            with open(os.path.join(root, name), "w", encoding="utf-8") as handle:
                handle.write(template(index, 18))
            names.append(name)
        config_path = os.path.join(root, "app.yml")
        with open(config_path, "w", encoding="utf-8") as handle:
            handle.write(config_text(names))

        result = pups.render_files(root, config_path, skip_tags=["precompile", "migrate", "db"])
        sources = pups.read_templates(root, names)
        rows = sum(len((pups.psych_safe_load(text) or {}).get("run") or []) for _unused, text in sources)
        documents = [doc for doc, _unused, _unused in pups.split_documents(result["pups_input"])]

        def render():
            pups.render_files(root, config_path, skip_tags=["precompile", "migrate", "db"], params={"v": "1"})

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        def baseline():
            for doc in documents:
                yaml.load(doc, Loader=loader)

        for _unused in range(5):
            render()
            baseline()
        median = measure(render, args.renders)
        base = measure(baseline, args.renders)

    print(f"templates: 5, run rows: {rows}, rows after the build filter and hooks: {len(result['run'])}")
    print(f"renders: {args.renders}")
    print(f"render median: {median:.2f} ms (target < {TARGET_MS:.0f} ms)")
    print(f"baseline: plain yaml.load({loader.__name__}) of the same documents: {base:.2f} ms")
    print(f"ratio render/baseline: {median / base:.2f}")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
