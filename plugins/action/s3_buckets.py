# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge S3 buckets inside the controller's worker process (no module fork).

Importing s3_buckets_io imports boto3 here, in the controller process that loads this plugin, so
each forked worker starts with it; the module would import it anew on every run.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.forumops.discourse.plugins.module_utils import backup_io, s3_buckets_io

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        if getattr(self._connection, "transport", "") not in ("local", "ansible.builtin.local"):
            result.update(
                self._execute_module(
                    module_name="forumops.discourse.s3_buckets",
                    module_args=self._task.args,
                    task_vars=task_vars,
                )
            )
            return result
        validated = ArgumentSpecValidator(s3_buckets_io.ARGUMENT_SPEC).validate(self._task.args)
        if validated.error_messages:
            return dict(result, failed=True, msg="s3_buckets: " + "; ".join(validated.error_messages))
        if backup_io.boto3 is None:
            return dict(result, failed=True, msg=missing_required_lib("boto3"))
        params = validated.validated_parameters
        host = task_vars.get("inventory_hostname", "")
        result.update(
            s3_buckets_io.run(
                params,
                bool(self._task.check_mode),
                bool(self._task.diff),
                progress=lambda message: display.display(f"  [{host}] {message}"),
            )
        )
        return result
