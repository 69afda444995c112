# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Discourse migrations an image would run against a database, in pure Python.

Standard library only, no Ansible imports, so that this file is unit-tested directly.

Upstream facts this follows:

* Rails records each applied migration as one row in ``schema_migrations(version)``.
* Discourse keeps pre-deploy migrations (safe while the old code still serves; destructive SQL is
  refused there) in ``db/migrate`` and post-deploy migrations (destructive, run after the rollout) in
  ``db/post_migrate``, with subfolders; every plugin has the same two folders.
* A migration file is ``<version>_<snake_case_name>.rb``; Rails reads the name with
  ``/\\A([0-9]+)_([_a-z0-9]*)\\.?([_a-z0-9]*)?\\.rb\\z/`` and Discourse's versions are 14-digit UTC
  timestamps. Rails refuses two files with the same version.
* ``rake db:migrate`` applies every pending migration (pre- and post-deploy) in version order, one
  transaction per migration; ``SKIP_POST_DEPLOYMENT_MIGRATIONS=1`` leaves the post-deploy ones out.
"""

import json
import os
import re
from collections import namedtuple

VERSION_RE = re.compile(r"\A[0-9]{14}\Z")
# Rails' MigrationFilenameRegexp with the version narrowed to Discourse's 14-digit timestamps.
FILENAME_RE = re.compile(r"\A([0-9]{14})_[_a-z0-9]*\.?[_a-z0-9]*\.rb\Z")

MALFORMED = "ignored, not a migration file name (<14-digit version>_<snake_case_name>.rb)"

ImageMigrations = namedtuple("ImageMigrations", ["pre", "post", "warnings"])
ImageMigrations.__doc__ = """An image's migrations: sorted pre- and post-deploy versions, scan warnings."""


class MigrationError(Exception):
    """Bad input: a manifest, a source tree or a version list that cannot be used."""


def version_key(version):
    """Sort key: numeric order for digit strings (14-digit strings sort the same either way)."""
    return (len(version), version)


def _sorted(versions):
    return sorted(versions, key=version_key)


# ---- The image's migrations from a source tree -------------------------------------------------------


def _scan_folder(root, relative, recursive, found, warnings):
    """Add (version, relative path) of each migration file under root/relative to found.

    relative uses "/" separators; paths are built by concatenation (os.path.relpath per file would
    cost more than the whole scan).
    """
    top = os.path.join(root, *relative.split("/"))
    if recursive:
        folders = []
        for directory, subdirs, files in os.walk(top):
            subdirs.sort()
            sub = directory[len(top) :].replace(os.sep, "/")
            folders.append((relative + sub, sorted(files)))
    else:
        try:
            with os.scandir(top) as entries:
                folders = [(relative, sorted(entry.name for entry in entries if entry.is_file()))]
        except FileNotFoundError:
            return
    for rel_dir, names in folders:
        for name in names:
            if not name.endswith(".rb"):
                continue
            match = FILENAME_RE.match(name)
            if match is None:
                warnings.append(f"{rel_dir}/{name}: {MALFORMED}")
                continue
            found.append((match.group(1), f"{rel_dir}/{name}"))


def scan_source(source_dir):
    """The migrations of a Discourse source tree (core and plugins) as an ImageMigrations.

    Pre-deploy: ``db/migrate/*.rb`` and ``plugins/*/db/migrate/*.rb``; post-deploy:
    ``db/post_migrate/**/*.rb`` and ``plugins/*/db/post_migrate/**/*.rb``. The version is the leading
    14-digit timestamp of the file name. Other ``.rb`` names there are ignored with a warning; a
    version found twice is counted once (pre-deploy wins) with a warning, as Rails would refuse it.
    """
    if not os.path.isdir(source_dir):
        raise MigrationError(f"source_dir {source_dir}: not a directory")
    if not os.path.isdir(os.path.join(source_dir, "db", "migrate")):
        raise MigrationError(f"source_dir {source_dir}: not a Discourse source tree (no db/migrate folder)")
    warnings = []
    pre, post = [], []
    _scan_folder(source_dir, "db/migrate", False, pre, warnings)
    _scan_folder(source_dir, "db/post_migrate", True, post, warnings)
    plugins_dir = os.path.join(source_dir, "plugins")
    if os.path.isdir(plugins_dir):
        with os.scandir(plugins_dir) as entries:
            plugins = sorted(entry.name for entry in entries if entry.is_dir())
        for plugin in plugins:
            _scan_folder(source_dir, f"plugins/{plugin}/db/migrate", False, pre, warnings)
            _scan_folder(source_dir, f"plugins/{plugin}/db/post_migrate", True, post, warnings)

    seen = {}
    kept_pre, kept_post = [], []
    for kind, found in (("pre", pre), ("post", post)):
        for version, rel in found:
            if version in seen:
                warnings.append(
                    f"{rel}: version {version} is also used by {seen[version]}; counted once "
                    "(Rails refuses duplicate versions)"
                )
                continue
            seen[version] = rel
            (kept_pre if kind == "pre" else kept_post).append(version)
    return ImageMigrations(_sorted(kept_pre), _sorted(kept_post), warnings)


# ---- The image's migrations from its build manifest -------------------------------------------------


def _manifest_versions(data, key, origin):
    migrations = data["migrations"]
    if key not in migrations:
        raise MigrationError(f"{origin}: migrations.{key} is missing (a list of 14-digit versions)")
    values = migrations[key]
    if not isinstance(values, list):
        raise MigrationError(f"{origin}: migrations.{key} must be a list of 14-digit versions")
    versions = []
    for index, value in enumerate(values):
        # A YAML dict written without quotes gives integers; a 14-digit integer is unambiguous.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not VERSION_RE.match(value):
            raise MigrationError(f"{origin}: migrations.{key}[{index}] is {value!r}, not a 14-digit version")
        versions.append(value)
    return versions


def load_manifest(manifest):
    """The migrations of an image from its build manifest: a JSON file's path, or the manifest as a dict.

    The manifest holds ``migrations: {pre: [...], post: [...]}`` with 14-digit version strings (other
    keys are the build's business). Raises MigrationError naming the file and the bad entry.
    """
    if isinstance(manifest, dict):
        origin, data = "manifest", manifest
    elif isinstance(manifest, str):
        origin = manifest
        try:
            with open(manifest, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError as exc:
            raise MigrationError(f"{origin}: build manifest not found") from exc
        except OSError as exc:
            raise MigrationError(f"{origin}: cannot read the build manifest: {exc.strerror}") from exc
        except ValueError as exc:
            raise MigrationError(f"{origin}: not valid JSON: {exc}") from exc
    else:
        raise MigrationError("manifest must be the path of a build manifest or the manifest as a dictionary")
    if not isinstance(data, dict):
        raise MigrationError(f"{origin}: a build manifest must be an object")
    if not isinstance(data.get("migrations"), dict):
        raise MigrationError(f"{origin}: migrations must be an object with the lists pre and post")
    pre = _manifest_versions(data, "pre", origin)
    post = _manifest_versions(data, "post", origin)
    seen = set()
    for key, versions in (("pre", pre), ("post", post)):
        for version in versions:
            if version in seen:
                raise MigrationError(f"{origin}: version {version} is listed twice (migrations.{key})")
            seen.add(version)
    return ImageMigrations(_sorted(pre), _sorted(post), [])


# ---- Applied versions -------------------------------------------------------------------------------


def validate_applied(versions):
    """Applied versions given as a list: each a string of digits (Rails versions are integers)."""
    checked = []
    for index, value in enumerate(versions):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.isdigit() or not value.isascii():
            raise MigrationError(f"applied_versions[{index}] is {value!r}, not a migration version")
        checked.append(value)
    return checked


# ---- The comparison -----------------------------------------------------------------------------------


def compare(applied, image):
    """Compare the applied versions with an image's migrations.

    Returns a dict:

    * ``pending_pre`` / ``pending_post``: the image's pre-/post-deploy versions not applied, sorted.
    * ``unknown``: applied versions the image does not ship (the database is ahead: a downgrade or a
      removed plugin), sorted.
    * ``db_version``: the highest applied version, None when nothing is applied.
    * ``target_version``: the highest version the image ships, None when it ships none.
    * ``downgrade``: ``unknown`` is not empty.
    * ``rollback_safe``: whether the code can go back to the previous image, which is safe while no
      post-deploy migration of this upgrade has run (pre-deploy migrations are written to be safe for
      the old code). From one image and the applied set this is decided as follows. False when the
      database is ahead of the image (``downgrade``). False when nothing is pending while the database
      holds at least one of the image's post-deploy migrations: the full ``rake db:migrate`` (the
      post-deploy step, which applies every pending migration) may have run and there is no telling
      which of those post-deploy migrations the previous image lacked. True otherwise: something is
      still pending, so the post-deploy step has not completed, or the image has no post-deploy
      migration in the database at all. Limitation: a post-deploy step that failed part-way applied
      the oldest of its pending migrations and looks exactly like one that has not started; the
      upgrade runbook records when it starts the post-deploy Job.
    * ``summary``: one line for humans.
    """
    applied_set = set(applied)
    pre, post = set(image.pre), set(image.post)
    known = pre | post
    pending_pre = _sorted(pre - applied_set)
    pending_post = _sorted(post - applied_set)
    unknown = _sorted(applied_set - known)
    downgrade = bool(unknown)
    pending = bool(pending_pre or pending_post)
    rollback_safe = not downgrade and (pending or not (post & applied_set))
    result = {
        "pending_pre": pending_pre,
        "pending_post": pending_post,
        "unknown": unknown,
        "db_version": max(applied_set, key=version_key) if applied_set else None,
        "target_version": max(known, key=version_key) if known else None,
        "downgrade": downgrade,
        "rollback_safe": rollback_safe,
    }
    result["summary"] = summary(result)
    return result


def _count(number, singular, plural):
    return f"{number} {singular if number == 1 else plural}"


def summary(result):
    """One line: the state, what is pending or unknown, both versions and whether rollback is safe."""
    pending = (
        f"{len(result['pending_pre'])} pre-deploy and "
        f"{_count(len(result['pending_post']), 'post-deploy migration', 'post-deploy migrations')} pending"
    )
    if result["downgrade"]:
        head = "downgrade: " + _count(
            len(result["unknown"]), "applied migration unknown", "applied migrations unknown"
        )
        head += " to the image"
        if result["pending_pre"] or result["pending_post"]:
            head += ", " + pending
    elif result["pending_pre"] or result["pending_post"]:
        head = "upgrade: " + pending
    else:
        head = "up to date"
    return (
        f"{head}; database at {result['db_version'] or 'no migration'}, "
        f"image at {result['target_version'] or 'no migration'}; "
        f"rollback to the previous image {'safe' if result['rollback_safe'] else 'not safe'}"
    )


# ---- A converge must not roll the code back behind migrations that ran ---------------------------


def code_rollback_refusal(site, history_name, history, image, manifest):
    """Why deploying ``image`` would run old code on a newer schema, or "" when it is safe.

    ``history`` is the data of the site's deploy-history ConfigMap ({} when there is none):
    playbooks/upgrade.yml writes ``current-image`` and ``applied-versions`` (JSON) once an image's
    post-deploy migrations have completed, and rollback.yml writes the image it rolled back to.
    ``manifest`` is the build manifest of ``image`` ({} when the inventory names the image alone).
    Deploying the recorded image, or one whose manifest knows every applied migration, is safe.
    """
    current = (history or {}).get("current-image") or ""
    if not current or current == image:
        return ""
    try:
        applied = json.loads(history.get("applied-versions") or "null")
    except ValueError:
        applied = None
    known = set((manifest or {}).get("migrations", {}).get("pre", []))
    known |= set((manifest or {}).get("migrations", {}).get("post", []))
    if not known:
        reason = (
            f"{image} has no build manifest listing its migrations (discourse_app_build_manifest), "
            "so nothing shows it is not older"
        )
    elif applied is None:
        reason = f"ConfigMap {history_name} records no applied migrations to compare {image}'s with"
    else:
        unknown = _sorted(set(applied) - known)
        if not unknown:
            return ""
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        reason = f"{image} does not know the applied migrations {shown}"
    return (
        f"{site}: REFUSED before any change: the inventory deploys {image}, but the site runs {current}, "
        f"recorded in ConfigMap {history_name} once its post-deploy migrations had run; {reason}. "
        "Deploying it would run older code on the newer schema. Make the inventory follow the upgrade: "
        f"set discourse_app_image: {current} (and point discourse_app_build_manifest, if set, at that "
        "image's manifest), or move to a newer image with playbooks/upgrade.yml. The way back to an "
        "older image is a restore of the pre-upgrade backup (docs/backup-restore.md)."
    )
