"""The realip snippet the app role mounts into the image's nginx (plugins/module_utils/nginx.py).

Directives from nginx's ngx_http_realip_module (set_real_ip_from, real_ip_header,
real_ip_recursive); the outlet it is mounted into is upstream's before-server include
(discourse/discourse_docker e071c2c8ebf8a93c1fba4e16fbb7168a2a9201bd, templates/web.template.yml).
tests/integration/test_web_tier.py runs it in Debian's nginx.
"""

from __future__ import annotations

import pytest

from ansible_collections.forumops.discourse.plugins.module_utils.nginx import real_ip_conf

HEADER = "# Written by forumops.discourse: the client address is what the trusted proxies forwarded.\n"


def test_each_network_is_trusted_once_in_canonical_form_then_the_header_recursively():
    assert real_ip_conf(["10.244.0.0/16", "fd00:10:244::/64", "10.96.0.10", "10.244.0.0/16"]) == (
        HEADER + "set_real_ip_from 10.244.0.0/16;\n"
        "set_real_ip_from fd00:10:244::/64;\n"
        "set_real_ip_from 10.96.0.10/32;\n"
        "real_ip_header X-Forwarded-For;\n"
        "real_ip_recursive on;\n"
    )


def test_no_networks_trusts_nobody():
    assert real_ip_conf([]) == HEADER + "# No trusted proxies: every address is the connecting peer's.\n"


@pytest.mark.parametrize(
    ("cidrs", "message"),
    [
        (
            ["10.244.0.1/16"],
            "discourse_app_trusted_proxy_cidrs entry '10.244.0.1/16' is not a network address with prefix "
            "length (10.244.0.1/16 has host bits set).",
        ),
        (
            ["10.0.0.0/8; return 200"],
            "discourse_app_trusted_proxy_cidrs entry '10.0.0.0/8; return 200' is not a network address with "
            "prefix length ('10.0.0.0/8; return 200' does not appear to be an IPv4 or IPv6 network).",
        ),
        (
            "10.0.0.0/8",
            "discourse_app_trusted_proxy_cidrs must be a list of CIDRs such as 10.0.0.0/8; got '10.0.0.0/8'.",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_variable(cidrs, message):
    with pytest.raises(ValueError) as caught:
        real_ip_conf(cidrs, variable="discourse_app_trusted_proxy_cidrs")
    assert str(caught.value) == message
