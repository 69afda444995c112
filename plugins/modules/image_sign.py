#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: image_sign
short_description: Sign a pushed image with cosign, optionally attesting its SBOM
version_added: "0.1.0"
description:
  - Signs C(repository@digest) of a pushed image with C(cosign sign), with a key (a file, a KMS URI
    or a Kubernetes Secret) or keyless (the ambient OIDC identity, for example a GitHub Actions job
    with the C(id-token) C(write) permission, certified by Fulcio and logged in Rekor).
  - With O(sbom), also attaches the SBOM as a signed in-toto attestation (C(cosign attest)), which
    C(cosign verify-attestation) checks. The public Rekor instance refuses very large attestations
    (several MB, typical for a full Discourse image); attest only with your own transparency log or
    with C(--tlog-upload=false) in O(flags).
  - The signature is pushed to the image's registry, so the host needs write access to it.
author:
  - forumops engineering (@forumops)
options:
  reference:
    description: The pushed image (C(repository:tag) or C(repository@digest)).
    type: str
    required: true
  digest:
    description: The digest the registry gave the image; required unless O(reference) carries one.
    type: str
    default: ""
  mode:
    description: Sign with a key, or keyless.
    type: str
    choices: [key, keyless]
    required: true
  key:
    description: The private key (file path, KMS URI or C(k8s://namespace/secret)) for O(mode=key).
    type: str
  password:
    description:
      - The key's password, given to cosign as C(COSIGN_PASSWORD) (empty for a key without one; cosign
        never prompts).
    type: str
  flags:
    description:
      - Extra flags for C(cosign sign) and C(cosign attest), for example C(--tlog-upload=false) or
        C(--allow-http-registry).
    type: list
    elements: str
    default: []
  sbom:
    description: The SBOM file to attest; none when unset.
    type: path
  sbom_format:
    description: The format of O(sbom).
    type: str
    choices: [spdx-json, cyclonedx-json]
    default: spdx-json
  executable:
    description: The cosign binary.
    type: str
    default: cosign
notes:
  - Does nothing in check mode.
"""

EXAMPLES = r"""
- name: Sign the pushed image with the release key
  forumops.discourse.image_sign:
    reference: ghcr.io/acme/discourse:v3.5.0-0123456789ab
    digest: sha256:4f1c...
    mode: key
    key: /run/secrets/cosign.key
    password: "{{ lookup('ansible.builtin.env', 'COSIGN_PASSWORD') }}"
"""

RETURN = r"""
reference:
  description: What was signed, C(repository@digest).
  returned: success
  type: str
  sample: ghcr.io/acme/discourse@sha256:4f1c...
attested_sbom:
  description: Whether the SBOM was attested as well.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import supply_chain  # noqa: E402


def _sign(executable, run, p):
    commands = supply_chain.sign_commands(
        p["reference"],
        p["digest"],
        p["mode"],
        key=p["key"] or "",
        flags=p["flags"],
        executable=executable,
        sbom={"path": p["sbom"], "format": p["sbom_format"]} if p["sbom"] else None,
    )
    return supply_chain.sign(run, commands, password=p["password"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            reference=dict(type="str", required=True),
            digest=dict(type="str", default=""),
            mode=dict(type="str", required=True, choices=["key", "keyless"]),
            key=dict(type="str", no_log=False),
            password=dict(type="str", no_log=True),
            flags=dict(type="list", elements="str", default=[]),
            sbom=dict(type="path"),
            sbom_format=dict(type="str", default="spdx-json", choices=list(supply_chain.SBOM_FORMATS)),
            executable=dict(type="str", default="cosign"),
        ),
        required_if=[("mode", "key", ["key"])],
        supports_check_mode=True,
    )
    supply_chain.module_main(
        module,
        "cosign",
        "discourse_image_sign_executable",
        _sign,
        check_mode_msg="check mode: nothing signed",
    )


if __name__ == "__main__":
    main()
