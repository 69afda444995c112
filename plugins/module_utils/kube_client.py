# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP side of the Kubernetes client: URLs, discovery, TLS, proxies, credentials, verbs.

`KubeClient` keeps one keep-alive connection to the API server (through a CONNECT proxy when the
kubeconfig or the environment names one), authenticates as the kubeconfig says (module_utils/
kubeconfig.py reads it), and caches discovery. Standard library only.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
import urllib.parse

from ansible_collections.forumops.discourse.plugins.module_utils import rbac
from ansible_collections.forumops.discourse.plugins.module_utils.kubeconfig import (
    ExecCredentials,
    KubeError,
    empty_config,
    load_kubeconfig,
    proxy_for,
)

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
JSON_PATCH_CONTENT_TYPE = "application/json-patch+json"


# ---------------------------------------------------------------------------------------------
# URLs


def split_api_version(api_version):
    """'apps/v1' -> ('apps', 'v1'); 'v1' -> ('', 'v1')."""
    group, _sep, version = str(api_version).rpartition("/")
    return group, version


def discovery_path(api_version):
    group, version = split_api_version(api_version)
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def resource_path(api_version, plural, namespaced, namespace=None, name=None):
    """The REST path of a collection (name None) or of one object."""
    if namespaced and not namespace:
        raise KubeError(
            f"{plural} ({api_version}) are namespaced: the object needs metadata.namespace or namespace"
        )
    path = discovery_path(api_version)
    if namespaced:
        path += "/namespaces/" + urllib.parse.quote(namespace, safe="")
    path += "/" + plural
    if name is not None:
        path += "/" + urllib.parse.quote(name, safe="")
    return path


def apply_query(field_manager, force=True, dry_run=False, validation="Strict"):
    """The query string of a server-side apply PATCH."""
    params = [("fieldManager", field_manager)]
    if force:
        params.append(("force", "true"))
    if validation:
        params.append(("fieldValidation", validation))
    if dry_run:
        params.append(("dryRun", "All"))
    return urllib.parse.urlencode(params)


def selector_string(selectors):
    """Label or field selectors as a list of 'k=v' strings (or one string) -> 'k=v,k2=v2'."""
    if not selectors:
        return ""
    if isinstance(selectors, str):
        return selectors
    return ",".join(str(s) for s in selectors)


def parse_resources(api_resource_list):
    """A discovery document (APIResourceList) -> {kind: (plural, namespaced)}; subresources skipped."""
    result = {}
    for resource in api_resource_list.get("resources") or []:
        if "/" in resource.get("name", "/"):
            continue
        result.setdefault(resource["kind"], (resource["name"], bool(resource.get("namespaced"))))
    return result


# ---------------------------------------------------------------------------------------------
# the client


def _ssl_context(config, credential=None):
    # The system trust store is loaded only when the kubeconfig names no CA (loading it costs ~30 ms).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if config.get("insecure"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif config.get("ca_data") or config.get("ca_file"):
        try:
            context.load_verify_locations(
                cafile=config.get("ca_file") or None,
                cadata=config["ca_data"].decode("ascii") if config.get("ca_data") else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise KubeError(f"cannot read the CA of context {config.get('context')}: {exc}") from None
    else:
        context.load_default_certs()
    cert_file, key_file = config.get("cert_file"), config.get("key_file")
    cert_data, key_data = config.get("cert_data"), config.get("key_data")
    if credential and credential.get("cert_data"):
        cert_data, key_data = credential["cert_data"], credential["key_data"]
    if cert_data or key_data:
        # ssl loads client certificates from files only: a private directory, removed at once.
        with tempfile.TemporaryDirectory(prefix="forumops-kube-") as private:
            if cert_data:
                cert_file = os.path.join(private, "cert.pem")
                _write_private(cert_file, cert_data)
            if key_data:
                key_file = os.path.join(private, "key.pem")
                _write_private(key_file, key_data)
            context.load_cert_chain(cert_file, key_file)
    elif cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


def _write_private(path, data):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS with the name the certificate must carry (the kubeconfig's tls-server-name) given
    apart from the address connected to, through an optional CONNECT tunnel."""

    def __init__(self, host, port, server_name, **kwargs):
        super().__init__(host, port, **kwargs)
        self._server_name = server_name

    def connect(self):
        http.client.HTTPConnection.connect(self)  # TCP, and CONNECT when a tunnel is set
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)


def impersonation_headers(impersonate):
    """client-go's impersonation: Impersonate-User, -Uid, one Impersonate-Group per group and
    Impersonate-Extra-<key> per value (transport/round_trippers.go)."""
    if not impersonate:
        return []
    headers = [("Impersonate-User", impersonate["user"])] if impersonate.get("user") else []
    if impersonate.get("uid"):
        headers.append(("Impersonate-Uid", impersonate["uid"]))
    headers += [("Impersonate-Group", group) for group in impersonate.get("groups") or []]
    for key, values in sorted((impersonate.get("extra") or {}).items()):
        headers += [(f"Impersonate-Extra-{urllib.parse.quote(key, safe='')}", value) for value in values]
    return headers


class KubeClient:
    """One keep-alive HTTPS connection to the API server, with a per-process discovery cache."""

    def __init__(self, config, timeout=60, environ=None):
        self.config = config
        self.timeout = timeout
        parsed = urllib.parse.urlsplit(config["server"])
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.prefix = parsed.path.rstrip("/")
        self.proxy = proxy_for(config["server"], config.get("proxy_url"), environ)
        if self.proxy and urllib.parse.urlsplit(self.proxy).scheme != "http":
            scheme = urllib.parse.urlsplit(self.proxy).scheme
            raise KubeError(
                f"the proxy for {config['server']} is a {scheme}:// proxy; forumops.discourse supports "
                "http:// CONNECT proxies"
            )
        self._exec = ExecCredentials(config["exec"], environ) if config.get("exec") else None
        self._credential = None
        self._ssl = None
        self._connection = None
        self._resources = {}

    def _authorization(self):
        if self._exec is not None:
            credential = self._credential or self._exec.get()
            if credential is not self._credential:
                self._credential = credential
                self._ssl = None
            return f"Bearer {credential['token']}" if credential.get("token") else None
        token = self.config.get("token")
        if not token and self.config.get("token_file"):
            # Re-read on every request: a projected ServiceAccount token is rotated in place.
            with open(self.config["token_file"], encoding="utf-8") as handle:
                token = handle.read().strip()
        if token:
            return f"Bearer {token}"
        if self.config.get("username"):
            pair = f"{self.config['username']}:{self.config.get('password') or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        return None

    def headers(self):
        headers = [("Accept", "application/json"), ("User-Agent", "forumops.discourse/k8s_apply")]
        authorization = self._authorization()
        if authorization:
            headers.append(("Authorization", authorization))
        return headers + impersonation_headers(self.config.get("impersonate"))

    def new_connection(self):
        """An unopened http.client connection to the API server (TLS, proxy tunnel and SNI set up)."""
        if self.scheme != "https":
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        if self._ssl is None:
            self._ssl = _ssl_context(self.config, self._credential)
        name = self.config.get("tls_server_name") or self.host
        if not self.proxy:
            return _TLSConnection(self.host, self.port, name, timeout=self.timeout, context=self._ssl)
        proxy = urllib.parse.urlsplit(self.proxy)
        connection = _TLSConnection(
            proxy.hostname, proxy.port or 80, name, timeout=self.timeout, context=self._ssl
        )
        tunnel_headers = {}
        if proxy.username:
            pair = f"{urllib.parse.unquote(proxy.username)}:{urllib.parse.unquote(proxy.password or '')}"
            tunnel_headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        connection.set_tunnel(self.host, self.port, headers=tunnel_headers)
        return connection

    def _send(self, method, url, payload, content_type):
        """(response, body) of one request, reconnecting once when a kept-alive connection closed."""
        headers = self.headers()
        if payload is not None:
            # putrequest leaves the length to the caller (request() would add it).
            headers += [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
        for attempt in (1, 2):
            reused = self._connection is not None
            if not reused:
                self._connection = self.new_connection()
            try:
                self._connection.putrequest(method, url, skip_accept_encoding=True)
                for name, value in headers:
                    self._connection.putheader(name, value)
                self._connection.endheaders(payload)
                response = self._connection.getresponse()
                return response, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                # A keep-alive connection the server closed meanwhile: reconnect once.
                self.close()
                if not reused or attempt == 2:
                    raise KubeError(f"{method} {url} failed: {exc}") from None
            except ssl.SSLCertVerificationError as exc:
                self.close()
                raise KubeError(
                    f"the API server of context {self.config.get('context')} ({self.config['server']}) "
                    f"presented a certificate its CA does not verify: {exc.verify_message}"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                via = f" through the proxy {urllib.parse.urlsplit(self.proxy).hostname}" if self.proxy else ""
                raise KubeError(
                    f"cannot reach the Kubernetes API at {self.config['server']}{via}: {exc}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def request(self, method, path, query="", body=None, content_type="application/json"):
        """Send one request; returns the decoded JSON body. Raises KubeError for 4xx/5xx."""
        url = self.prefix + path + (f"?{query}" if query else "")
        payload = json.dumps(body).encode("utf-8") if body is not None else None
        response, data = self._send(method, url, payload, content_type)
        if response.status == 401 and self.refresh_credential():
            response, data = self._send(method, url, payload, content_type)
        rbac.record(method, path, query, response.status)
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {"message": data.decode("utf-8", "replace")[:500]}
        if response.status >= 400:
            message = decoded.get("message") if isinstance(decoded, dict) else None
            raise KubeError(
                f"{method} {path}: {response.status} {message or response.reason}",
                status=response.status,
                reason=decoded.get("reason") if isinstance(decoded, dict) else None,
            )
        return decoded

    def refresh_credential(self):
        """After a 401: run the exec plugin again (client-go does, once); False without a plugin."""
        if self._exec is None:
            return False
        self._credential = self._exec.get(refresh=True)
        self._ssl = None
        self.close()
        return True

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # discovery ------------------------------------------------------------------------------

    def resource(self, api_version, kind):
        """(plural, namespaced) of a kind; discovery is cached, and refreshed once on a miss."""
        for refresh in (False, True):
            known = self._resources.get(api_version)
            if known is None or refresh:
                try:
                    known = parse_resources(self.request("GET", discovery_path(api_version)))
                except KubeError as exc:
                    if exc.status == 404:
                        raise KubeError(
                            f"the API server does not serve {api_version} "
                            "(is its CustomResourceDefinition installed?)",
                            status=404,
                        ) from None
                    raise
                self._resources[api_version] = known
            if kind in known:
                return known[kind]
        raise KubeError(f"the API server has no kind {kind} in {api_version}", status=404)

    def path_of(self, obj, namespace=None, name=True):
        plural, namespaced = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        return resource_path(
            obj["apiVersion"],
            plural,
            namespaced,
            (meta.get("namespace") or namespace) if namespaced else None,
            meta.get("name") if name else None,
        )

    # verbs ----------------------------------------------------------------------------------

    def get(self, obj, namespace=None):
        """The live object, or None when it does not exist."""
        try:
            return self.request("GET", self.path_of(obj, namespace))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, api_version, kind, namespace=None, label_selector="", field_selector=""):
        plural, namespaced = self.resource(api_version, kind)
        path = resource_path(api_version, plural, namespaced and bool(namespace), namespace)
        params = [
            (k, v) for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v
        ]
        found = self.request("GET", path, urllib.parse.urlencode(params))
        items = found.get("items") or []
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(self, obj, field_manager, force=True, dry_run=False, namespace=None, validation="Strict"):
        return self.request(
            "PATCH",
            self.path_of(obj, namespace),
            apply_query(field_manager, force, dry_run, validation),
            body=obj,
            content_type=APPLY_CONTENT_TYPE,
        )

    def create(self, obj, field_manager, dry_run=False, namespace=None, validation="Strict"):
        """POST the object; None when it exists already (409), so two runs never both create it."""
        try:
            return self.request(
                "POST",
                self.path_of(obj, namespace, name=False),
                apply_query(field_manager, False, dry_run, validation),
                body=obj,
            )
        except KubeError as exc:
            if exc.status == 409:
                return None
            raise

    def remove_keys(self, obj, field, keys, field_manager, dry_run=False, namespace=None):
        """Remove keys of the map `field` (a JSON patch), whoever set them."""
        escaped = (key.replace("~", "~0").replace("/", "~1") for key in keys)
        query = [("fieldManager", field_manager)] + ([("dryRun", "All")] if dry_run else [])
        return self.request(
            "PATCH",
            self.path_of(obj, namespace),
            urllib.parse.urlencode(query),
            body=[{"op": "remove", "path": f"/{field}/{key}"} for key in escaped],
            content_type=JSON_PATCH_CONTENT_TYPE,
        )

    def delete(self, obj, namespace=None, dry_run=False):
        query = urllib.parse.urlencode(
            [("propagationPolicy", "Background")] + ([("dryRun", "All")] if dry_run else [])
        )
        try:
            return self.request("DELETE", self.path_of(obj, namespace), query)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise


_CLIENTS = {}


def client_for(kubeconfig=None, context=None, overrides=None, environ=None):
    """A cached KubeClient per (kubeconfig, context, overrides) in this process."""
    key = json.dumps([kubeconfig, context, overrides or {}], sort_keys=True, default=str)
    client = _CLIENTS.get(key)
    if client is None:
        if overrides and overrides.get("server"):
            config = empty_config(overrides["server"].rstrip("/"))
        else:
            config = load_kubeconfig(kubeconfig, context, environ)
        for field, value in (overrides or {}).items():
            if value is not None and field != "server":
                config[field] = value
        client = KubeClient(config, environ=environ)
        _CLIENTS[key] = client
    return client
