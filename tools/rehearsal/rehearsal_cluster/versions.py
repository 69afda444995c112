"""The versions the cluster runs: versions.env (control plane, kwok) and preflight.py's pins."""

import re

from .common import REPO_ROOT, TOOL_DIR

# The operators a site is tested against are the ones the preflight tells users to install: their
# versions live in plugins/module_utils/preflight.py only, and the rehearsal reads them from there.
PREFLIGHT = REPO_ROOT / "plugins" / "module_utils" / "preflight.py"
PREFLIGHT_VERSIONS = ("CNPG_VERSION", "BARMAN_CLOUD_VERSION", "CERT_MANAGER_VERSION", "GATEWAY_API_VERSION")


def load_versions():
    versions = {}
    for line in (TOOL_DIR / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    text = PREFLIGHT.read_text()
    for key in PREFLIGHT_VERSIONS:
        match = re.search(rf'^{key} = "v?([^"]+)"$', text, re.M)
        if not match:
            raise SystemExit(f'{PREFLIGHT} has no {key} = "..." line')
        versions[key] = "v" + match[1]  # Go module versions start with v
    return versions
