"""plugins/filter/replica_patches.py: the restore's quiesce and resume scale definitions."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.filter.replica_patches import replica_patches


def deployment(name, replicas):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "forum"},
        "spec": {"replicas": replicas},
    }


def test_each_deployment_gets_its_recorded_replicas_back():
    assert replica_patches({"forum-web": 2, "forum-sidekiq": 1}, "forum") == [
        deployment("forum-sidekiq", 1),
        deployment("forum-web", 2),
    ]


def test_to_sets_every_deployment_to_one_count():
    assert replica_patches({"forum-web": 2, "forum-sidekiq": "1"}, "forum", to=0) == [
        deployment("forum-sidekiq", 0),
        deployment("forum-web", 0),
    ]
    assert replica_patches({}, "forum", to=0) == []


def test_not_a_mapping_is_an_error():
    with pytest.raises(AnsibleFilterError, match=r"^replica_patches: expects a mapping"):
        replica_patches(["forum-web"], "forum")
