# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Supply chain of the images: provenance labels, SBOMs (syft), signatures and their verification
(cosign). Pure Python, standard library only; the modules image_sbom, image_sign and image_verify
are thin wrappers that pass a ``run(argv, env) -> (rc, stdout, stderr)`` callable.

Upstream behaviour relied on (read from the sources):
- cosign v2.6.4 (sigstore/cosign 26261f05411d5552949ee1d97df1f8e55ec0e13d): ``cosign verify`` exits 10
  when the image has no signature, 11 when the tag does not exist, 12 when signatures exist but none
  verifies (cmd/cosign/errors/exit_codes.go, exit_code_lookup.go; pkg/cosign/verify.go
  ``verifySignatures``) and prints the verified signatures as a JSON list on stdout
  (cmd/cosign/cli/verify/verify.go ``PrintVerification``); it reads a key's password from
  COSIGN_PASSWORD and prompts on a terminal otherwise.
- syft v1.51.0 (anchore/syft 2293641e3bd628a01bb37639318d62c0ebe89b39): ``syft scan <scheme>:<input>``
  with the schemes ``oci-archive:``, ``registry:``, ``docker:``, ``-o <format>=<file>`` writes the SBOM
  to a file, ``--source-name``/``--source-version`` name the scanned image
  (cmd/syft/internal/commands/scan.go, cmd/syft/internal/options/catalog.go).
"""

import hashlib
import json
import os
import posixpath
import re
import shutil

LABEL_PREFIX = "org.forumops.discourse"
SOURCE_LABEL = "org.opencontainers.image.source"
DISCOURSE_DOCKER_LABEL = LABEL_PREFIX + ".discourse-docker.commit"
PLUGIN_LABEL = LABEL_PREFIX + ".plugin.{name}.commit"

# format: (file name next to the build manifest, cosign attest --type)
SBOM_FORMATS = {
    "spdx-json": ("sbom.spdx.json", "spdxjson"),
    "cyclonedx-json": ("sbom.cyclonedx.json", "cyclonedx"),
}
SIGN_MODES = ("none", "key", "keyless")
BUILDERS = ("docker", "podman", "buildah")
GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"

DIGEST_RE = re.compile(r"\Asha256:[0-9a-f]{64}\Z")
_URL_RE = re.compile(r"\A(https?|ssh|git)://(?:[^/@]*@)?([^/]+)(/.*)?\Z", re.I)
# cosign's "Error: ..." and syft's "[0000] ERROR ..." lines.
_ERROR_LINE_RE = re.compile(r"\A(?:error:|\[\d+\]\s+error\b)", re.I)
_SCP_RE = re.compile(r"\Agit@([^:/]+):(.+)\Z")

# cosign verify's exit codes (see the module docstring).
EXIT_NO_SIGNATURE = 10
EXIT_NO_TAG = 11
EXIT_NO_MATCHING_SIGNATURE = 12


class SupplyChainError(Exception):
    """A failure to report as it is; the message names the image and what to do."""


# ---- References ---------------------------------------------------------------------------------


def split_reference(reference):
    """``(repository, tag, digest)`` of ``repo[:tag][@sha256:...]``; a registry port is not a tag."""
    reference = str(reference or "").strip()
    name, digest = reference.partition("@")[::2]
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


def pinned(reference, digest=""):
    """``repository@digest``: what cosign signs and verifies (a tag can move, a digest cannot)."""
    repository, own = split_reference(reference)[::2]
    digest = digest or own
    if not repository:
        raise SupplyChainError("no image reference given")
    if not DIGEST_RE.match(digest or ""):
        raise SupplyChainError(
            f"{reference}: no sha256 digest to sign (got {digest!r}); signing needs the digest the registry "
            "gave the pushed image (discourse_image_push: true)"
        )
    return f"{repository}@{digest}"


def find_executable(name):
    """The path of an executable given by name (looked up on PATH) or by path; None when absent."""
    name = str(name or "")
    if "/" in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name)


def module_main(module, what, variable, act, changed=True, check_mode_msg=None, **facts):
    """An image module's main() once ``module`` (an AnsibleModule with the option ``executable``) is
    made: with ``check_mode_msg``, check mode ends the module there, skipped, with that message; a
    missing tool fails the module naming ``what`` it is and the ``variable`` that chose it; else the
    module exits with ``changed`` and the dict that ``act(path, run, params)`` returns, where
    run(argv, env) goes through module.run_command. A SupplyChainError fails the module; ``facts``
    are added to each failure."""
    if check_mode_msg and module.check_mode:
        module.exit_json(changed=False, skipped=True, msg=check_mode_msg)
    executable = module.params["executable"]
    path = find_executable(executable)
    if not path:
        module.fail_json(msg=f"{executable}: {what} is not installed on this host ({variable})", **facts)
    try:
        result = act(path, lambda argv, env: module.run_command(argv, environ_update=env), module.params)
    except SupplyChainError as exc:
        module.fail_json(msg=str(exc), **facts)
    module.exit_json(changed=changed, **result)


# ---- Labels -------------------------------------------------------------------------------------


def source_url(repo):
    """The web address of a git repository for ``org.opencontainers.image.source``: credentials and a
    trailing ``.git`` dropped, ``git@host:path`` as ``https://host/path``; "" for a local path."""
    repo = str(repo or "").strip()
    match = _SCP_RE.match(repo)
    if match:
        url = f"https://{match.group(1)}/{match.group(2)}"
    else:
        match = _URL_RE.match(repo)
        if not match:
            return ""
        scheme = match.group(1).lower()
        scheme = scheme if scheme in ("http", "https") else "https"
        url = f"{scheme}://{match.group(2).rsplit('@', 1)[-1]}{match.group(3) or ''}"
    url = url.rstrip("/")
    return url[: -len(".git")] if url.endswith(".git") else url


def provenance_labels(manifest, source=""):
    """Labels that link the image to the lock's commits, beside image.manifest_labels (which already
    carries the OCI version = Discourse version, revision = Discourse commit and base.name/base.digest):
    the Discourse repository as ``org.opencontainers.image.source`` (omitted for a local path), the
    discourse_docker commit, and one ``org.forumops.discourse.plugin.<name>.commit`` per plugin."""
    labels = {DISCOURSE_DOCKER_LABEL: str(manifest["discourse_docker"]["commit"])}
    url = source_url(source)
    if url:
        labels[SOURCE_LABEL] = url
    for plugin in manifest.get("plugins") or []:
        labels[PLUGIN_LABEL.format(name=str(plugin["name"]).lower())] = str(
            plugin.get("commit") or plugin.get("ref") or ""
        )
    return labels


# ---- SBOM ---------------------------------------------------------------------------------------


def sbom_file(output, sbom_format):
    if sbom_format not in SBOM_FORMATS:
        raise SupplyChainError(
            f"discourse_image_sbom_format: {sbom_format!r} is not one of {', '.join(SBOM_FORMATS)}"
        )
    return posixpath.join(output, SBOM_FORMATS[sbom_format][0])


def sbom_commands(
    builder,
    reference,
    output,
    digest="",
    sbom_format="spdx-json",
    executable="syft",
    builder_executable="",
    global_flags=(),
):
    """The command lines that write the SBOM of a built image next to its build manifest.

    buildah and podman keep the image in their own storage, which syft cannot read: the image is
    first written to an OCI archive in ``output`` (removed afterwards) and syft scans that. A docker
    buildx image is scanned from the registry when it was pushed (by digest; syft reads docker's
    credentials), else from the Docker daemon it was loaded into.

    Returns ``{export: argv or None, scan: argv, file: sbom path, archive: path or None}``.
    """
    if builder not in BUILDERS:
        raise SupplyChainError(f"discourse_image_builder: {builder!r} is not one of {', '.join(BUILDERS)}")
    path = sbom_file(output, sbom_format)
    repository, tag = split_reference(reference)[:2]
    export, archive = None, None
    if builder == "docker":
        source = f"registry:{pinned(reference, digest)}" if digest else f"docker:{reference}"
    else:
        archive = posixpath.join(output, "image.oci.tar")
        export = [builder_executable or builder, *global_flags, "push", reference, f"oci-archive:{archive}"]
        source = f"oci-archive:{archive}"
    scan = [executable, "scan", source, "--output", f"{sbom_format}={path}", "--source-name", repository]
    if tag:
        scan += ["--source-version", tag]
    return {"export": export, "scan": scan, "file": path, "archive": archive}


def sbom_summary(document, sbom_format):
    """``{packages, names, generator}`` of an SBOM document: the packages it lists (not the image
    itself, which SPDX describes as a package too) and the tool that wrote it."""
    if sbom_format == "spdx-json":
        packages = [
            p
            for p in document.get("packages") or []
            if not str(p.get("SPDXID", "")).startswith("SPDXRef-DocumentRoot")
        ]
        creators = (document.get("creationInfo") or {}).get("creators") or []
        tools = [c.split(":", 1)[1].strip() for c in creators if str(c).startswith("Tool:")]
    elif sbom_format == "cyclonedx-json":
        packages = list(document.get("components") or [])
        tools_section = (document.get("metadata") or {}).get("tools") or {}
        listed = tools_section.get("components", []) if isinstance(tools_section, dict) else tools_section
        tools = [f"{t.get('name', '')}-{t.get('version', '')}" for t in listed]
    else:
        raise SupplyChainError(f"unknown SBOM format {sbom_format!r}")
    return {
        "packages": len(packages),
        "names": sorted({str(p.get("name", "")) for p in packages}),
        "generator": ", ".join(tools),
    }


def error_text(stderr, limit=1500):
    """What a failed cosign or syft run says went wrong: its ``Error:`` lines when it prints some (cosign
    warns first, for example that it could not reach the TUF repository), else the end of stderr."""
    lines = [line.strip() for line in str(stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE_RE.match(line)]
    return " ".join(" ".join(errors or lines).split())[-limit:]


def _failure(what, argv, rc, stderr):
    return SupplyChainError(f"{what}: {argv[0]} exited with {rc}: {error_text(stderr)}")


def make_sbom(run, read_file, remove, commands, sbom_format):
    """Run ``commands`` (sbom_commands); returns the SBOM's record for the build manifest.

    ``read_file(path) -> bytes`` and ``remove(path)`` are the caller's (the module's file access).
    """
    try:
        if commands["export"]:
            rc, err = run(commands["export"], {})[::2]
            if rc != 0:
                raise _failure("writing the image to an OCI archive for syft", commands["export"], rc, err)
        rc, err = run(commands["scan"], {"SYFT_CHECK_FOR_APP_UPDATE": "false"})[::2]
        if rc != 0:
            raise _failure("scanning the image with syft", commands["scan"], rc, err)
    finally:
        if commands["archive"]:
            remove(commands["archive"])
    data = read_file(commands["file"])
    try:
        summary = sbom_summary(json.loads(data), sbom_format)
    except ValueError as exc:
        raise SupplyChainError(f"{commands['file']}: syft wrote no JSON SBOM ({exc})") from None
    return {
        "file": posixpath.basename(commands["file"]),
        "path": commands["file"],
        "format": sbom_format,
        "sha256": hashlib.sha256(data).hexdigest(),
        "packages": summary["packages"],
        "generator": summary["generator"],
    }


# ---- Inputs of the build -------------------------------------------------------------------------


def build_problems(inputs, which=find_executable):
    """Messages naming the discourse_image_* input at fault; ``inputs`` holds build, push, sbom,
    sbom_format, sbom_executable, sign, sign_key, sign_sbom, sign_executable, builder, platforms.
    The executables are looked up (``which``) only when this build uses them."""
    problems = []
    build, push, sbom = bool(inputs["build"]), bool(inputs["push"]), bool(inputs["sbom"])
    sign, key, sign_sbom = inputs["sign"], str(inputs.get("sign_key") or ""), bool(inputs["sign_sbom"])
    if sign not in SIGN_MODES:
        problems.append(f"discourse_image_sign: {sign!r} is not one of {', '.join(SIGN_MODES)}")
    if sbom and inputs.get("sbom_format", "spdx-json") not in SBOM_FORMATS:
        problems.append(
            f"discourse_image_sbom_format: {inputs['sbom_format']!r} is not one of {', '.join(SBOM_FORMATS)}"
        )
    if sign in ("key", "keyless") and not push:
        problems.append(
            f"discourse_image_sign: {sign} needs discourse_image_push: true (cosign signs the digest the "
            "registry gives the pushed image, and stores the signature there)"
        )
    if sign == "key" and not key:
        problems.append(
            "discourse_image_sign_key must name the cosign private key (a file on the build host, a KMS URI "
            "or k8s://namespace/secret) when discourse_image_sign is key"
        )
    elif sign == "key" and "://" not in key and not os.path.isfile(key):
        problems.append(f"discourse_image_sign_key: {key} is not a file on the build host")
    if sign_sbom and not (sbom and sign in ("key", "keyless")):
        problems.append(
            "discourse_image_sign_sbom attests the SBOM: it needs discourse_image_sbom: true and "
            "discourse_image_sign key or keyless"
        )
    if sbom and inputs.get("builder") in ("buildah", "podman") and len(inputs.get("platforms") or ()) > 1:
        # syft scans the OCI archive of one image; a manifest list has one image per platform.
        problems.append(
            "discourse_image_sbom with more than one of discourse_image_platforms needs the docker builder "
            "(syft then scans the pushed index); with buildah or podman build one platform per run"
        )
    if build and sbom and not which(inputs["sbom_executable"]):
        problems.append(
            f"discourse_image_sbom_executable: {inputs['sbom_executable']} is not installed on the build "
            "host (syft, https://github.com/anchore/syft; or set discourse_image_sbom: false)"
        )
    if build and sign in ("key", "keyless") and not which(inputs["sign_executable"]):
        problems.append(
            f"discourse_image_sign_executable: {inputs['sign_executable']} is not installed on the build "
            "host (cosign v2, https://github.com/sigstore/cosign)"
        )
    return problems


# ---- Signing ------------------------------------------------------------------------------------


def sign_commands(reference, digest, mode, key="", flags=(), executable="cosign", sbom=None):
    """``cosign sign`` (and, with ``sbom`` = ``{path, format}``, ``cosign attest`` of the SBOM as a
    signed in-toto predicate) of ``repository@digest``, as argv lists.

    ``key`` mode signs with a key file, KMS URI or ``k8s://`` Secret (its password in COSIGN_PASSWORD);
    ``keyless`` with the ambient OIDC identity (GitHub Actions' ID token) through Fulcio, recorded in
    Rekor. ``flags`` go to both commands (for example ``--tlog-upload=false`` for a private setup).
    """
    if mode not in ("key", "keyless"):
        raise SupplyChainError(f"discourse_image_sign: {mode!r} is not one of key, keyless")
    if mode == "key" and not key:
        raise SupplyChainError("discourse_image_sign_key: signing with a key needs the key (a file, KMS URI)")
    target = pinned(reference, digest)
    key_args = ["--key", str(key)] if mode == "key" else []
    commands = [[executable, "sign", "--yes", *key_args, *flags, target]]
    if sbom:
        if sbom["format"] not in SBOM_FORMATS:
            raise SupplyChainError(f"unknown SBOM format {sbom['format']!r}")
        attest_type = SBOM_FORMATS[sbom["format"]][1]
        predicate = ["--type", attest_type, "--predicate", sbom["path"]]
        commands.append([executable, "attest", "--yes", *key_args, *predicate, *flags, target])
    return {"reference": target, "commands": commands}


def sign(run, commands, password=None):
    """Run sign_commands' commands; COSIGN_PASSWORD is always set for a key so cosign never prompts."""
    env = {"COSIGN_PASSWORD": password or ""}
    for argv in commands["commands"]:
        rc, err = run(argv, env)[::2]
        if rc != 0:
            what = "signing" if argv[1] == "sign" else "attesting the SBOM of"
            raise _failure(f"{what} {commands['reference']}", argv, rc, err)
    return {"reference": commands["reference"], "attested_sbom": len(commands["commands"]) > 1}


# ---- Verification -------------------------------------------------------------------------------


def verify_problems(key, identity, identity_regexp, issuer, prefix="discourse_app_image_verify_"):
    """What is wrong with the trust inputs of ``cosign verify``: it needs a key, or a keyless identity
    (exact or a regular expression) and its OIDC issuer. ``prefix`` names the inputs in messages."""
    if key and (identity or identity_regexp):
        return [
            f"{prefix}key and {prefix}identity/{prefix}identity_regexp are both set: verify with a key or "
            "with a keyless identity, not both"
        ]
    if key:
        return []
    if not (identity or identity_regexp):
        return [
            f"neither {prefix}key (a cosign public key) nor {prefix}identity or {prefix}identity_regexp "
            "(the keyless signer, for example the build workflow "
            "https://github.com/OWNER/REPO/.github/workflows/discourse-image.yml@refs/heads/main) is set"
        ]
    if not issuer:
        return [f"{prefix}oidc_issuer must name the OIDC issuer of the keyless identity"]
    return []


def verify_command(image, key="", identity="", identity_regexp="", issuer="", flags=(), executable="cosign"):
    problems = verify_problems(key, identity, identity_regexp, issuer, prefix="")
    if problems:
        raise SupplyChainError(problems[0])
    if not str(image or "").strip():
        raise SupplyChainError("no image to verify")
    argv = [executable, "verify", "--output", "json"]
    if key:
        argv += ["--key", str(key)]
    else:
        if identity:
            argv += ["--certificate-identity", str(identity)]
        if identity_regexp:
            argv += ["--certificate-identity-regexp", str(identity_regexp)]
        argv += ["--certificate-oidc-issuer", str(issuer)]
    return [*argv, *flags, str(image)]


def _trusted(key, identity, identity_regexp, issuer):
    if key:
        return f"the public key {key}"
    who = identity or f"an identity matching {identity_regexp}"
    return f"the keyless signer {who} (issuer {issuer})"


def verification(image, rc, stdout, stderr, key="", identity="", identity_regexp="", issuer=""):
    """Judge ``cosign verify``'s result: ``{image, digest, signatures}`` or SupplyChainError naming the
    image, what is wrong and whom the inventory trusts."""
    trusted = _trusted(key, identity, identity_regexp, issuer)
    tail = error_text(stderr, limit=1200)
    if rc == EXIT_NO_SIGNATURE:
        raise SupplyChainError(
            f"{image} is not signed: cosign found no signature for it (cosign: {tail}). Sign it when it is "
            "built (discourse_image_sign), or set discourse_app_image_verify: false to deploy unsigned "
            "images."
        )
    if rc == EXIT_NO_MATCHING_SIGNATURE:
        raise SupplyChainError(
            f"{image} is signed, but no signature verifies against {trusted}: it was signed by someone "
            f"else or has been tampered with. Not deploying it (cosign: {tail})."
        )
    if rc == EXIT_NO_TAG:
        raise SupplyChainError(f"{image} does not exist in its registry (cosign: {tail}).")
    if rc != 0:
        raise SupplyChainError(f"cosign could not verify {image} (exit {rc}): {tail}")
    try:
        signatures = json.loads(stdout or "[]")
    except ValueError:
        signatures = []
    digests = sorted(
        {
            str(((s.get("critical") or {}).get("image") or {}).get("docker-manifest-digest", ""))
            for s in signatures
            if isinstance(s, dict)
        }
        - {""}
    )
    own = split_reference(image)[2]
    if own and digests and digests != [own]:
        raise SupplyChainError(
            f"{image}: cosign verified signatures of another digest ({', '.join(digests)})"
        )
    return {
        "image": str(image),
        "digest": own or (digests[0] if digests else ""),
        "signatures": len(signatures),
        "trusted": trusted,
    }


def verify(run, image, key="", identity="", identity_regexp="", issuer="", flags=(), executable="cosign"):
    """Run ``cosign verify`` on ``image`` and judge it (verification)."""
    argv = verify_command(image, key, identity, identity_regexp, issuer, flags, executable)
    rc, out, err = run(argv, {})
    return verification(image, rc, out, err, key, identity, identity_regexp, issuer)
