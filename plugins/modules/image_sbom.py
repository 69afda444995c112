#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: image_sbom
short_description: Write the SBOM of a built image with syft
version_added: "0.1.0"
description:
  - Writes a software bill of materials (SPDX or CycloneDX JSON) of an image that docker buildx,
    podman or buildah built, into O(output) next to the build manifest, with the C(syft) binary.
  - buildah and podman keep images in their own storage, which syft cannot read; the image is written
    to an OCI archive in O(output) first (removed afterwards) and syft scans that. A docker buildx
    image is scanned from the registry by O(digest) when it was pushed, else from the Docker daemon.
  - Returns what the build manifest records - the file name, its SHA-256, the package count and the
    tool that wrote it.
author:
  - forumops engineering (@forumops)
options:
  builder:
    description: The builder that built the image.
    type: str
    choices: [docker, podman, buildah]
    required: true
  reference:
    description: The image reference as the builder tagged it (C(repository:tag)).
    type: str
    required: true
  digest:
    description: The registry digest of the pushed image (C(sha256:...)); empty when not pushed.
    type: str
    default: ""
  output:
    description: The directory the SBOM is written to (the build manifest's directory).
    type: path
    required: true
  format:
    description: The SBOM format; the file is C(sbom.spdx.json) or C(sbom.cyclonedx.json).
    type: str
    choices: [spdx-json, cyclonedx-json]
    default: spdx-json
  executable:
    description: The syft binary.
    type: str
    default: syft
  builder_executable:
    description: The builder's binary, when not its name on PATH.
    type: str
    default: ""
  builder_global_flags:
    description: Flags the builder takes before its subcommand (C(--root), C(--storage-driver)).
    type: list
    elements: str
    default: []
notes:
  - Does nothing in check mode.
"""

EXAMPLES = r"""
- name: Write the SBOM of the image buildah built
  forumops.discourse.image_sbom:
    builder: buildah
    reference: ghcr.io/acme/discourse:v3.5.0-0123456789ab
    output: /srv/build/default
"""

RETURN = r"""
sbom:
  description: The SBOM's record in the build manifest.
  returned: success
  type: dict
  contains:
    file:
      description: The file name, relative to O(output).
      type: str
      sample: sbom.spdx.json
    path:
      description: The file's path.
      type: str
      sample: /srv/build/default/sbom.spdx.json
    format:
      description: The SBOM format.
      type: str
      sample: spdx-json
    sha256:
      description: The SHA-256 of the file.
      type: str
    packages:
      description: How many packages the SBOM lists (the image itself not counted).
      type: int
      sample: 1240
    generator:
      description: The tool that wrote it.
      type: str
      sample: syft-1.51.0
"""

import contextlib  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import supply_chain  # noqa: E402


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _sbom(executable, run, p):
    commands = supply_chain.sbom_commands(
        p["builder"],
        p["reference"],
        p["output"],
        digest=p["digest"],
        sbom_format=p["format"],
        executable=executable,
        builder_executable=p["builder_executable"],
        global_flags=p["builder_global_flags"],
    )
    return {"sbom": supply_chain.make_sbom(run, _read, _remove, commands, p["format"])}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            builder=dict(type="str", required=True, choices=list(supply_chain.BUILDERS)),
            reference=dict(type="str", required=True),
            digest=dict(type="str", default=""),
            output=dict(type="path", required=True),
            format=dict(type="str", default="spdx-json", choices=list(supply_chain.SBOM_FORMATS)),
            executable=dict(type="str", default="syft"),
            builder_executable=dict(type="str", default=""),
            builder_global_flags=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    supply_chain.module_main(
        module,
        "syft",
        "discourse_image_sbom_executable",
        _sbom,
        check_mode_msg="check mode: no SBOM written",
    )


if __name__ == "__main__":
    main()
