"""Certificates (a private CA, the API server's, the clients'), the service-account signing key,
and the kubeconfig that embeds them."""

import base64
import json
import shutil
import subprocess

from .common import HOST, PORTS, SERVICE_API_IP, STATE_DIR, say


def openssl(*args):
    subprocess.run(["openssl", *args], cwd=STATE_DIR / "pki", check=True, capture_output=True)


# A new P-256 key, unencrypted (the rehearsal's processes read it without a passphrase).
NEW_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def issue_certificate(name, subject, extensions):
    ext_file = STATE_DIR / "pki" / f"{name}.ext"
    ext_file.write_text("\n".join(extensions) + "\n")
    openssl(
        "req",
        "-new",
        *NEW_EC_KEY,
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        subject,
    )
    openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        ext_file.name,
        "-out",
        f"{name}.crt",
    )


def ensure_pki():
    pki = STATE_DIR / "pki"
    if (pki / "complete").exists():
        return
    shutil.rmtree(pki, ignore_errors=True)
    pki.mkdir(parents=True)
    say("generating certificates and the service-account signing key")
    openssl(
        "req",
        "-x509",
        *NEW_EC_KEY,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "3650",
        "-subj",
        "/CN=forumops-rehearsal-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    names = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{HOST}", f"IP:{SERVICE_API_IP}"])
    issue_certificate(
        "apiserver",
        "/CN=kube-apiserver",
        [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=serverAuth",
            f"subjectAltName={san}",
        ],
    )
    # system:masters: the admin, and the controller-manager, scheduler and kwok, which act as it.
    issue_certificate(
        "admin",
        "/O=system:masters/CN=forumops-rehearsal-admin",
        [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=clientAuth",
        ],
    )
    # The aggregation layer's client identity; with it the components stop complaining about a
    # missing requestheader CA, and aggregated APIs (metrics-server, ...) could be added.
    issue_certificate(
        "front-proxy-client",
        "/CN=front-proxy-client",
        [
            "basicConstraints=CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=clientAuth",
        ],
    )
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key")
    openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub")
    for leftover in pki.glob("*.csr"):
        leftover.unlink()
    (pki / "complete").touch()


def write_kubeconfig():
    pki = STATE_DIR / "pki"

    def data(name):
        return base64.b64encode((pki / name).read_bytes()).decode()

    # JSON is valid YAML; everything is embedded so the file can be copied anywhere.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "rehearsal",
                "cluster": {
                    "server": f"https://{HOST}:{PORTS['kube-apiserver']}",
                    "certificate-authority-data": data("ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": "rehearsal-admin",
                "user": {"client-certificate-data": data("admin.crt"), "client-key-data": data("admin.key")},
            }
        ],
        "contexts": [{"name": "rehearsal", "context": {"cluster": "rehearsal", "user": "rehearsal-admin"}}],
        "current-context": "rehearsal",
    }
    path = STATE_DIR / "kubeconfig"
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
