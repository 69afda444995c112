# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge S3 buckets inside the controller's worker process (no module fork).

With the forumops.discourse.preload callback enabled, the controller has imported boto3 (through
s3_buckets_io) before it forks the worker; the module would import it anew on every run.
"""

from __future__ import annotations

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.forumops.discourse.plugins.module_utils import backup_io, s3_buckets_io
from ansible_collections.forumops.discourse.plugins.plugin_utils.controller_action import ControllerAction


def preload():
    """Called by the forumops.discourse.preload callback in the controller, before the workers fork."""
    s3_buckets_io.load_s3_model()


class ActionModule(ControllerAction):
    MODULE = "s3_buckets"

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        if not self._is_local():
            result.update(self._module(self._task.args, task_vars))
            return result
        validated = ArgumentSpecValidator(s3_buckets_io.ARGUMENT_SPEC).validate(self._task.args)
        if validated.error_messages:
            return dict(result, failed=True, msg="s3_buckets: " + "; ".join(validated.error_messages))
        if backup_io.boto3 is None:
            return dict(result, failed=True, msg=missing_required_lib("boto3"))
        params = validated.validated_parameters
        result.update(
            s3_buckets_io.run(
                params, bool(self._task.check_mode), bool(self._task.diff), progress=self.progress
            )
        )
        return result
