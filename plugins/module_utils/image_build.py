# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The builders' command lines (as argv lists) and what their pushes report back: one image per
platform gathered in a manifest list, the pushed digests, and each platform's digest in the index.
The discourse_image role's other decisions are in image.py."""

import json
import posixpath

from ansible_collections.forumops.discourse.plugins.module_utils import image


def _platform_file(output, name, platform):
    return posixpath.join(output, f"{name}-{image.normalize_platform(platform).replace('/', '-')}")


def build_commands(
    builder,
    context,
    output,
    references,
    labels=None,
    build_flags=(),
    global_flags=(),
    push=False,
    executable=None,
    secrets=None,
    platforms=(),
):
    """The builder's command lines as argv lists.

    ``secrets`` maps build secret ids to files on the build host (``--secret id=ID,src=FILE``, the
    same flag for docker buildx, podman and buildah); they are mounted only in RUN steps that ask.

    ``platforms`` (``os/arch``, for example ``["linux/amd64", "linux/arm64"]``) builds one image per
    platform into a manifest list (an OCI image index) named by the first reference; empty builds
    one image for the build host's platform. docker buildx builds them all in one command (other
    platforms through QEMU emulation or the builder's other nodes); a multi-platform result cannot be
    loaded into the docker engine's classic image store, so without push it stays in the build cache.
    podman and buildah build each platform with ``--platform P --manifest LIST`` (buildah-build(1):
    the list is created when missing and each image is added to it), after removing a list of that
    name that an earlier build left (``list.exists`` answers 0 when there is one, 1 when not; then
    ``list.remove``), tag the list with the other references and push it with ``manifest push --all``
    (the list and every image in it).

    Returns ``{list, builds, tags, push, digest_files, digest_key}``: ``list`` is None or
    ``{name, exists, remove}``; ``builds``, ``tags`` and ``push`` are lists of argv run in that order;
    after the pushes each file of ``digest_files`` (one per push command) holds the digest the
    registry gave, as JSON under ``digest_key`` (docker's metadata file) or as plain text.
    """
    if builder not in image.BUILDERS:
        raise image.ImageError(
            f"discourse_image_builder: {builder!r} is not one of {', '.join(image.BUILDERS)}"
        )
    references, labels, secrets = list(references or []), dict(labels or {}), dict(secrets or {})
    build_flags, global_flags = tuple(build_flags or ()), tuple(global_flags or ())
    if not references:
        raise image.ImageError("discourse_image_repository: no image reference to tag")
    platforms = list(platforms or ())
    problems = image.platform_problems(platforms, build_flags)
    if problems:
        raise image.ImageError("; ".join(problems))
    exe = executable or builder
    dockerfile = posixpath.join(context, "Dockerfile")
    iidfile = posixpath.join(output, "image-id")
    label_args = []
    for key in sorted(labels):
        label_args += ["--label", f"{key}={labels[key]}"]
    tag_args = []
    for ref in references:
        tag_args += ["--tag", ref]
    secret_args = []
    for secret_id in sorted(secrets):
        secret_args += ["--secret", f"id={secret_id},src={secrets[secret_id]}"]
    if builder == "docker":
        metadata = posixpath.join(output, "build-metadata.json")
        platform_args = ["--platform", ",".join(platforms)] if platforms else []
        build = [exe, *global_flags, "buildx", "build", "--file", dockerfile, "--iidfile", iidfile]
        build += ["--metadata-file", metadata, *label_args, *tag_args, *secret_args, *platform_args]
        build += [*build_flags]
        if push:
            build.append("--push")
        elif len(platforms) < 2:
            build.append("--load")
        build.append(context)
        return {
            "list": None,
            "builds": [build],
            "tags": [],
            "push": [],
            "digest_files": [metadata] if push else [],
            "digest_key": "containerimage.digest" if push else None,
        }
    if not platforms:
        build = [exe, *global_flags, "build", "--file", dockerfile, "--iidfile", iidfile]
        build += [*label_args, *tag_args, *secret_args, *build_flags, context]
        pushes, digest_files = [], []
        if push:
            for index, ref in enumerate(references):
                digest_file = posixpath.join(output, "push-digest" + (f"-{index}" if index else ""))
                digest_files.append(digest_file)
                destination = [ref] if builder == "podman" else [ref, f"docker://{ref}"]
                pushes.append([exe, *global_flags, "push", "--digestfile", digest_file, *destination])
        return {
            "list": None,
            "builds": [build],
            "tags": [],
            "push": pushes,
            "digest_files": digest_files,
            "digest_key": None,
        }
    name = references[0]
    builds = []
    for platform in platforms:
        build = [
            exe,
            *global_flags,
            "build",
            "--platform",
            platform,
            "--manifest",
            name,
            "--file",
            dockerfile,
        ]
        build += ["--iidfile", _platform_file(output, "image-id", platform)]
        build += [*label_args, *secret_args, *build_flags, context]
        builds.append(build)
    pushes, digest_files = [], []
    if push:
        for index, ref in enumerate(references):
            digest_file = posixpath.join(output, "push-digest" + (f"-{index}" if index else ""))
            digest_files.append(digest_file)
            pushes.append(
                [exe, *global_flags, "manifest", "push", "--all", "--digestfile", digest_file, name,
                 f"docker://{ref}"]
            )  # fmt: skip
    return {
        "list": {
            "name": name,
            "exists": [exe, *global_flags, "manifest", "exists", name],
            "remove": [exe, *global_flags, "manifest", "rm", name],
        },
        "builds": builds,
        "tags": [[exe, *global_flags, "tag", name, ref] for ref in references[1:]],
        "push": pushes,
        "digest_files": digest_files,
        "digest_key": None,
    }


def repository_of(reference):
    """The repository of an image reference: without its tag and digest (a registry port stays)."""
    name = str(reference).split("@", 1)[0]
    slash = name.rfind("/")
    head, last = name[: slash + 1], name[slash + 1 :]
    return head + last.split(":", 1)[0]


def index_command(builder, reference, digest, executable=None, global_flags=()):
    """The argv that prints the image index the registry holds for ``reference`` at ``digest`` (JSON):
    ``docker buildx imagetools inspect --raw``, or ``podman/buildah manifest inspect``, which read
    the registry when no local list has that name (buildah's manifestInspect at v1.28.2)."""
    if builder not in image.BUILDERS:
        raise image.ImageError(
            f"discourse_image_builder: {builder!r} is not one of {', '.join(image.BUILDERS)}"
        )
    if not image.DIGEST_RE.match(str(digest)):
        raise image.ImageError(
            f"the pushed image {reference} has no digest to read its index by (got {digest!r})"
        )
    exe = executable or builder
    pinned = f"{repository_of(reference)}@{digest}"
    if builder == "docker":
        return [exe, *global_flags, "buildx", "imagetools", "inspect", "--raw", pinned]
    return [exe, *global_flags, "manifest", "inspect", pinned]


def pushed_digest(files, key=None):
    """The one digest that every push wrote, from ``[(path, text), ...]`` (the digest files of
    build_commands, read after the pushes). ``key`` names the digest in a JSON file (docker's
    metadata file).

    A file without a digest fails the build: buildah's ``manifest push --digestfile`` exits 0 when
    the push failed and writes an empty file (containers/buildah cmd/buildah/manifest.go,
    manifestPush at v1.28.2 and at 5b1b18eeb: the write of the digest file replaces the push error).
    """
    digests = []
    for path, text in files:
        value = str(text).strip()
        if key is not None:
            try:
                value = str(json.loads(value).get(key) or "")
            except (ValueError, AttributeError):
                value = ""
        if not image.DIGEST_RE.match(value):
            raise image.ImageError(
                f"the push recorded no digest in {path} (got {value!r}): the push failed or the builder "
                "did not report it; see the push task's output"
            )
        digests.append(value)
    if len(set(digests)) > 1:
        raise image.ImageError(f"the pushes recorded different digests: {', '.join(digests)}")
    return digests[0] if digests else ""


def platform_digests(index_text, platforms, digest=""):
    """``{platform: digest}`` of each built platform, read from the pushed image index (JSON).

    Entries whose platform is ``unknown/unknown`` are BuildKit's attestation manifests (moby/buildkit
    docs/attestations/attestation-storage.md) and are skipped. A single image manifest instead of an
    index stands for the one platform asked for, under ``digest``.
    """
    wanted = [image.normalize_platform(p) for p in platforms]
    try:
        index = json.loads(index_text)
    except ValueError as exc:
        raise image.ImageError(f"the pushed image index is not JSON: {exc}") from None
    if not isinstance(index, dict):
        raise image.ImageError("the pushed image index is not a JSON object")
    if "manifests" not in index:
        if len(wanted) == 1 and image.DIGEST_RE.match(str(digest)):
            return {platforms[0]: str(digest)}
        raise image.ImageError(
            f"the pushed image {digest} is a single image, not an index of {', '.join(platforms)}"
        )
    found = {}
    for entry in index.get("manifests") or []:
        spec = entry.get("platform") or {}
        key = image.normalize_platform(
            "/".join(str(spec.get(k) or "") for k in ("os", "architecture", "variant")).rstrip("/")
        )
        if key == "unknown/unknown" or key not in wanted:
            continue
        if key in found:
            raise image.ImageError(f"the pushed image index {digest} holds {key} twice")
        found[key] = str(entry.get("digest") or "")
    pairs = list(zip(platforms, wanted, strict=True))
    missing = [p for p, key in pairs if not image.DIGEST_RE.match(found.get(key, ""))]
    if missing:
        raise image.ImageError(f"the pushed image index {digest} has no image for {', '.join(missing)}")
    return {p: found[key] for p, key in pairs}
