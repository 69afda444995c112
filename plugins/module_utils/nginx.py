# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx snippets the app role adds to the image's nginx (Discourse's config/nginx.sample.conf)."""

from __future__ import annotations

import ipaddress


def real_ip_conf(cidrs, variable="trusted proxy CIDRs"):
    """The realip snippet trusting X-Forwarded-For only from ``cidrs`` (nginx's set_real_ip_from).

    In http context (upstream's before-server outlet) it sets $remote_addr and $binary_remote_addr,
    which web.ratelimited keys its zones on, before any limit is counted.

    With ``real_ip_recursive on`` nginx takes the right-most address that is not trusted, so a client
    outside the ranges cannot choose its address by sending the header itself. An empty list trusts
    nobody: the address stays the connecting peer's. Raises ValueError naming ``variable``.
    """
    if not isinstance(cidrs, (list, tuple)):
        raise ValueError(f"{variable} must be a list of CIDRs such as 10.0.0.0/8; got {cidrs!r}.")
    networks = []
    for entry in cidrs:
        try:
            networks.append(str(ipaddress.ip_network(str(entry).strip(), strict=True)))
        except ValueError as exc:
            raise ValueError(
                f"{variable} entry {entry!r} is not a network address with prefix length ({exc})."
            ) from None
    lines = ["# Written by forumops.discourse: the client address is what the trusted proxies forwarded."]
    if not networks:
        lines.append("# No trusted proxies: every address is the connecting peer's.")
        return "\n".join(lines) + "\n"
    lines.extend(f"set_real_ip_from {network};" for network in dict.fromkeys(networks))
    lines.extend(["real_ip_header X-Forwarded-For;", "real_ip_recursive on;"])
    return "\n".join(lines) + "\n"
