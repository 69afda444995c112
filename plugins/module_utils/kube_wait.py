# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting for objects: the readiness rules of each kind and the poll loop of k8s_apply/k8s_get.

Pure predicates (unit-tested) plus one loop over a KubeClient.
"""

from __future__ import annotations

from ansible_collections.forumops.discourse.plugins.module_utils.kubeconfig import KubeError


def describe(obj):
    """'Deployment ns/name' for messages."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


def _conditions(obj):
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}


def condition_met(obj, condition):
    """Generic wait_condition {type, status (default 'True'), reason (optional)}."""
    found = _conditions(obj).get(condition.get("type"))
    if found is None:
        return False
    if str(found.get("status")) != str(condition.get("status", "True")):
        return False
    return not condition.get("reason") or found.get("reason") == condition["reason"]


def readiness(obj, condition=None):
    """(ready, failure) for an object: failure is a message when it can never become ready.

    Deployment: observedGeneration >= generation, updated == available == spec replicas and no pod
    of an old ReplicaSet left (status.replicas == updatedReplicas); fails on ProgressDeadlineExceeded.
    StatefulSet: observed, readyReplicas == replicas and currentRevision == updateRevision.
    DaemonSet: observed, every scheduled pod updated and ready. Job: Complete, or Failed (failure).
    Pod: Ready condition. Other kinds, or with `condition`: that condition (or mere existence).
    """
    if obj is None:
        return False, None
    if condition:
        return condition_met(obj, condition), None
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    observed = status.get("observedGeneration", 0) >= meta.get("generation", 0)
    if kind == "Deployment":
        progressing = _conditions(obj).get("Progressing") or {}
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            return False, f"{describe(obj)} exceeded its progress deadline: {progressing.get('message', '')}"
        want = spec.get("replicas", 1)
        updated = status.get("updatedReplicas", 0)
        return (
            observed
            and updated == want
            and status.get("replicas", 0) == updated
            and status.get("availableReplicas", 0) == want
        ), None
    if kind == "StatefulSet":
        want = spec.get("replicas", 1)
        revision_done = status.get("currentRevision") == status.get("updateRevision") or (
            (spec.get("updateStrategy") or {}).get("type") == "OnDelete"
        )
        return observed and status.get("readyReplicas", 0) == want and revision_done, None
    if kind == "DaemonSet":
        want = status.get("desiredNumberScheduled", 0)
        return (
            observed
            and status.get("updatedNumberScheduled", 0) == want
            and status.get("numberReady", 0) == want
        ), None
    if kind == "Job":
        conditions = _conditions(obj)
        if str((conditions.get("Failed") or {}).get("status")) == "True":
            failed = conditions["Failed"]
            meta = obj.get("metadata") or {}
            return False, (
                f"{describe(obj)} failed ({failed.get('reason', '')}: {failed.get('message', '')}). "
                f"Read its pods' logs (kubectl logs -n {meta.get('namespace')} job/{meta.get('name')}), "
                "fix the cause, delete the Job and run again: an existing Job is not re-run"
            )
        return str((conditions.get("Complete") or {}).get("status")) == "True", None
    if kind == "Pod":
        if status.get("phase") == "Failed":
            return False, f"{describe(obj)} failed"
        return condition_met(obj, {"type": "Ready"}) or status.get("phase") == "Succeeded", None
    return True, None


PROGRESS_EVERY = 10.0
# Most waits of a converge end within a second or two (a Job; on a small site a CloudNativePG Cluster
# or a StatefulSet): poll every FAST_POLL seconds for the first FAST_FOR seconds, at most twenty GETs
# per object, then double the pause up to the task's interval for waits of minutes. Doubling from
# the start overshot each such wait by half a second or more, on a first converge 3 s of 11 (issue 19).
FAST_POLL = 0.1
FAST_FOR = 2.0


def wait_for_objects(
    client, results, objects, state, namespace, condition, timeout, interval, sleep, clock, progress=None
):
    """Poll until every object is ready (present) or gone (absent); returns the final objects.

    `progress(message)` hears what is waited for, when the first poll finds it not done and then
    every PROGRESS_EVERY seconds."""
    started = clock()
    deadline = started + float(timeout)
    told = None
    current = list(results)
    pending = list(range(len(objects)))
    delay = FAST_POLL
    while True:
        still = []
        for index in pending:
            obj = current[index]
            if state == "absent":
                if obj is not None:
                    current[index] = obj = client.get(objects[index], namespace)
                if obj is not None:
                    still.append(index)
                continue
            ready, failure = readiness(obj, condition)
            if failure:
                raise KubeError(failure)
            if not ready:
                still.append(index)
        if not still:
            return current
        now = clock()
        waiting = ", ".join(describe(current[i] or objects[i]) for i in still)
        verb = "deletion of" if state == "absent" else "readiness of"
        if now >= deadline:
            raise KubeError(f"timed out after {timeout}s waiting for the {verb} {waiting}")
        if progress is not None and (told is None or now - told >= PROGRESS_EVERY):
            progress(f"waiting for the {verb} {waiting} ({now - started:.0f}s of {timeout}s)")
            told = now
        if now - started >= FAST_FOR:
            delay = min(delay * 2, float(interval))
        sleep(min(delay, float(interval)))
        pending = still
        if state != "absent":
            for index in pending:
                current[index] = client.get(objects[index], namespace)
