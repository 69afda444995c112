# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal Valkey/Redis client in pure Python: RESP2 over a socket, INFO parsing, a server summary.

Only the standard library is used, so that the valkey_check module runs on any controller (the
``redis`` package that community.general's modules need is not required) and this file can be
unit-tested without Ansible or a server. The protocol follows the RESP2 specification: a command is
an array of bulk strings; replies are simple strings (``+``), errors (``-``), integers (``:``), bulk
strings (``$``, ``-1`` is nil) and arrays (``*``, ``-1`` is nil).
"""

import socket
import ssl

CRLF = b"\r\n"
# Error prefixes of an AUTH (or a command sent before AUTH) that mean "wrong or missing credentials".
AUTH_ERROR_PREFIXES = ("WRONGPASS", "NOAUTH", "ERR invalid password", "ERR invalid username-password")
NO_PASSWORD_CONFIGURED = "without any password configured"


class ValkeyError(Exception):
    """Every failure; ``reason`` names its kind for callers that branch on it: ``connect``
    (unreachable, refused, timed out), ``tls``, ``auth``, ``command`` (an error reply) or ``protocol``."""

    def __init__(self, message, reason="protocol"):
        super().__init__(message)
        self.reason = reason


class ReplyError(ValkeyError):
    """An error reply (``-ERR ...``) from the server; returned by read_reply, raised by command()."""

    def __init__(self, message):
        super().__init__(message, "command")

    def __eq__(self, other):
        return isinstance(other, ReplyError) and str(self) == str(other)

    def __hash__(self):
        return hash(str(self))


def encode_command(*args):
    """RESP2 encoding of one command: an array of bulk strings (str, bytes and ints accepted)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, (str, bytes, int)):
            raise TypeError(f"command arguments must be str, bytes or int, not {type(arg).__name__}")
        data = arg if isinstance(arg, bytes) else str(arg).encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_line(stream):
    line = stream.readline()
    if not line:
        raise ValkeyError("the server closed the connection")
    if not line.endswith(CRLF):
        raise ValkeyError(f"incomplete reply line {line[:60]!r}")
    return line[:-2]


def _length(body, kind):
    try:
        return int(body)
    except ValueError:
        raise ValkeyError(f"invalid {kind} length {body[:60]!r}") from None


def _size(body, kind):
    """The length of a bulk string or an array; None for nil (``-1``)."""
    size = _length(body, kind)
    if size < -1:
        raise ValkeyError(f"invalid {kind} length {size}")
    return None if size == -1 else size


def read_reply(stream):
    """Read one RESP2 reply from a binary file object (``socket.makefile('rb')`` or BytesIO).

    Returns str for simple strings, int for integers, bytes for bulk strings, list for arrays, None
    for nil, and a ReplyError instance (not raised) for an error reply.
    """
    line = _read_line(stream)
    prefix, body = line[:1], line[1:]
    if prefix == b"+":
        return body.decode("utf-8", "replace")
    if prefix == b"-":
        return ReplyError(body.decode("utf-8", "replace"))
    if prefix == b":":
        return _length(body, "integer")
    if prefix == b"$":
        size = _size(body, "bulk string")
        if size is None:
            return None
        data = stream.read(size + 2)
        if len(data) != size + 2 or not data.endswith(CRLF):
            raise ValkeyError("truncated bulk string")
        return data[:-2]
    if prefix == b"*":
        count = _size(body, "array")
        return None if count is None else [read_reply(stream) for _index in range(count)]
    raise ValkeyError(f"unexpected reply type {line[:60]!r} (is this a Valkey/Redis server?)")


def parse_info(text):
    """INFO output → {field: value} (values as text); section headers and blank lines are skipped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    fields = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        fields[key] = value
    return fields


def _int(value, default=0):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def summarize(info):
    """What a Discourse deployment needs to know about a server, from the parsed INFO fields."""
    server_name = info.get("server_name") or ("valkey" if "valkey_version" in info else "redis")
    return {
        "server_name": server_name,
        "version": info.get("valkey_version") or info.get("redis_version", ""),
        "redis_version": info.get("redis_version", ""),
        "mode": info.get("server_mode") or info.get("redis_mode", ""),
        "role": info.get("role", ""),
        "maxmemory_policy": info.get("maxmemory_policy", ""),
        "maxmemory": _int(info.get("maxmemory")),
        "aof_enabled": info.get("aof_enabled") == "1",
        "cluster_enabled": info.get("cluster_enabled") == "1",
    }


def classify_auth_error(error):
    """An AUTH error reply → a ValkeyError (reason ``auth``) with a message that says what to fix
    (never the password)."""
    text = str(error)
    if NO_PASSWORD_CONFIGURED in text:
        return ValkeyError(
            "the server has no password configured (AUTH was refused: "
            f"{text}); Discourse's Valkey must require one (requirepass or an ACL user)",
            "auth",
        )
    return ValkeyError(f"the server refused the credentials: {text}", "auth")


class Connection:
    """One connection to a server; ``command(*args)`` sends a command and returns its reply."""

    def __init__(
        self,
        host,
        port,
        timeout=5.0,
        tls=False,
        ca_cert=None,
        validate_certs=True,
        server_name=None,
    ):
        self.where = f"{host}:{port}"
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ValkeyError(f"cannot connect to {self.where}: {exc.strerror or exc}", "connect") from None
        if tls:
            context = ssl.create_default_context(cafile=ca_cert)
            if not validate_certs:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            try:
                raw = context.wrap_socket(raw, server_hostname=server_name or host)
            except (ssl.SSLError, OSError) as exc:
                raw.close()
                raise ValkeyError(f"TLS handshake with {self.where} failed: {exc}", "tls") from None
        self._sock = raw
        self._stream = raw.makefile("rb")

    def command(self, *args):
        """Send one command; return its reply, raising ReplyError for an error reply."""
        try:
            self._sock.sendall(encode_command(*args))
            reply = read_reply(self._stream)
        except TimeoutError:
            raise ValkeyError(f"{self.where} did not answer {args[0]} in time", "connect") from None
        except ssl.SSLError as exc:
            raise ValkeyError(f"TLS error talking to {self.where}: {exc}", "tls") from None
        except OSError as exc:
            raise ValkeyError(
                f"connection to {self.where} failed: {exc.strerror or exc}", "connect"
            ) from None
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def close(self):
        try:
            self._stream.close()
        finally:
            self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def check_server(connection, username=None, password=None):
    """Probe a server: whether it demands authentication, whether our credentials work, its INFO.

    Returns {"auth_required": bool, "server": summarize(INFO)}; raises ValkeyError (reason ``auth``)
    when the credentials are refused, or when they are missing and the server requires them.
    """
    try:
        connection.command("PING")
        auth_required = False
    except ReplyError as exc:
        if not str(exc).startswith("NOAUTH"):
            raise
        auth_required = True
    if password:
        args = ("AUTH", username, password) if username else ("AUTH", password)
        try:
            connection.command(*args)
        except ReplyError as exc:
            raise classify_auth_error(exc) from None
    elif auth_required:
        raise ValkeyError("the server requires authentication and no password was given", "auth")
    try:
        info = connection.command("INFO")  # the default sections hold all fields we read
    except ReplyError as exc:
        if str(exc).startswith(AUTH_ERROR_PREFIXES):
            raise classify_auth_error(exc) from None
        raise
    return {"auth_required": auth_required, "server": summarize(parse_info(info))}
