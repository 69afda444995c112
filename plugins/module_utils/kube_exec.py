# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command in a pod's container: the API server's exec subresource over a WebSocket.

The wire format is the one kubectl speaks (k8s.io/client-go tools/remotecommand, websocket.go):
the ``v5.channel.k8s.io`` / ``v4.channel.k8s.io`` subprotocols, where every binary message starts
with its channel (1 stdout, 2 stderr, 3 the final status as JSON). The status of a command that
exits non-zero carries its code as the cause ``ExitCode`` (k8s.io/cri-streaming
pkg/streaming/remotecommand/exec.go). RFC 6455 framing is small enough to write here, so the exec
needs no WebSocket package and reuses KubeClient's TLS, proxy and credentials.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import urllib.parse

from ansible_collections.forumops.discourse.plugins.module_utils import rbac
from ansible_collections.forumops.discourse.plugins.module_utils.kube_client import KubeError

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STDOUT, STDERR, STATUS = 1, 2, 3
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def exec_query(command, container=None):
    """The exec subresource's query: one ``command`` per argv word, stdout and stderr, no stdin."""
    pairs = [("command", word) for word in command]
    if container:
        pairs.append(("container", container))
    pairs += [("stdout", "true"), ("stderr", "true")]
    return urllib.parse.urlencode(pairs)


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode("ascii")).digest()).decode("ascii")


def frame(opcode, payload=b"", mask=None):
    """One final client frame; clients must mask what they send (RFC 6455 section 5.3)."""
    mask = os.urandom(4) if mask is None else mask
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return header + mask + masked


def read_frame(stream):
    """(fin, opcode, payload) of the next frame; None at end of stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
    masked, length = bool(head[1] & 0x80), head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _exactly(stream, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _exactly(stream, 8))
    mask = _exactly(stream, 4) if masked else None
    payload = _exactly(stream, length)
    if mask:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return fin, opcode, payload


def _exactly(stream, size):
    data = stream.read(size)
    if len(data) < size:
        raise KubeError("exec: the API server closed the stream in the middle of a frame")
    return data


def exit_code(status):
    """The command's exit code from the final status message (channel 3); None for other failures."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                return int(cause["message"])
    return None


def collect(messages):
    """Demultiplex (channel, data) messages into {stdout, stderr, rc, error}.

    rc is None when the command did not report an exit code (it could not start, or the runtime
    failed); error is then the status message.
    """
    out = {STDOUT: bytearray(), STDERR: bytearray()}
    status = None
    for channel, data in messages:
        if channel in out:
            out[channel] += data
        elif channel == STATUS:
            status = json.loads(data.decode("utf-8") or "{}")
    if status is None:
        raise KubeError("exec: the stream ended without the command's exit status")
    return {
        "stdout": out[STDOUT].decode("utf-8", "replace"),
        "stderr": out[STDERR].decode("utf-8", "replace"),
        "rc": exit_code(status),
        "error": "" if status.get("status") == "Success" else status.get("message") or json.dumps(status),
    }


def messages(stream, send):
    """Yield (channel, data) per binary message until the server closes; answer pings."""
    pending, pending_opcode = bytearray(), None
    while True:
        received = read_frame(stream)
        if received is None:
            return
        fin, opcode, payload = received
        if opcode == OP_PING:
            send(frame(OP_PONG, payload))
            continue
        if opcode == OP_CLOSE:
            send(frame(OP_CLOSE, payload[:2]))
            return
        if opcode in (OP_TEXT, OP_BINARY):
            pending, pending_opcode = bytearray(payload), opcode
        elif opcode == OP_CONTINUATION:
            pending += payload
        if not fin or pending_opcode is None:
            continue
        data = bytes(pending)
        if pending_opcode == OP_TEXT:
            # v1-style text frames carry base64; the channel protocols the server agreed to are binary.
            raise KubeError("exec: the API server sent a text frame; it did not agree to a channel protocol")
        if data:
            yield data[0], data[1:]
        pending, pending_opcode = bytearray(), None


def run(client, namespace, pod, command, container=None, timeout=3600):
    """Run ``command`` (argv list) in the pod; returns collect()'s result once it exits."""
    query = exec_query(command, container)
    path = client.prefix + f"/api/v1/namespaces/{namespace}/pods/{pod}/exec?" + query
    for attempt in (1, 2):
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        credentials = client.headers()  # first: an exec plugin's client certificate sets up the TLS
        connection = client.new_connection()
        connection.timeout = timeout
        try:
            connection.connect()
            sock = connection.sock
            sock.settimeout(timeout)
            headers = [
                ("Host", f"{client.host}:{client.port}"),
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", key),
                ("Sec-WebSocket-Protocol", ", ".join(PROTOCOLS)),
                *credentials,
            ]
            request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
            sock.sendall(request.encode("latin-1"))
            stream = sock.makefile("rb")
            status, response_headers = _read_head(stream)
            if status == 401 and attempt == 1 and client.refresh_credential():
                continue
            rbac.record("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/exec", query, status)
            if status != 101:
                raise _refusal(status, response_headers, stream, namespace, pod)
            if response_headers.get("sec-websocket-accept") != accept_key(key):
                raise KubeError("exec: the API server's WebSocket handshake does not match our key")
            return collect(messages(stream, sock.sendall))
        except OSError as exc:
            raise KubeError(f"exec in pod {namespace}/{pod} failed: {exc}") from None
        finally:
            connection.close()
    raise AssertionError("unreachable")  # pragma: no cover


def _read_head(stream):
    line = stream.readline(65537).decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise KubeError(f"exec: not an HTTP response: {line.strip()!r}")
    headers = {}
    while True:
        line = stream.readline(65537).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            return int(parts[1]), headers
        name, value = line.split(":", 1) if ":" in line else (line, "")
        headers[name.strip().lower()] = value.strip()


def _refusal(status, headers, stream, namespace, pod):
    length = int(headers.get("content-length") or 0)
    body = stream.read(length) if length else b""
    try:
        message = json.loads(body).get("message")
    except ValueError:
        message = body.decode("utf-8", "replace")[:300]
    return KubeError(f"exec in pod {namespace}/{pod}: {status} {message}", status=status)
