"""The CRDs of the operators our roles talk to, read from the published Go module zips."""

import re
from pathlib import Path

from .build import go_mod_download
from .common import RehearsalError, say
from .kube import apply, kubectl

CRD_SOURCES = [
    (
        "CloudNativePG",
        "github.com/cloudnative-pg/cloudnative-pg",
        "CNPG_VERSION",
        ["config/crd/bases/*.yaml"],
    ),
    (
        "Barman Cloud plugin",
        "github.com/cloudnative-pg/plugin-barman-cloud",
        "BARMAN_CLOUD_VERSION",
        ["config/crd/bases/*.yaml"],
    ),
    # The Helm chart's CRD templates are what users install; deploy/crds says it may be incomplete.
    (
        "cert-manager",
        "github.com/cert-manager/cert-manager",
        "CERT_MANAGER_VERSION",
        ["deploy/charts/cert-manager/templates/crd-*.yaml"],
    ),
    ("Gateway API", "sigs.k8s.io/gateway-api", "GATEWAY_API_VERSION", ["config/crd/standard/*.yaml"]),
    (
        "Prometheus operator",
        "github.com/prometheus-operator/prometheus-operator",
        "PROMETHEUS_OPERATOR_VERSION",
        [
            "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
        ],
    ),
]


def render_helm_crd(text, path):
    """cert-manager's chart wraps each CRD in `if .Values.crds.enabled` and adds labels; render
    the defaults by hand (no Helm here) and refuse anything we do not understand."""
    text = re.sub(
        r"^\s*\{\{-? if \.Values\.crds\.keep \}\}\n.*?^\s*\{\{-? end \}\}\n", "", text, flags=re.M | re.S
    )
    text = re.sub(
        r"^\s*\{\{-? include \"cert-manager\.crd-labels\" \. \| nindent (\d+) \}\}\n",
        lambda m: (
            " " * int(m.group(1))
            + "app.kubernetes.io/name: cert-manager\n"
            + " " * int(m.group(1))
            + "app.kubernetes.io/instance: cert-manager\n"
        ),
        text,
        flags=re.M,
    )
    text = re.sub(r"^\{\{-? (if .*|end) \}\}\n?", "", text, flags=re.M)
    if "{{" in text:
        line = next(line for line in text.splitlines() if "{{" in line)
        raise RehearsalError(f"cannot render Helm template {path}: {line.strip()}")
    return text


def crd_documents(versions):
    documents = []
    for label, module, key, patterns in CRD_SOURCES:
        version = versions[key]
        module_dir = Path(go_mod_download(module, version)["Dir"])
        files = sorted(f for pattern in patterns for f in module_dir.glob(pattern))
        if not files:
            raise RehearsalError(f"no CRDs in {module}@{version} under {', '.join(patterns)}")
        for file in files:
            text = file.read_text()
            if "{{" in text:
                text = render_helm_crd(text, file)
            documents.append(text)
        say(f"  {label} {version}: {len(files)} file(s)")
    return "\n---\n".join(documents)


def install_crds(versions):
    say("installing CRDs from the Go module proxy")
    applied = apply(crd_documents(versions)).stdout.split()
    crds = [name for name in applied if name.startswith("customresourcedefinition")]
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *crds)
    say(f"  {len(crds)} CRDs established")
