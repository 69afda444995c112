"""Every boolean input means the same as a YAML bool and as an `-e name=<word>` string (issue 22, item 1).

`-e x=false` passes the string "false", which Jinja treats as true. The list of inputs comes from
the roles' argument specs, so a new boolean input is covered without editing this file. The first
test runs ansible-playbook with every boolean input of every role given as each word Ansible
accepts and reads the values the roles use (tests/unit/test_boolean_inputs.py proves nothing reads
an input any other way); the others show the effect on what the reported inputs did, against the
S3 server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.integration.test_storage_s3 import BACKUPS, PLAYBOOK, UPLOADS, site_vars
from tools.variables_reference import boolean_inputs, load_roles, normalised_name

ROOT = Path(__file__).resolve().parents[2]
ROLES = load_roles(ROOT)
PLAYBOOK_SPECS_FILE = ROOT / "playbooks" / "vars" / "argument_specs.yml"
PLAYBOOK_SPECS = yaml.safe_load(PLAYBOOK_SPECS_FILE.read_text())["argument_specs"]
BOOLEANS = [name for _role, spec, _defaults in ROLES for name in boolean_inputs(spec)]
BOOLEANS += [name for spec in PLAYBOOK_SPECS.values() for name in boolean_inputs(spec)]
# The words Ansible's bool filter reads as each value; inputs take them in turn, so every word is
# given to some input and every input gets a word as a string.
WORDS = {False: ("false", "no", "0", "False"), True: ("true", "yes", "1", "True")}


def _read_playbook(tmp_path):
    """A play that loads every role's defaults and vars (roles:), runs each playbook's input check
    (as the playbooks do) and writes the normalised values."""
    play = {
        "name": "Read the normalised boolean inputs",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "roles": [f"forumops.discourse.{role}" for role, _spec, _defaults in ROLES],
        "pre_tasks": [
            *(
                {
                    "name": f"Check the inputs of {name}",
                    "forumops.discourse.validate_inputs": {"playbook": name},
                }
                for name, spec in PLAYBOOK_SPECS.items()
                # The playbooks with boolean inputs (deployer_rbac has a required subject and none).
                if any(option.get("type") == "bool" for option in (spec.get("options") or {}).values())
            ),
            {
                "name": "Write them",
                "ansible.builtin.copy": {
                    "content": "{{ {"
                    + ", ".join(f"'{name}': {normalised_name(name)}" for name in BOOLEANS)
                    + "} | to_json }}",
                    "dest": str(tmp_path / "booleans.json"),
                    "mode": "0600",
                },
            },
            {"name": "Stop before the roles run", "ansible.builtin.meta": "end_play"},
        ],
    }
    path = tmp_path / "read_booleans.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def _values(result, tmp_path):
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / "booleans.json").read_text())


def test_the_specs_declare_the_reported_inputs():
    for name in (
        "discourse_storage_uploads_public_read",
        "discourse_storage_manage_buckets",
        "discourse_backup_confirm_delete_old_cluster",
        "discourse_backup_discourse_dry_run",
        "discourse_backup_drill_keep",
        "discourse_database_wait",
        "discourse_app_tls_enabled",
        "discourse_upgrade_skip_backup",
        "discourse_restore_confirm",
    ):
        assert name in BOOLEANS


@pytest.mark.parametrize("value", [False, True])
def test_every_boolean_input_given_as_a_word_on_the_command_line_is_that_boolean(ansible, tmp_path, value):
    playbook = _read_playbook(tmp_path)
    words = WORDS[value]
    args = [arg for i, name in enumerate(BOOLEANS) for arg in ("-e", f"{name}={words[i % len(words)]}")]
    assert len(BOOLEANS) >= len(words)
    values = _values(ansible("ansible-playbook", playbook, *args), tmp_path)
    assert values == dict.fromkeys(BOOLEANS, value)


@pytest.mark.parametrize("value", [False, True])
def test_every_boolean_input_given_as_yaml_is_that_boolean(ansible, tmp_path, value):
    playbook = _read_playbook(tmp_path)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(dict.fromkeys(BOOLEANS, value)))
    result = ansible("ansible-playbook", playbook, "-e", f"@{extra}")
    assert _values(result, tmp_path) == dict.fromkeys(BOOLEANS, value)


@pytest.mark.s3
def test_uploads_public_read_false_on_the_command_line_keeps_the_bucket_private(ansible, s3_server, tmp_path):
    """Reported: `-e discourse_storage_uploads_public_read=false` made a public GetObject policy."""
    # A CDN reads the bucket: without one, a private uploads bucket is an input error.
    values = site_vars(s3_server, tmp_path, discourse_storage_cdn_url="https://cdn.forum.test")
    client = s3_server.client()

    private = converge_with(ansible, tmp_path, values, "discourse_storage_uploads_public_read=false")
    assert private.returncode == 0, private.stdout + private.stderr
    with pytest.raises(ClientError) as caught:
        client.get_bucket_policy(Bucket=UPLOADS)
    assert caught.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    block = client.get_public_access_block(Bucket=UPLOADS)["PublicAccessBlockConfiguration"]
    assert (block["BlockPublicPolicy"], block["RestrictPublicBuckets"]) == (True, True)

    public = converge_with(ansible, tmp_path, values, "discourse_storage_uploads_public_read=true")
    assert public.returncode == 0, public.stdout + public.stderr
    statement = json.loads(client.get_bucket_policy(Bucket=UPLOADS)["Policy"])["Statement"][0]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "s3:GetObject")


@pytest.mark.s3
def test_manage_buckets_false_on_the_command_line_makes_no_s3_call(ansible, s3_server, tmp_path):
    """Reported: render mode with `-e discourse_storage_manage_buckets=false` still set up buckets."""
    values = site_vars(s3_server, tmp_path)
    # Nothing listens on port 9 of this address: any S3 call would fail the run.
    values["discourse_storage_endpoint"] = "http://127.0.0.1:9"
    values["discourse_storage_connect_timeout"] = 1
    result = converge_with(ansible, tmp_path, values, "discourse_storage_manage_buckets=false")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "render" / "forum_one" / "storage.yaml").is_file()
    assert [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]] == []
    assert BACKUPS not in result.stdout

    refused = converge_with(ansible, tmp_path, values, "discourse_storage_manage_buckets=true")
    assert refused.returncode != 0


def converge_with(ansible, tmp_path, values, *extra):
    """converge() with `-e k=v` strings after the vars file, as a user types them."""
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(values))
    args = [arg for item in extra for arg in ("-e", item)]
    return ansible("ansible-playbook", PLAYBOOK, "-e", f"@{path}", *args)
