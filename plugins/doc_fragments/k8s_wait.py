# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The wait options k8s_apply and k8s_get share (their spec: kube.APPLY_SPEC).

O(wait) stays in each module: what is waited for differs.
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  wait_condition:
    description: Wait for this status condition instead of the kind's readiness.
    type: dict
    suboptions:
      type:
        description: The condition type, such as C(Ready).
        type: str
        required: true
      status:
        description: The status the condition must have.
        type: str
        choices: ["True", "False", "Unknown"]
        default: "True"
      reason:
        description: The reason the condition must have, when set.
        type: str
  wait_timeout:
    description:
      - Seconds to wait for all objects together.
      - While it waits, the action prints what it waits for and the time elapsed, after the first
        poll and then every 10 seconds.
    type: int
    default: 120
  wait_sleep:
    description: Seconds between two polls while waiting.
    type: int
    default: 1
"""
