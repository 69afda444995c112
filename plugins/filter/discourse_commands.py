# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter plugin: discourse_commands (documentation in discourse_commands.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.forumops.discourse.plugins.module_utils.backup import BackupError, discourse_commands


def _discourse_commands(backup_name, filename="", sql_only=True, s3_uploads=False, disable_emails=False):
    try:
        return discourse_commands(filename or None, sql_only, s3_uploads, backup_name, disable_emails)
    except BackupError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return {"discourse_commands": _discourse_commands}
