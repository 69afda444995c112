# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kubeconfig as kubectl reads it: files, merging, contexts, credentials (exec plugins), proxies.

Follows client-go's clientcmd (k8s.io/client-go/tools/clientcmd: loader.go merges the files of
KUBECONFIG, the first name wins, relative paths are relative to the file; client_config.go builds
the connection) and its exec credential plugin (k8s.io/client-go/plugin/pkg/client/auth/exec/exec.go:
the ExecCredential on stdout, KUBERNETES_EXEC_INFO in the plugin's environment, the credential
kept until expirationTimestamp and refreshed after a 401). Standard library plus PyYAML.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse

# libyaml's loader when PyYAML has it: kubeconfigs and manifests parse several times faster.
from ansible.module_utils.common.yaml import yaml_load

try:
    import yaml
except ImportError:  # pragma: no cover - only on a remote host without PyYAML
    yaml = None

IN_CLUSTER_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# The cluster extension an exec plugin gets as spec.cluster.config (client-go exec.go).
EXEC_EXTENSION = "client.authentication.k8s.io/exec"


class KubeError(Exception):
    """An error with a message fit for a user; `status` is the HTTP status when there was one."""

    def __init__(self, message, status=None, reason=None):
        super().__init__(message)
        self.status = status
        self.reason = reason


def kubeconfig_paths(explicit=None, environ=None):
    """The kubeconfig files to read, in order: explicit, K8S_AUTH_KUBECONFIG, KUBECONFIG, ~/.kube/config."""
    environ = os.environ if environ is None else environ
    for value in (explicit, environ.get("K8S_AUTH_KUBECONFIG"), environ.get("KUBECONFIG")):
        if value:
            return [os.path.expanduser(p) for p in str(value).split(os.pathsep) if p]
    return [os.path.join(os.path.expanduser("~"), ".kube", "config")]


def merge_kubeconfigs(documents):
    """Merge kubeconfig documents [(dict, base_dir)] as kubectl does: the first name wins.

    Returns a dict with `clusters`, `users`, `contexts` mapping names to (entry, base_dir) and
    `current-context` (the first non-empty one).
    """
    merged = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    sections = (("clusters", "cluster"), ("users", "user"), ("contexts", "context"))
    for document, base_dir in documents:
        document = document or {}
        for section, key in sections:
            for entry in document.get(section) or []:
                name = entry.get("name")
                if name is not None and name not in merged[section]:
                    merged[section][name] = (entry.get(key) or {}, base_dir)
        if not merged["current-context"] and document.get("current-context"):
            merged["current-context"] = document["current-context"]
    return merged


def _relative(path, base_dir):
    if not path:
        return None
    path = os.path.expanduser(str(path))
    return path if os.path.isabs(path) else os.path.join(base_dir, path)


def _b64(value, what):
    try:
        return base64.b64decode(value)
    except (ValueError, TypeError) as exc:
        raise KubeError(f"kubeconfig {what} is not valid base64: {exc}") from None


def empty_config(server=None):
    """Connection settings with nothing set but the server."""
    return {
        "context": None,
        "server": server,
        "ca_data": None,
        "ca_file": None,
        "insecure": False,
        "tls_server_name": None,
        "proxy_url": None,
        "cert_data": None,
        "cert_file": None,
        "key_data": None,
        "key_file": None,
        "token": None,
        "token_file": None,
        "username": None,
        "password": None,
        "exec": None,
        "impersonate": None,
    }


def _exec_settings(spec, user_name, base_dir, cluster):
    """The exec plugin of a kubeconfig user, checked as client-go checks it."""
    api_version = spec.get("apiVersion")
    if api_version not in EXEC_API_VERSIONS:
        raise KubeError(
            f"kubeconfig user '{user_name}': exec plugin apiVersion {api_version!r} is not one of "
            + ", ".join(EXEC_API_VERSIONS)
        )
    command = spec.get("command")
    if not command:
        raise KubeError(f"kubeconfig user '{user_name}': exec plugin has no command")
    mode = spec.get("interactiveMode") or ("IfAvailable" if api_version.endswith("v1beta1") else None)
    if mode == "Always":
        raise KubeError(
            f"kubeconfig user '{user_name}': exec plugin {command} needs interactiveMode Always, "
            "which a converge cannot give it (no terminal); log in first or use a non-interactive plugin"
        )
    # client-go: a command with a path separator is relative to the kubeconfig's directory.
    if os.sep in command and not os.path.isabs(command):
        command = os.path.join(base_dir, command)
    return {
        "api_version": api_version,
        "command": command,
        "args": [str(a) for a in spec.get("args") or []],
        "env": {str(e["name"]): str(e.get("value", "")) for e in spec.get("env") or []},
        "install_hint": spec.get("installHint") or "",
        "cluster": cluster if spec.get("provideClusterInfo") else None,
    }


def resolve_kubeconfig(merged, context=None):
    """Turn merged kubeconfig documents into connection settings for one context (see empty_config).

    Raises KubeError naming what is missing or unsupported (auth-provider plugins, socks proxies).
    """
    name = context or merged.get("current-context")
    if not name:
        raise KubeError("the kubeconfig has no current-context; set one or pass context")
    if name not in merged["contexts"]:
        known = ", ".join(sorted(merged["contexts"])) or "none"
        raise KubeError(f"context '{name}' is not in the kubeconfig (contexts: {known})")
    ctx, _ctx_dir = merged["contexts"][name]
    cluster_name = ctx.get("cluster")
    if cluster_name not in merged["clusters"]:
        raise KubeError(
            f"context '{name}' names cluster '{cluster_name}', which the kubeconfig does not define"
        )
    cluster, cluster_dir = merged["clusters"][cluster_name]
    user_name = ctx.get("user")
    user, user_dir = merged["users"].get(user_name, ({}, cluster_dir))
    if not cluster.get("server"):
        raise KubeError(f"cluster '{cluster_name}' of the kubeconfig has no server")
    proxy = cluster.get("proxy-url")
    if proxy and urllib.parse.urlsplit(proxy).scheme != "http":
        raise KubeError(
            f"cluster '{cluster_name}' uses proxy-url {urllib.parse.urlsplit(proxy).scheme}://, which "
            "forumops.discourse does not support (http:// CONNECT proxies are)"
        )
    if user.get("auth-provider"):
        provider = user["auth-provider"].get("name", "?")
        raise KubeError(
            f"kubeconfig user '{user_name}' uses the auth-provider '{provider}', which kubectl itself has "
            "dropped: use the provider's exec plugin (gke-gcloud-auth-plugin, kubelogin, ...)"
        )
    config = empty_config(str(cluster["server"]).rstrip("/"))
    ca_data = (
        _b64(cluster["certificate-authority-data"], "certificate-authority-data")
        if cluster.get("certificate-authority-data")
        else None
    )
    config.update(
        context=name,
        ca_data=ca_data,
        ca_file=_relative(cluster.get("certificate-authority"), cluster_dir),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        tls_server_name=cluster.get("tls-server-name") or None,
        proxy_url=proxy or None,
        cert_data=_b64(user["client-certificate-data"], "client-certificate-data")
        if user.get("client-certificate-data")
        else None,
        cert_file=_relative(user.get("client-certificate"), user_dir),
        key_data=_b64(user["client-key-data"], "client-key-data") if user.get("client-key-data") else None,
        key_file=_relative(user.get("client-key"), user_dir),
        token=user.get("token"),
        token_file=_relative(user.get("tokenFile"), user_dir),
        username=user.get("username"),
        password=user.get("password"),
    )
    if user.get("exec"):
        cluster_info = {
            "server": config["server"],
            "tls-server-name": config["tls_server_name"] or "",
            "insecure-skip-tls-verify": config["insecure"],
            "certificate-authority-data": base64.b64encode(ca_data).decode() if ca_data else "",
            "proxy-url": config["proxy_url"] or "",
        }
        extension = next(
            (e.get("extension") for e in cluster.get("extensions") or [] if e.get("name") == EXEC_EXTENSION),
            None,
        )
        if extension is not None:
            cluster_info["config"] = extension
        config["exec"] = _exec_settings(user["exec"], user_name, user_dir, cluster_info)
    impersonate = {
        "user": user.get("as") or "",
        "uid": user.get("as-uid") or "",
        "groups": [str(g) for g in user.get("as-groups") or []],
        "extra": {str(k): [str(v) for v in vs] for k, vs in (user.get("as-user-extra") or {}).items()},
    }
    if any(impersonate.values()):
        config["impersonate"] = impersonate
    return config


def read_documents(kubeconfig=None, environ=None):
    """[(document, base_dir)] of an inline kubeconfig dict, or of the files kubeconfig_paths names."""
    if isinstance(kubeconfig, dict):
        return [(kubeconfig, os.getcwd())]
    environ = os.environ if environ is None else environ
    documents = []
    for candidate in kubeconfig_paths(kubeconfig, environ):
        if not os.path.exists(candidate):
            if kubeconfig:
                raise KubeError(f"kubeconfig {candidate} does not exist")
            continue
        if yaml is None:
            raise KubeError("reading a kubeconfig needs the PyYAML Python package")
        try:
            with open(candidate, encoding="utf-8") as handle:
                documents.append((yaml_load(handle), os.path.dirname(os.path.abspath(candidate))))
        except (OSError, yaml.YAMLError) as exc:
            raise KubeError(f"cannot read kubeconfig {candidate}: {exc}") from None
    return documents


def load_kubeconfig(path=None, context=None, environ=None):
    """Read the kubeconfig (files or an inline dict) and resolve one context (see resolve_kubeconfig).

    Without any kubeconfig file, falls back to the in-cluster ServiceAccount when running in a pod.
    """
    environ = os.environ if environ is None else environ
    documents = read_documents(path, environ)
    if not documents:
        if environ.get("KUBERNETES_SERVICE_HOST") and os.path.exists(os.path.join(IN_CLUSTER_DIR, "token")):
            return in_cluster_config(environ)
        paths = kubeconfig_paths(path, environ)
        raise KubeError(f"no kubeconfig found (looked at {', '.join(paths)}); pass kubeconfig")
    return resolve_kubeconfig(merge_kubeconfigs(documents), context)


def in_cluster_config(environ):
    host = environ["KUBERNETES_SERVICE_HOST"]
    host = f"[{host}]" if ":" in host else host
    config = empty_config(f"https://{host}:{environ.get('KUBERNETES_SERVICE_PORT', '443')}")
    config.update(
        context="in-cluster",
        ca_file=os.path.join(IN_CLUSTER_DIR, "ca.crt"),
        token_file=os.path.join(IN_CLUSTER_DIR, "token"),
    )
    return config


# ---- Proxies ----------------------------------------------------------------------------------


def _no_proxy_match(host, no_proxy):
    """Go's httpproxy rules for NO_PROXY: '*', exact or suffix domains (a leading dot optional),
    IPs and CIDRs; a port in an entry must match too (not kept here: entries are host-only)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        entry = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        domain = entry.lstrip(".").lstrip("*.")
        if host == domain or host.endswith("." + domain):
            return True
    return False


def proxy_for(server, proxy_url=None, environ=None):
    """The proxy URL to reach server through, or None: the kubeconfig's proxy-url, else client-go's
    http.ProxyFromEnvironment (HTTPS_PROXY/https_proxy for https, HTTP_PROXY for http, NO_PROXY)."""
    if proxy_url:
        return proxy_url
    environ = os.environ if environ is None else environ
    parts = urllib.parse.urlsplit(server)
    names = ("HTTPS_PROXY", "https_proxy") if parts.scheme == "https" else ("HTTP_PROXY", "http_proxy")
    proxy = next((environ[n] for n in names if environ.get(n)), None)
    if not proxy:
        return None
    host = (parts.hostname or "").lower()
    # Go never proxies requests to localhost (httpproxy.useProxy), whatever NO_PROXY says.
    if host == "localhost" or host.startswith("127.") or host == "::1":
        return None
    no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    if _no_proxy_match(host, no_proxy):
        return None
    return proxy if "://" in proxy else "http://" + proxy


# ---- Exec credential plugins ------------------------------------------------------------------


def _parse_time(value):
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_exec_credential(output, settings):
    """{token, cert_data, key_data, expires (aware datetime or None)} from a plugin's stdout."""
    command = settings["command"]
    try:
        credential = json.loads(output)
    except ValueError:
        raise KubeError(f"exec plugin {command} printed no ExecCredential JSON") from None
    if not isinstance(credential, dict) or credential.get("kind") != "ExecCredential":
        raise KubeError(f"exec plugin {command} printed no ExecCredential")
    if credential.get("apiVersion") != settings["api_version"]:
        raise KubeError(
            f"exec plugin {command} answered {credential.get('apiVersion')!r}, "
            f"not the {settings['api_version']} the kubeconfig asks for"
        )
    status = credential.get("status") or {}
    token = status.get("token")
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if not token and not (cert and key):
        raise KubeError(f"exec plugin {command} returned neither a token nor a client certificate and key")
    expires = status.get("expirationTimestamp")
    return {
        "token": token or None,
        "cert_data": cert.encode() if cert else None,
        "key_data": key.encode() if key else None,
        "expires": _parse_time(expires) if expires else None,
    }


def exec_info(settings):
    """KUBERNETES_EXEC_INFO: the ExecCredential client-go hands the plugin (never interactive here)."""
    spec = {"interactive": False}
    if settings.get("cluster") is not None:
        spec["cluster"] = settings["cluster"]
    return json.dumps({"apiVersion": settings["api_version"], "kind": "ExecCredential", "spec": spec})


def _cache_dir(environ):
    base = environ.get("FORUMOPS_KUBE_CACHE_DIR") or os.path.join(
        environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "forumops.discourse",
        "exec",
    )
    os.makedirs(base, mode=0o700, exist_ok=True)
    return base


class ExecCredentials:
    """Runs an exec plugin and keeps its credential until it expires, across the worker processes
    of one controller: Ansible forks a worker per task, so the credential lives in a private file
    (directory 0700, file 0600) keyed by the plugin's settings, not in memory."""

    def __init__(self, settings, environ=None, now=None):
        self.settings = settings
        self.environ = dict(os.environ if environ is None else environ)
        self._now = now or (lambda: datetime.datetime.now(datetime.timezone.utc))  # noqa: UP017
        key = json.dumps(settings, sort_keys=True).encode()
        self.path = os.path.join(_cache_dir(self.environ), hashlib.sha256(key).hexdigest() + ".json")

    def _cached(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                stored = json.load(handle)
        except (OSError, ValueError):
            return None
        expires = _parse_time(stored["expires"]) if stored.get("expires") else None
        if expires is not None and self._now() >= expires:
            return None
        return {
            "token": stored.get("token"),
            "cert_data": stored["cert_data"].encode() if stored.get("cert_data") else None,
            "key_data": stored["key_data"].encode() if stored.get("key_data") else None,
            "expires": expires,
        }

    def _store(self, credential):
        stored = {
            "token": credential["token"],
            "cert_data": credential["cert_data"].decode() if credential["cert_data"] else None,
            "key_data": credential["key_data"].decode() if credential["key_data"] else None,
            "expires": credential["expires"].isoformat() if credential["expires"] else None,
        }
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(self.path), prefix=".exec-")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(stored, handle)
        os.replace(temporary, self.path)

    def invalidate(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _run(self):
        settings = self.settings
        command = settings["command"]
        hint = f" {settings['install_hint'].strip()}" if settings["install_hint"].strip() else ""
        executable = command if os.sep in command else shutil.which(command, path=self.environ.get("PATH"))
        if not executable or not os.path.exists(executable):
            raise KubeError(f"exec plugin {command} is not installed (not found on PATH).{hint}")
        env = dict(self.environ, **settings["env"], KUBERNETES_EXEC_INFO=exec_info(settings))
        try:
            done = subprocess.run(
                [executable, *settings["args"]],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=env,
                timeout=300,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KubeError(f"exec plugin {command} could not run: {exc}.{hint}") from None
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
            raise KubeError(
                f"exec plugin {command} failed with exit status {done.returncode}: "
                + (" | ".join(stderr) or "(no output on stderr)")
                + hint
            )
        return parse_exec_credential(done.stdout.decode("utf-8", "replace"), settings)

    def get(self, refresh=False):
        """The current credential; refresh=True (after a 401) runs the plugin again."""
        if refresh:
            self.invalidate()
        credential = None if refresh else self._cached()
        if credential is None:
            credential = self._run()
            self._store(credential)
        return credential
