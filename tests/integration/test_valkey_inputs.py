"""Bad inputs to discourse_valkey fail before any API call, naming the variable.

The kubeconfig points at a file that does not exist: had the role called the API, the failure would
be about that file instead of the variable.
"""

import pytest

from tests.fixtures.valkey import NO_CLUSTER, run_role

CASES = {
    "unknown mode": (
        {"discourse_valkey_mode": "bogus"},
        "value of discourse_valkey_mode must be one of: statefulset, external, got: bogus",
    ),
    "maxmemory not a size": (
        {"discourse_valkey_maxmemory": "lots"},
        "discourse_valkey_maxmemory must be empty or a Valkey memory size such as 512mb or 2gb; got 'lots'.",
    ),
    "maxmemory above the memory limit": (
        {"discourse_valkey_maxmemory": "1GB"},
        "discourse_valkey_maxmemory (1GB, 1073741824 bytes) must be below the memory limit in "
        "discourse_valkey_resources.limits.memory (512Mi, 536870912 bytes)",
    ),
    "extra config overriding the eviction policy": (
        {"discourse_valkey_extra_config": {"maxmemory-policy": "allkeys-lru", "hz": 20}},
        "discourse_valkey_extra_config may not set maxmemory-policy: the role manages",
    ),
    "storage size not a quantity": (
        {"discourse_valkey_storage_size": "two gigs"},
        "discourse_valkey_storage_size must be a Kubernetes quantity such as 10Gi or 512Mi; got 'two gigs'.",
    ),
    "namespace not a name": (
        {"discourse_namespace": "Forum_NS"},
        "discourse_valkey_namespace (Forum_NS) must be a namespace name",
    ),
    "wait timeout not a number": (
        {"discourse_valkey_wait_timeout": "soon"},
        "discourse_valkey_wait_timeout",
    ),
    "external mode without a host": (
        {"discourse_valkey_mode": "external"},
        "In external mode discourse_valkey_external_host must be a host name or address (no scheme, no path; "
        'it is "")',
    ),
    "external host with a scheme": (
        {"discourse_valkey_mode": "external", "discourse_valkey_external_host": "redis://valkey.example.net"},
        'it is "redis://valkey.example.net"',
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_fails_before_any_api_call_naming_the_variable(ansible, tmp_path, case):
    inputs, message = CASES[case]
    variables = {"discourse_namespace": "forum", "discourse_site_name": "forum"}
    variables.update(inputs)

    result, facts = run_role(ansible, tmp_path, **variables)

    output = " ".join(result.stdout.split())
    assert result.returncode == 2, output
    assert message in output
    assert facts is None
    assert "Read the existing Valkey password Secret" not in output
    assert NO_CLUSTER not in output + result.stderr
