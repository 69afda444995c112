"""module_utils/kube_exec: the exec subresource's WebSocket channel protocol; no server.

Upstream: RFC 6455 (the handshake's accept key example in section 1.3; framing in section 5);
kubernetes/client-go v0.36.1 tools/remotecommand/websocket.go (a binary message's first byte is its
stream id; the protocols v5.channel.k8s.io and v4.channel.k8s.io); kubernetes/cri-streaming v0.36.1
pkg/streaming/remotecommand/constants.go and exec.go (stream 3 carries the final status; a non-zero
exit is reason NonZeroExitCode with the cause ExitCode, whose JSON key is "reason"; any other error is
an internal error Status). Both read from the Go module proxy's zips of those versions.
"""

import io
import json
import struct

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils import kube, kube_exec
from ansible_collections.forumops.discourse.plugins.module_utils.kube_client import KubeError


def server_frame(opcode, payload, fin=True):
    """A frame as the API server sends it: unmasked."""
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        return struct.pack("!BB", first, len(payload)) + payload
    if len(payload) < 1 << 16:
        return struct.pack("!BBH", first, 126, len(payload)) + payload
    return struct.pack("!BBQ", first, 127, len(payload)) + payload


def test_the_accept_key_is_rfc_6455s_example():
    assert kube_exec.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_the_query_has_one_command_per_word_and_no_stdin():
    assert kube_exec.exec_query(["discourse", "backup", "a b&c"], "web") == (
        "command=discourse&command=backup&command=a+b%26c&container=web&stdout=true&stderr=true"
    )
    assert kube_exec.exec_query(["true"]) == "command=true&stdout=true&stderr=true"


def test_client_frames_are_masked_with_the_right_length_forms():
    mask = b"\x01\x02\x03\x04"
    assert kube_exec.frame(kube_exec.OP_CLOSE, b"\x03\xe8", mask) == b"\x88\x82" + mask + b"\x02\xea"
    medium = kube_exec.frame(kube_exec.OP_BINARY, b"\x00" * 200, mask)
    assert medium[:4] == b"\x82\xfe\x00\xc8" and medium[4:8] == mask and medium[8:12] == mask
    large = kube_exec.frame(kube_exec.OP_BINARY, b"\x00" * 70000, mask)
    assert large[:10] == b"\x82\xff" + struct.pack("!Q", 70000) and len(large) == 10 + 4 + 70000


def test_read_frame_reads_each_length_form_and_unmasks():
    stream = io.BytesIO(
        server_frame(2, b"\x01hi")
        + server_frame(2, b"\x01" + b"x" * 300)
        + server_frame(2, b"\x02" + b"y" * 70000)
        + kube_exec.frame(1, b"abc", b"\x00\x00\x00\x01")
    )
    assert kube_exec.read_frame(stream) == (True, 2, b"\x01hi")
    assert kube_exec.read_frame(stream) == (True, 2, b"\x01" + b"x" * 300)
    assert kube_exec.read_frame(stream) == (True, 2, b"\x02" + b"y" * 70000)
    assert kube_exec.read_frame(stream) == (True, 1, b"abc")
    assert kube_exec.read_frame(stream) is None


def test_a_frame_cut_short_is_an_error():
    with pytest.raises(KubeError, match="in the middle of a frame"):
        kube_exec.read_frame(io.BytesIO(server_frame(2, b"\x01hello")[:4]))


def test_messages_are_demultiplexed_reassembled_and_pings_answered():
    sent = []
    success = json.dumps({"metadata": {}, "status": "Success"}).encode()
    stream = io.BytesIO(
        server_frame(2, b"\x01out ")
        + server_frame(9, b"ping-data")
        + server_frame(2, b"\x02err", fin=False)
        + server_frame(0, b"or")
        + server_frame(2, b"\x01put")
        + server_frame(2, b"\x03" + success)
        + server_frame(8, b"\x03\xe8")
    )
    got = list(kube_exec.messages(stream, sent.append))
    assert got == [(1, b"out "), (2, b"error"), (1, b"put"), (3, success)]
    assert [frame[0] for frame in sent] == [0x8A, 0x88]  # a pong, then our close
    assert kube_exec.collect(got) == {"stdout": "out put", "stderr": "error", "rc": 0, "error": ""}


def test_a_non_zero_exit_gives_its_code():
    status = {
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
        "message": "command terminated with non-zero exit code: exit status 3",
    }
    assert kube_exec.collect([(1, b"x"), (3, json.dumps(status).encode())])["rc"] == 3


def test_other_failures_keep_the_output_and_a_missing_status_is_an_error():
    internal = {"status": "Failure", "reason": "InternalError", "message": "error executing command"}
    assert kube_exec.collect([(2, b"why"), (3, json.dumps(internal).encode())]) == {
        "stdout": "",
        "stderr": "why",
        "rc": None,
        "error": "error executing command",
    }
    with pytest.raises(KubeError, match="without the command's exit status"):
        kube_exec.collect([(1, b"half")])


def test_text_frames_mean_no_channel_protocol_was_agreed():
    with pytest.raises(KubeError, match="text frame"):
        list(kube_exec.messages(io.BytesIO(server_frame(1, b"MXN0ZG91dA==")), lambda _frame: None))


def test_run_exec_splits_a_string_like_k8s_exec_and_fails_on_non_zero(monkeypatch):
    calls = []

    def fake_run(client, namespace, pod, argv, container, timeout):
        calls.append((namespace, pod, argv, container, timeout))
        rc = {"false": 2, "missing": None}.get(argv[0], 0)
        return {"stdout": "", "stderr": "boom", "rc": rc, "error": "" if rc == 0 else "not found"}

    monkeypatch.setattr(kube_exec, "run", fake_run)
    params = {"namespace": "forum", "pod": "web-0", "container": "web", "timeout": 60}
    ok = kube.run_exec(None, dict(params, command="discourse restore 'a b.sql.gz'"))
    assert calls[-1] == ("forum", "web-0", ["discourse", "restore", "a b.sql.gz"], "web", 60)
    assert ok == {"stdout": "", "stderr": "boom", "rc": 0, "error": "", "return_code": 0, "changed": True}
    failed = kube.run_exec(None, dict(params, command=["false", 1]))
    assert calls[-1][2] == ["false", "1"]
    assert failed["failed"] is True and failed["msg"] == "false 1 in pod forum/web-0 exited with 2"
    failed = kube.run_exec(None, dict(params, command=["missing"]))
    assert failed["failed"] is True and failed["msg"] == "missing in pod forum/web-0: not found"
    with pytest.raises(KubeError, match="command is empty"):
        kube.run_exec(None, dict(params, command=""))
