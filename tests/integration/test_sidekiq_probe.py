"""The Sidekiq pods' liveness script against a real Sidekiq and a real Valkey.

Sidekiq from Debian (ruby-sidekiq 6.4.1, redis-rb 4.8) heartbeats into Valkey 8 as Discourse's
Sidekiq 7.3 does: the identity "<hostname>:<pid>:<nonce>" in the set "processes", and "beat"
(epoch seconds) and "rss" (KB) in the hash of that name, expiring after 60 s
(sidekiq/sidekiq lib/sidekiq/launcher.rb, v6.4.1 00ae6a74234a9b626a593ae6c5620416349f8eaf and
v7.3.9 bf9afa4c43d4f418cb6133bac718b5488339eacc; the version Discourse locks, Gemfile.lock at
discourse/discourse 4d40c1ac6873e06c7e921231e7a882602063f06f). Discourse keeps Sidekiq's keys in
database redis_db + 1 (lib/discourse.rb sidekiq_redis_config, same commit), and upstream restarts
a Sidekiq whose beat is more than 100 s old (lib/demon/sidekiq.rb
SIDEKIQ_HEARTBEAT_CHECK_MISS_THRESHOLD_SECONDS, 0d3c183c29fd24ad7b50bd50c9ede8ec41ad2123).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.fixtures.ansible import REPO_ROOT
from tests.fixtures.valkey import GOOD_CONFIG

SCRIPT = REPO_ROOT / "roles/discourse_app/files/sidekiq-alive.rb"
PASSWORD = "sidekiq-probe-test"


@pytest.fixture
def valkey(valkey_factory):
    return valkey_factory(GOOD_CONFIG, password=PASSWORD)


@pytest.fixture
def sidekiq(valkey, tmp_path):
    """A real Sidekiq process with Discourse's queues, in Valkey database 1; yields its Popen."""
    app = tmp_path / "app.rb"
    app.write_text('require "sidekiq"\n')
    env = {**os.environ, "REDIS_URL": f"redis://:{PASSWORD}@{valkey.host}:{valkey.port}/1"}
    log = open(tmp_path / "sidekiq.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["sidekiq", "-r", str(app), "-c", "2", "-t", "5", "-q", "critical,8", "-q", "default,4"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = valkey.client(db=1)
    deadline = time.monotonic() + 30
    while not client.smembers("processes"):
        assert process.poll() is None, (tmp_path / "sidekiq.log").read_text()
        assert time.monotonic() < deadline, "Sidekiq wrote no heartbeat within 30 s"
        time.sleep(0.2)
    yield process
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(timeout=20)
    log.close()


def probe(valkey, **env):
    base = {
        "PATH": os.environ["PATH"],
        "DISCOURSE_REDIS_HOST": valkey.host,
        "DISCOURSE_REDIS_PORT": str(valkey.port),
        "DISCOURSE_REDIS_PASSWORD": PASSWORD,
    }
    result = subprocess.run(
        ["ruby", str(SCRIPT)], env={**base, **env}, capture_output=True, text=True, timeout=30, check=False
    )
    return result.returncode, (result.stdout + result.stderr).strip()


def test_a_running_sidekiq_of_this_host_is_alive(valkey, sidekiq):
    code, output = probe(valkey)
    assert code == 0, output
    assert output.startswith(f"alive: {os.uname().nodename}:{sidekiq.pid}:")


def test_another_hosts_sidekiq_does_not_count(valkey, sidekiq):
    """In a pod, Socket.gethostname is the pod's name: another pod's Sidekiq is not this one."""
    assert probe(valkey, DYNO="another-pod") == (
        1,
        "not alive: no Sidekiq process of another-pod has a heartbeat",
    )


def test_a_stopped_sidekiq_is_not_alive_once_its_beat_is_older_than_the_limit(valkey, sidekiq):
    os.kill(sidekiq.pid, signal.SIGSTOP)
    time.sleep(7)  # Sidekiq 6.4 beats every 5 s: now the last beat is more than 2 s old
    code, output = probe(valkey, FORUMOPS_SIDEKIQ_BEAT_WITHIN="2")
    assert code == 1
    assert output.startswith(f"not alive: {os.uname().nodename}:{sidekiq.pid}:")
    assert output.endswith("s ago (limit 2 s)")
    # Within upstream's 100 s the same Sidekiq still counts as alive.
    assert probe(valkey)[0] == 0


def test_rss_over_the_cap_is_not_alive_and_names_the_input(valkey, sidekiq):
    code, output = probe(valkey, FORUMOPS_SIDEKIQ_MAX_RSS_MB="1")
    assert code == 1
    assert output.endswith("MB, over 1 MB (discourse_app_sidekiq_max_rss_mb)"), output
    assert probe(valkey, FORUMOPS_SIDEKIQ_MAX_RSS_MB="100000")[0] == 0


def test_a_wrong_password_or_the_wrong_database_is_not_alive(valkey, sidekiq):
    code, output = probe(valkey, DISCOURSE_REDIS_PASSWORD="wrong")
    assert code == 1
    assert "cannot read Sidekiq's heartbeat" in output and "WRONGPASS" in output
    # DISCOURSE_REDIS_DB=1 puts Sidekiq's keys in database 2, where this Sidekiq is not.
    assert probe(valkey, DISCOURSE_REDIS_DB="1")[0] == 1
