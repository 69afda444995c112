#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: image_verify
short_description: Verify an image's cosign signature before it is deployed
version_added: "0.1.0"
description:
  - Runs C(cosign verify) on an image reference and fails, naming the image and whom the caller
    trusts, when the image has no signature, when no signature verifies against the given public key
    or keyless identity, or when the image does not exist.
  - Verify by digest (C(repository@sha256:...) or C(repository:tag@sha256:...)); a tag alone is
    resolved by the registry at the time of the check and may move afterwards.
  - Needs the C(cosign) binary (v2) on the host the module runs on, and the registry's credentials
    where cosign finds them (docker's C(config.json)).
  - Never changes anything; runs the same in check mode.
author:
  - forumops engineering (@forumops)
options:
  image:
    description: The image reference to verify.
    type: str
    required: true
  key:
    description:
      - The cosign public key (a file path, a KMS URI or C(k8s://namespace/secret)) the signature
        must verify against. Mutually exclusive with O(identity) and O(identity_regexp).
    type: str
  identity:
    description:
      - Keyless signing - the exact certificate identity of the signer, for a GitHub workflow
        C(https://github.com/OWNER/REPO/.github/workflows/FILE.yml@refs/heads/main).
    type: str
  identity_regexp:
    description: Keyless signing - a regular expression the certificate identity must match.
    type: str
  oidc_issuer:
    description: Keyless signing - the OIDC issuer of the identity.
    type: str
    default: https://token.actions.githubusercontent.com
  flags:
    description:
      - Extra C(cosign verify) flags, for example C(--insecure-ignore-tlog=true) for signatures made
        without the transparency log, or C(--allow-http-registry) for a plain HTTP test registry.
    type: list
    elements: str
    default: []
  executable:
    description: The cosign binary.
    type: str
    default: cosign
notes:
  - Supports check mode.
seealso:
  - name: cosign verify
    description: The command this module runs.
    link: https://docs.sigstore.dev/cosign/verifying/verify/
"""

EXAMPLES = r"""
- name: Refuse an image that the build's key did not sign
  forumops.discourse.image_verify:
    image: ghcr.io/acme/discourse:v3.5.0-0123456789ab@sha256:4f1c...
    key: /etc/forumops/cosign.pub

- name: Refuse an image that the GitHub workflow did not sign (keyless)
  forumops.discourse.image_verify:
    image: "{{ image }}"
    identity: https://github.com/acme/forums/.github/workflows/discourse-image.yml@refs/heads/main
"""

RETURN = r"""
image:
  description: The reference that was verified.
  returned: success
  type: str
  sample: ghcr.io/acme/discourse@sha256:4f1c...
digest:
  description: The image digest the verified signatures cover.
  returned: success
  type: str
  sample: sha256:4f1c...
signatures:
  description: How many signatures verified.
  returned: success
  type: int
  sample: 1
trusted:
  description: Whom the signatures were checked against.
  returned: success
  type: str
  sample: the public key /etc/forumops/cosign.pub
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import supply_chain  # noqa: E402


def _verify(executable, run, p):
    return supply_chain.verify(
        run,
        p["image"],
        key=p["key"] or "",
        identity=p["identity"] or "",
        identity_regexp=p["identity_regexp"] or "",
        issuer=p["oidc_issuer"] or "",
        flags=p["flags"],
        executable=executable,
    )


def main():
    module = AnsibleModule(
        argument_spec=dict(
            image=dict(type="str", required=True),
            key=dict(type="str", no_log=False),
            identity=dict(type="str"),
            identity_regexp=dict(type="str"),
            oidc_issuer=dict(type="str", default=supply_chain.GITHUB_OIDC_ISSUER),
            flags=dict(type="list", elements="str", default=[]),
            executable=dict(type="str", default="cosign"),
        ),
        supports_check_mode=True,
    )
    image = module.params["image"]
    supply_chain.module_main(module, "cosign", "option executable", _verify, changed=False, image=image)


if __name__ == "__main__":
    main()
