"""module_utils/valkey: RESP2 encoding and parsing, INFO parsing and the server summary, no server."""

import io
import socket

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import valkey


def reply(data):
    return valkey.read_reply(io.BytesIO(data))


def test_a_command_is_an_array_of_bulk_strings():
    assert valkey.encode_command("AUTH", "user", "pässword") == (
        b"*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$9\r\np\xc3\xa4ssword\r\n"
    )


def test_integers_and_bytes_are_sent_as_bulk_strings():
    assert valkey.encode_command("SELECT", 3, b"\r\n") == b"*3\r\n$6\r\nSELECT\r\n$1\r\n3\r\n$2\r\n\r\n\r\n"


def test_other_argument_types_are_refused():
    with pytest.raises(TypeError, match="not bool"):
        valkey.encode_command("SET", True)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"+PONG\r\n", "PONG"),
        (b":42\r\n", 42),
        (b":-1\r\n", -1),
        (b"$5\r\nhello\r\n", b"hello"),
        (b"$0\r\n\r\n", b""),
        (b"$-1\r\n", None),
        (b"*-1\r\n", None),
        (b"*0\r\n", []),
        (b"$4\r\na\r\nb\r\n", b"a\r\nb"),
        (b"*3\r\n$3\r\nfoo\r\n:7\r\n*1\r\n+OK\r\n", [b"foo", 7, ["OK"]]),
    ],
)
def test_replies_decode_to_python_values(wire, expected):
    assert reply(wire) == expected


def test_an_error_reply_is_returned_not_raised():
    result = reply(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    assert isinstance(result, valkey.ReplyError)
    assert str(result) == "WRONGPASS invalid username-password pair or user is disabled."


def test_errors_inside_an_array_keep_their_position():
    assert reply(b"*2\r\n+OK\r\n-ERR no\r\n") == ["OK", valkey.ReplyError("ERR no")]


def test_replies_are_read_one_at_a_time():
    stream = io.BytesIO(b"+OK\r\n:1\r\n")
    assert valkey.read_reply(stream) == "OK"
    assert valkey.read_reply(stream) == 1


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"", "the server closed the connection"),
        (b"+PONG", "incomplete reply line b'+PONG'"),
        (b"$5\r\nhel", "truncated bulk string"),
        (b"$5\r\nhelloXY", "truncated bulk string"),
        (b"$x\r\n", "invalid bulk string length b'x'"),
        (b"*-2\r\n", "invalid array length -2"),
        (b"HTTP/1.1 400 Bad Request\r\n", "unexpected reply type b'HTTP/1.1 400 Bad Request'"),
    ],
)
def test_malformed_replies_raise_protocol_errors(wire, message):
    with pytest.raises(valkey.ValkeyError) as caught:
        reply(wire)
    assert str(caught.value).startswith(message)
    assert caught.value.reason == "protocol"


INFO = (
    b"# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.8\r\n"
    b"redis_mode:standalone\r\n\r\n# Memory\r\nmaxmemory:67108864\r\nmaxmemory_policy:noeviction\r\n"
    b"\r\n# Persistence\r\naof_enabled:1\r\n\r\n# Replication\r\nrole:master\r\n\r\n"
    b"# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"
)


def test_info_fields_are_split_on_the_first_colon():
    fields = valkey.parse_info(INFO)
    assert fields["db0"] == "keys=1,expires=0,avg_ttl=0"
    assert fields["maxmemory_policy"] == "noeviction"
    assert "# Server" not in fields
    assert len(fields) == 10


def test_the_summary_of_a_valkey_server():
    assert valkey.summarize(valkey.parse_info(INFO)) == {
        "server_name": "valkey",
        "version": "8.1.8",
        "redis_version": "7.2.4",
        "mode": "standalone",
        "role": "master",
        "maxmemory_policy": "noeviction",
        "maxmemory": 67108864,
        "aof_enabled": True,
        "cluster_enabled": False,
    }


def test_the_summary_of_a_redis_cluster_node_that_evicts():
    info = "redis_version:7.0.15\nredis_mode:cluster\nrole:master\nmaxmemory:0\n"
    info += "maxmemory_policy:allkeys-lru\naof_enabled:0\ncluster_enabled:1\n"
    assert valkey.summarize(valkey.parse_info(info)) == {
        "server_name": "redis",
        "version": "7.0.15",
        "redis_version": "7.0.15",
        "mode": "cluster",
        "role": "master",
        "maxmemory_policy": "allkeys-lru",
        "maxmemory": 0,
        "aof_enabled": False,
        "cluster_enabled": True,
    }


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            "WRONGPASS invalid username-password pair or user is disabled.",
            "the server refused the credentials: "
            "WRONGPASS invalid username-password pair or user is disabled.",
        ),
        (
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?",
            "the server has no password configured (AUTH was refused: ERR AUTH <password> called without any "
            "password configured for the default user. Are you sure your configuration is correct?); "
            "Discourse's Valkey must require one (requirepass or an ACL user)",
        ),
    ],
)
def test_auth_errors_say_what_to_fix(error, message):
    classified = valkey.classify_auth_error(valkey.ReplyError(error))
    assert isinstance(classified, valkey.ValkeyError)
    assert str(classified) == message
    assert classified.reason == "auth"


def test_a_closed_port_is_a_connect_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    with pytest.raises(valkey.ValkeyError) as caught:
        valkey.Connection("127.0.0.1", port, timeout=2)
    assert str(caught.value) == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert caught.value.reason == "connect"
