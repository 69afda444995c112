#!/usr/bin/python
# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: cluster_preflight
short_description: Check that a cluster has what a Discourse site needs before anything is applied
version_added: "0.1.0"
description:
  - Asks the API server for its version, then checks what the site's settings call for, with one
    cheap request each, and fails listing everything that is missing and how to install it.
  - "The checks: CloudNativePG CRDs and a running operator Deployment (label
    C(app.kubernetes.io/name=cloudnative-pg)) in C(cnpg) mode; the Barman Cloud plugin CRD and its
    Service (label C(cnpg.io/pluginName=barman-cloud.cloudnative-pg.io)) when backups are on; the
    PodMonitor CRD when asked for; the PrometheusRule CRD when the site has alerts; Gateway API
    CRDs for C(gateway) routing; the named IngressClass; cert-manager (CRDs, controller Deployment,
    the named issuer) when an issuer is named; the named StorageClasses, or a default one."
  - A check the credentials may not run (401/403, such as listing Deployments cluster-wide) is a
    warning, not a failure.
  - On a local connection the action plugin of the same name runs it in the controller's worker
    process; connection options set with C(module_defaults) for C(group/forumops.discourse.discourse) apply.
author:
  - forumops engineering (@forumops)
options:
  site:
    description: The site's name, for messages.
    type: str
    required: true
  namespace:
    description: The site's namespace (where a namespaced C(Issuer) must be).
    type: str
  database_mode:
    description: C(cnpg) needs CloudNativePG; C(external) needs nothing in the cluster.
    type: str
    choices: [cnpg, external]
    default: cnpg
  database_backups:
    description: The Cluster archives to object storage through the Barman Cloud plugin.
    type: bool
    default: false
  database_pooler:
    description: The site uses a CloudNativePG Pooler (served by the same operator).
    type: bool
    default: false
  podmonitor:
    description: The site creates a PodMonitor (Prometheus operator CRD).
    type: bool
    default: false
  prometheusrule:
    description: The site creates a PrometheusRule (its alerts; Prometheus operator CRD).
    type: bool
    default: false
  routing:
    description: How traffic reaches the site.
    type: str
    choices: [ingress, gateway, none]
    default: ingress
  ingress_class:
    description: The IngressClass the site's Ingress names; empty (the cluster's default) is not checked.
    type: str
    default: ""
  tls_issuer:
    description: The cert-manager issuer the site's certificate comes from; empty means no cert-manager check.
    type: str
    default: ""
  tls_issuer_kind:
    description: Kind of O(tls_issuer).
    type: str
    choices: [ClusterIssuer, Issuer]
    default: ClusterIssuer
  storage_classes:
    description: StorageClass names the site's volumes use; an empty name means the default class must exist.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - forumops.discourse.k8s_auth
notes:
  - Supports check mode; it only reads.
seealso:
  - module: forumops.discourse.k8s_get
"""

EXAMPLES = r"""
- name: Check that the cluster has what the site needs
  forumops.discourse.cluster_preflight:
    site: forum
    namespace: discourse-forum
    database_backups: true
    ingress_class: nginx
    tls_issuer: letsencrypt
    storage_classes: ["", fast-ssd]
"""

RETURN = r"""
server_version:
  description: The API server's version (C(gitVersion)).
  returned: always
  type: str
  sample: v1.36.3
checked:
  description: What was checked, in order.
  returned: always
  type: list
  elements: str
missing:
  description: What was checked and not found.
  returned: always
  type: list
  elements: str
unknown:
  description: Checks the credentials were not allowed to run.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.forumops.discourse.plugins.module_utils import kube, preflight  # noqa: E402


def main():
    kube.module_main(preflight.SPEC, preflight.run)


if __name__ == "__main__":
    main()
