# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server connection options of k8s_apply and k8s_get (their spec: kube.CONNECTION_SPEC)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of the kubeconfig file (several joined like E(KUBECONFIG) are merged as kubectl merges
        them), or an inline kubeconfig dict. Defaults to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG),
        then C(~/.kube/config), then the in-cluster ServiceAccount.
      - Read as kubectl reads it, exec credential plugins, C(proxy-url), E(HTTPS_PROXY),
        C(tls-server-name) and impersonation included (see docs/getting-started.md).
    type: raw
  context:
    description: The kubeconfig context to use; its current context when unset.
    type: str
  host:
    description: API server URL, replacing the kubeconfig's.
    type: str
  api_key:
    description: Bearer token, replacing the kubeconfig's credentials.
    type: str
  validate_certs:
    description: Verify the API server's certificate; the kubeconfig's C(insecure-skip-tls-verify) when unset.
    type: bool
  ca_cert:
    description: CA bundle that signs the API server's certificate, replacing the kubeconfig's.
    type: path
  client_cert:
    description: Client certificate file, replacing the kubeconfig's.
    type: path
  client_key:
    description: Client key file, replacing the kubeconfig's.
    type: path
  impersonate_user:
    description: Act as this user (C(Impersonate-User)), replacing the kubeconfig's C(as).
    type: str
  impersonate_groups:
    description: Act with these groups (C(Impersonate-Group)), replacing the kubeconfig's C(as-groups).
    type: list
    elements: str
"""
