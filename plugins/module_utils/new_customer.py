# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/new_customer.yml's inputs: the sites with their namespaces, and every input error.

Pure but for ``errors``' look at two paths (the inventory to write must not exist; the vault
password file must be readable), which it takes as functions so tests pass their own.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.forumops.discourse.plugins.module_utils.names import DNS_LABEL_RE, HOSTNAME_RE

SITE_NAME_RE = re.compile(r"^[a-z0-9_]+$")
SITES_EXAMPLE = '[{"name": "acme_forum", "hostname": "forum.acme.com"}]'


def _json(value):
    return "nothing" if value is None else json.dumps(value)


def customer_sites(sites):
    """Each site as {name, hostname, namespace}; the namespace defaults to discourse-<name, _ as ->."""
    return [
        {
            "name": site.get("name", ""),
            "hostname": site.get("hostname", ""),
            "namespace": site.get("namespace", "discourse-" + str(site.get("name", "")).replace("_", "-")),
        }
        for site in sites
    ]


def _site_errors(index, site):
    problems = []
    name, hostname, namespace = site["name"], site["hostname"], site["namespace"]
    if not isinstance(name, str) or not SITE_NAME_RE.match(name):
        problems.append(f"name must be an Ansible host name ([a-z0-9_]+), got {_json(name)}")
    if not isinstance(hostname, str) or not HOSTNAME_RE.match(hostname):
        problems.append(
            "hostname must be a bare host name such as forum.acme.com (no scheme, port or path), "
            f"got {_json(hostname)}"
        )
    if not isinstance(namespace, str) or not DNS_LABEL_RE.match(namespace):
        problems.append(f"namespace must be a DNS label of at most 63 characters, got {_json(namespace)}")
    return [f"new_customer_sites[{index}] ({_json(name)}): {'; '.join(problems)}."] if problems else []


def _repeated(sites):
    """The names, hostnames and namespaces given more than once, in the order they first appear."""
    values = [
        json.dumps(site[key], sort_keys=True) for key in ("name", "hostname", "namespace") for site in sites
    ]
    repeated = [
        value
        for index, value in enumerate(values)
        if values.count(value) > 1 and values.index(value) == index
    ]
    return [json.loads(value) for value in repeated]


def _password_file_readable(path):
    return os.path.isfile(path) and os.access(path, os.R_OK) and os.path.getsize(path) > 0


def errors(values, context, exists=os.path.exists, readable=_password_file_readable):
    """Every input error of new_customer.yml: ``values`` are its inputs, ``context["destination"]``
    the inventory directory it would write."""
    found = []
    name = values.get("new_customer_name")
    if not isinstance(name, str) or len(name) > 40 or not DNS_LABEL_RE.match(name):
        found.append(
            "new_customer_name must be a DNS label of at most 40 characters (lowercase letters, digits and "
            f"'-', starting and ending with a letter or digit), got {_json(name)}."
        )
    sites = values.get("new_customer_sites")
    if not isinstance(sites, list) or not sites or not all(isinstance(site, dict) for site in sites):
        found.append(
            f"new_customer_sites must be a non-empty list of sites such as {SITES_EXAMPLE} "
            f"(pass it as JSON with -e), got {_json(sites)}."
        )
    else:
        completed = customer_sites(sites)
        for index, site in enumerate(completed):
            found += _site_errors(index, site)
        repeated = _repeated(completed)
        if repeated:
            found.append(
                "new_customer_sites must name each site, hostname and namespace once (one site per "
                f"namespace); repeated: {', '.join(map(str, repeated))}."
            )
    if isinstance(name, str) and exists(context["destination"]):
        found.append(
            f"{context['destination']} exists; choose another name or remove it (new_customer_name)."
        )
    password_file = values.get("new_customer_vault_password_file") or ""
    if not password_file or not readable(os.path.expanduser(password_file)):
        found.append(
            "new_customer_vault_password_file must name the customer's vault password file (a non-empty "
            "file kept outside the repository, or an executable that prints the password), "
            f"got {_json(password_file or None)}."
        )
    return found
