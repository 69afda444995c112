# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Kubernetes REST client for server-side apply, with the pure logic around it.

Standard library plus PyYAML only, so that the k8s_apply/k8s_get action plugins run it inside the
controller's worker process (no module fork, no import of the kubernetes client) and the modules of
the same names run it on a remote host.

Pure functions (unit-tested): URL and query building, readiness predicates, changed detection,
Secret redaction and the field-level diff. `KubeClient` does the HTTP; reading the kubeconfig
(credentials, exec plugins, proxies) is module_utils/kubeconfig.py.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import ssl
import tempfile
import time
import urllib.parse

from ansible_collections.forumops.discourse.plugins.module_utils.kubeconfig import (
    ExecCredentials,
    KubeError,
    empty_config,
    load_kubeconfig,
    proxy_for,
    yaml,
)

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
JSON_PATCH_CONTENT_TYPE = "application/json-patch+json"
REDACTED = "<redacted>"
SECRET_FIELDS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Top-level fields that are not the object's content (compared for check mode and diffs).
NOT_CONTENT = ("apiVersion", "kind", "metadata", "status")


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
# definitions


def expand_definitions(definitions):
    """A list of objects, a multi-document YAML string, or a mix -> a flat list of object dicts.

    Empty documents are dropped and `kind: List` (or any *List with items) is expanded.
    """
    if definitions is None:
        return []
    if isinstance(definitions, (str, bytes)):
        if yaml is None:
            raise KubeError("YAML definitions need the PyYAML Python package")
        try:
            items = list(yaml.safe_load_all(definitions))
        except yaml.YAMLError as exc:
            raise KubeError(f"definitions are not valid YAML: {exc}") from None
    elif isinstance(definitions, dict):
        items = [definitions]
    else:
        items = list(definitions)
    objects = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, (str, bytes)):
            objects.extend(expand_definitions(item))
            continue
        if not isinstance(item, dict):
            raise KubeError(f"a definition must be a mapping, got {type(item).__name__}: {str(item)[:80]}")
        if str(item.get("kind", "")).endswith("List") and isinstance(item.get("items"), list):
            objects.extend(expand_definitions(item["items"]))
            continue
        objects.append(item)
    for obj in objects:
        missing = [f for f in ("apiVersion", "kind") if not obj.get(f)]
        if not (obj.get("metadata") or {}).get("name"):
            missing.append("metadata.name")
        if missing:
            raise KubeError(f"a definition lacks {', '.join(missing)}: {describe(obj)}")
    return objects


def describe(obj):
    """'Deployment ns/name' for messages."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def plain(value):
    """A JSON round trip: plain dicts, lists and strings (drops str/dict subclasses' tags)."""
    return json.loads(json.dumps(value))


# ---------------------------------------------------------------------------------------------
# results: redaction, changed detection, diffs


def redact(obj):
    """A copy of an object fit for results and logs: no Secret values, no managedFields.

    Secrets keep their keys with the value REDACTED, and lose the last-applied annotation (which
    holds the values when kubectl client-side apply was used).
    """
    if obj is None:
        return None
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    if obj.get("kind") == "Secret":
        for field in SECRET_FIELDS:
            if isinstance(obj.get(field), dict):
                obj[field] = dict.fromkeys(obj[field], REDACTED)
        if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
            meta["annotations"].pop(LAST_APPLIED, None)
    return obj


def content(obj):
    """What check mode compares: everything but status and metadata, plus labels and annotations."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    result = {k: v for k, v in obj.items() if k not in NOT_CONTENT}
    result["metadata"] = {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}}
    return result


def apply_changed(before, after):
    """Whether a (real) apply changed the object: created, or a new resourceVersion was stored."""
    if before is None:
        return after is not None
    if after is None:
        return True
    return before["metadata"].get("resourceVersion") != after["metadata"].get("resourceVersion")


def dry_run_changed(before, after):
    """Whether a dry-run apply result differs from the live object (check mode)."""
    return before is None or content(before) != content(after)


def field_changes(before, after, path=""):
    """[(dotted path, before, after)] for the leaves that differ; lists are compared whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            changes.extend(field_changes(before.get(key, _ABSENT), after.get(key, _ABSENT), sub))
        return changes
    if before == after:
        return []
    return [(path, before, after)]


class _Absent:
    def __repr__(self):
        return "(absent)"


_ABSENT = _Absent()


def _show(value, secret):
    if value is _ABSENT:
        return "(absent)"
    if secret:
        return REDACTED
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def diff_lines(before, after, action="apply"):
    """A field-level summary of one object's change; Secret values are never shown."""
    obj = after if after is not None else before
    name = describe(obj)
    if action == "delete":
        return [f"- {name} (deleted)"] if before is not None else []
    if before is None:
        return [f"+ {name} (created)"]
    secret = obj.get("kind") == "Secret"
    lines = []
    for path, old, new in field_changes(content(before), content(after)):
        hidden = secret and path.split(".")[0] in SECRET_FIELDS
        lines.append(f"~ {name} {path}: {_show(old, hidden)} -> {_show(new, hidden)}")
    return lines


# ---------------------------------------------------------------------------------------------
# readiness


def _conditions(obj):
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}


def condition_met(obj, condition):
    """Generic wait_condition {type, status (default 'True'), reason (optional)}."""
    found = _conditions(obj).get(condition.get("type"))
    if found is None:
        return False
    if str(found.get("status")) != str(condition.get("status", "True")):
        return False
    return not condition.get("reason") or found.get("reason") == condition["reason"]


def readiness(obj, condition=None):
    """(ready, failure) for an object: failure is a message when it can never become ready.

    Deployment: observedGeneration >= generation, updated == available == spec replicas and no pod
    of an old ReplicaSet left (status.replicas == updatedReplicas); fails on ProgressDeadlineExceeded.
    StatefulSet: observed, readyReplicas == replicas and currentRevision == updateRevision.
    DaemonSet: observed, every scheduled pod updated and ready. Job: Complete, or Failed (failure).
    Pod: Ready condition. Other kinds, or with `condition`: that condition (or mere existence).
    """
    if obj is None:
        return False, None
    if condition:
        return condition_met(obj, condition), None
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    observed = status.get("observedGeneration", 0) >= meta.get("generation", 0)
    if kind == "Deployment":
        progressing = _conditions(obj).get("Progressing") or {}
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            return False, f"{describe(obj)} exceeded its progress deadline: {progressing.get('message', '')}"
        want = spec.get("replicas", 1)
        updated = status.get("updatedReplicas", 0)
        return (
            observed
            and updated == want
            and status.get("replicas", 0) == updated
            and status.get("availableReplicas", 0) == want
        ), None
    if kind == "StatefulSet":
        want = spec.get("replicas", 1)
        revision_done = status.get("currentRevision") == status.get("updateRevision") or (
            (spec.get("updateStrategy") or {}).get("type") == "OnDelete"
        )
        return observed and status.get("readyReplicas", 0) == want and revision_done, None
    if kind == "DaemonSet":
        want = status.get("desiredNumberScheduled", 0)
        return (
            observed
            and status.get("updatedNumberScheduled", 0) == want
            and status.get("numberReady", 0) == want
        ), None
    if kind == "Job":
        conditions = _conditions(obj)
        if str((conditions.get("Failed") or {}).get("status")) == "True":
            failed = conditions["Failed"]
            meta = obj.get("metadata") or {}
            return False, (
                f"{describe(obj)} failed ({failed.get('reason', '')}: {failed.get('message', '')}). "
                f"Read its pods' logs (kubectl logs -n {meta.get('namespace')} job/{meta.get('name')}), "
                "fix the cause, delete the Job and run again: an existing Job is not re-run"
            )
        return str((conditions.get("Complete") or {}).get("status")) == "True", None
    if kind == "Pod":
        if status.get("phase") == "Failed":
            return False, f"{describe(obj)} failed"
        return condition_met(obj, {"type": "Ready"}) or status.get("phase") == "Succeeded", None
    return True, None


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

    def _headers(self):
        headers = [("Accept", "application/json"), ("User-Agent", "forumops.discourse/k8s_apply")]
        authorization = self._authorization()
        if authorization:
            headers.append(("Authorization", authorization))
        return headers + impersonation_headers(self.config.get("impersonate"))

    def _connect(self):
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
        headers = self._headers()
        if payload is not None:
            # putrequest leaves the length to the caller (request() would add it).
            headers += [("Content-Type", content_type), ("Content-Length", str(len(payload)))]
        for attempt in (1, 2):
            reused = self._connection is not None
            if not reused:
                self._connection = self._connect()
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
        if response.status == 401 and self._exec is not None:
            # client-go: a 401 means the plugin's credential is no longer good; run it again, once.
            self._credential = self._exec.get(refresh=True)
            self._ssl = None
            self.close()
            response, data = self._send(method, url, payload, content_type)
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


# ---------------------------------------------------------------------------------------------
# the whole task: apply or delete a list of objects, optionally wait


def run_apply(
    client,
    definitions,
    field_manager="forumops.discourse",
    force=True,
    state="present",
    namespace=None,
    check_mode=False,
    want_diff=False,
    wait=False,
    wait_condition=None,
    wait_timeout=120,
    wait_sleep=1,
    validation="Strict",
    create_only=False,
    keep=None,
    hand_over=(),
    own_keys=(),
    sleep=time.sleep,
    clock=time.monotonic,
    progress=None,
):
    """Apply (or delete) the objects in order; returns {changed, changed_objects, resources, diff?}.

    Raises KubeError with the object named when the API refuses one or a wait fails. ``keep``
    guards the generated values of the Secrets among the objects, before any is applied: see
    check_kept.
    """
    objects = [plain(obj) for obj in expand_definitions(definitions)]
    for obj in objects if keep and state == "present" else []:
        if obj["kind"] == "Secret":
            check_kept(client, obj, client.get(obj, namespace), keep, namespace)
    changed = False
    results = []
    lines = []
    changed_objects = []
    for obj in objects:
        namespaced = namespace and not obj["metadata"].get("namespace")
        if namespaced and client.resource(obj["apiVersion"], obj["kind"])[1]:
            obj["metadata"]["namespace"] = namespace
        try:
            before = client.get(obj, namespace)
            if state == "absent":
                after = None
                if before is not None:
                    client.delete(obj, namespace, dry_run=check_mode)
                    changed = True
                    changed_objects.append(f"{obj['kind']}/{obj['metadata']['name']}")
                if want_diff:
                    lines.extend(diff_lines(before, None, "delete"))
                results.append(None if before is None else before)
                continue
            if create_only and before is None:
                # Created, not applied: a converge running at the same time that made it first wins,
                # and this one keeps that object (a generated Secret is made once, not twice).
                after = client.create(obj, field_manager, check_mode, namespace, validation)
                if after is None:
                    results.append(client.get(obj, namespace))
                    continue
            elif create_only:
                results.append(before)
                continue
            else:
                for stub in handover_stubs(obj, before, hand_over, field_manager):
                    client.apply(stub, f"{field_manager}-handover", True, check_mode, namespace, validation)
                after = client.apply(obj, field_manager, force, check_mode, namespace, validation)
                for field in own_keys:
                    foreign = sorted(set(after.get(field) or {}) - set(obj.get(field) or {}))
                    if foreign:
                        after = client.remove_keys(obj, field, foreign, field_manager, check_mode, namespace)
        except KubeError as exc:
            raise KubeError(f"{describe(obj)}: {exc}", exc.status, exc.reason) from None
        this_changed = dry_run_changed(before, after) if check_mode else apply_changed(before, after)
        changed = changed or this_changed
        if this_changed:
            changed_objects.append(f"{obj['kind']}/{obj['metadata']['name']}")
        if want_diff and this_changed:
            lines.extend(diff_lines(before, after))
        results.append(after)
    if wait and not check_mode:
        results = wait_for_objects(
            client,
            results,
            objects,
            state,
            namespace,
            wait_condition,
            wait_timeout,
            wait_sleep,
            sleep,
            clock,
            progress,
        )
    outcome = {
        "changed": changed,
        "changed_objects": changed_objects,
        "resources": [redact(r) for r in results if r is not None],
    }
    if want_diff:
        outcome["diff"] = {"prepared": "\n".join(lines)}
    return outcome


def _field(obj, path):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def owns(live, field_manager, path):
    """Whether field_manager's apply owns the dotted path in the live object's managedFields."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == "Apply":
            node = entry.get("fieldsV1") or {}
            for part in path.split("."):
                node = node.get(f"f:{part}") if isinstance(node, dict) else None
            if node is not None:
                return True
    return False


def handover_stubs(obj, before, paths, field_manager):
    """What to apply under `<field_manager>-handover` first, to keep the live value of each dotted
    path the definition now leaves out (spec.replicas once an HPA scales the Deployment).

    Server-side apply drops a field its manager stops applying and the API server then defaults it
    (replicas: 1); a field another manager also applied stays (Kubernetes' documented transfer of
    ownership between managers)."""
    stubs = []
    for path in paths if before is not None else ():
        live = _field(before, path)
        if live is None or _field(obj, path) is not None or not owns(before, field_manager, path):
            continue
        meta = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace")}
        stub = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": meta}
        node = stub
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = live
        stubs.append(stub)
    return stubs


def check_kept(client, obj, before, keep, namespace=None):
    """Refuse to make a new generated value where the old one is still in use, or is incomplete.

    ``keep``: ``keys`` the existing object's data must hold; ``in_use_by``, refs ({api_version,
    kind, name}) whose existence means the object existed and its value is in use, so creating a
    new one would not match it; ``hint``, what to do, appended to either error.
    """
    hint = f" {keep['hint']}" if keep.get("hint") else ""
    if before is not None:
        data = before.get("data") or {}
        missing = [key for key in keep.get("keys") or [] if not data.get(key)]
        if missing:
            raise KubeError(f"{describe(before)} has no key {', '.join(map(repr, missing))}.{hint}")
        return
    for ref in keep.get("in_use_by") or []:
        user = {"apiVersion": ref["api_version"], "kind": ref["kind"], "metadata": {"name": ref["name"]}}
        user["metadata"]["namespace"] = obj["metadata"].get("namespace") or namespace
        if client.get(user, namespace) is not None:
            raise KubeError(
                f"{describe(obj)} is gone, but {describe(user)} exists: the value it held is still in use "
                f"and a new one would not match it, so none is made.{hint}"
            )


PROGRESS_EVERY = 10.0


def wait_for_objects(
    client, results, objects, state, namespace, condition, timeout, interval, sleep, clock, progress=None
):
    """Poll until every object is ready (present) or gone (absent); returns the final objects.

    `progress(message)` hears what is waited for, when the first poll finds it not done and then
    every PROGRESS_EVERY seconds."""
    started = clock()
    deadline = started + float(timeout)
    told = None
    current = list(results)
    pending = list(range(len(objects)))
    while True:
        still = []
        for index in pending:
            obj = current[index]
            if state == "absent":
                if obj is not None:
                    current[index] = obj = client.get(objects[index], namespace)
                if obj is not None:
                    still.append(index)
                continue
            ready, failure = readiness(obj, condition)
            if failure:
                raise KubeError(failure)
            if not ready:
                still.append(index)
        if not still:
            return current
        now = clock()
        waiting = ", ".join(describe(current[i] or objects[i]) for i in still)
        verb = "deletion of" if state == "absent" else "readiness of"
        if now >= deadline:
            raise KubeError(f"timed out after {timeout}s waiting for the {verb} {waiting}")
        if progress is not None and (told is None or now - told >= PROGRESS_EVERY):
            progress(f"waiting for the {verb} {waiting} ({now - started:.0f}s of {timeout}s)")
            told = now
        sleep(float(interval))
        pending = still
        if state != "absent":
            for index in pending:
                current[index] = client.get(objects[index], namespace)


# ---------------------------------------------------------------------------------------------
# argument specs shared by the action plugins and the modules

CONNECTION_SPEC = {
    "kubeconfig": {"type": "raw"},
    "context": {"type": "str"},
    "host": {"type": "str"},
    "api_key": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool"},
    "ca_cert": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path"},
    "impersonate_user": {"type": "str"},
    "impersonate_groups": {"type": "list", "elements": "str"},
}
CONNECTION_KEYS = tuple(CONNECTION_SPEC)

APPLY_SPEC = dict(
    CONNECTION_SPEC,
    definitions={"type": "raw"},
    template={"type": "raw"},
    namespace={"type": "str"},
    state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    field_manager={"type": "str", "default": "forumops.discourse"},
    force_conflicts={"type": "bool", "default": True},
    validation={"type": "str", "default": "Strict", "choices": ["Strict", "Warn", "Ignore"]},
    wait={"type": "bool", "default": False},
    wait_condition={
        "type": "dict",
        "options": {
            "type": {"type": "str", "required": True},
            "status": {"type": "str", "default": "True", "choices": ["True", "False", "Unknown"]},
            "reason": {"type": "str"},
        },
    },
    wait_timeout={"type": "int", "default": 120},
    wait_sleep={"type": "int", "default": 1},
    create_only={"type": "bool", "default": False},
    keep={
        "type": "dict",
        "options": {
            "keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "in_use_by": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "api_version": {"type": "str", "default": "v1"},
                    "kind": {"type": "str", "required": True},
                    "name": {"type": "str", "required": True},
                },
            },
            "hint": {"type": "str", "default": ""},
        },
    },
    hand_over={"type": "list", "elements": "str", "default": []},
    own_keys={"type": "list", "elements": "str", "default": [], "no_log": False},
)

GET_SPEC = dict(
    CONNECTION_SPEC,
    api_version={"type": "str", "default": "v1"},
    kind={"type": "str", "required": True},
    name={"type": "str"},
    namespace={"type": "str"},
    label_selectors={"type": "list", "elements": "str", "default": []},
    field_selectors={"type": "list", "elements": "str", "default": []},
    wait=APPLY_SPEC["wait"],
    wait_condition=APPLY_SPEC["wait_condition"],
    wait_timeout=APPLY_SPEC["wait_timeout"],
    wait_sleep=APPLY_SPEC["wait_sleep"],
)


def connection_overrides(params):
    """Explicit connection options -> KubeClient config fields that replace the kubeconfig's."""
    overrides = {}
    if params.get("host"):
        overrides["server"] = params["host"]
    if params.get("api_key"):
        overrides["token"] = params["api_key"]
    if params.get("validate_certs") is not None:
        overrides["insecure"] = not params["validate_certs"]
    if params.get("ca_cert"):
        overrides.update(ca_file=params["ca_cert"], ca_data=b"")
    if params.get("client_cert"):
        overrides.update(cert_file=params["client_cert"], cert_data=b"")
    if params.get("client_key"):
        overrides.update(key_file=params["client_key"], key_data=b"")
    if params.get("impersonate_user") or params.get("impersonate_groups"):
        overrides["impersonate"] = {
            "user": params.get("impersonate_user") or "",
            "uid": "",
            "groups": list(params.get("impersonate_groups") or []),
            "extra": {},
        }
    return overrides


def client_from_params(params):
    return client_for(params.get("kubeconfig") or None, params.get("context"), connection_overrides(params))


def run_get(client, params, progress=None):
    """k8s_get: {resources: [...]} like kubernetes.core.k8s_info (Secret data included: use no_log)."""
    labels = selector_string(params.get("label_selectors"))
    fields = selector_string(params.get("field_selectors"))
    api_version, kind, name = params.get("api_version") or "v1", params["kind"], params.get("name")
    try:
        client.resource(api_version, kind)
    except KubeError as exc:
        if exc.status == 404:
            return {"changed": False, "resources": [], "api_found": False}
        raise
    if name and not labels and not fields:
        obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
        found = client.get(obj, params.get("namespace"))
        found = [] if found is None else [found]
    else:
        if name:
            fields = ",".join(filter(None, [fields, f"metadata.name={name}"]))
        found = client.list(api_version, kind, params.get("namespace"), labels, fields)
    if params.get("wait"):
        # Like k8s_info: a named object is waited for until it exists and is ready; found ones until ready.
        if name and not found:
            found = [None]
        targets = [
            item or {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}} for item in found
        ]
        found = wait_for_objects(
            client,
            found,
            targets,
            "present",
            params.get("namespace"),
            params.get("wait_condition"),
            params.get("wait_timeout", 120),
            params.get("wait_sleep", 1),
            time.sleep,
            time.monotonic,
            progress,
        )
    for item in found:
        (item.get("metadata") or {}).pop("managedFields", None)
    return {"changed": False, "resources": found, "api_found": True}
