"""What `up` puts into a fresh cluster (manifests/, PersistentVolumes, CRDs, kwok, the inventory
overlay for ansible-playbook) and `reclaim`, which recycles released volumes."""

import json
import shutil
from pathlib import Path

from .common import HOST, PORTS, PV_COUNT, PV_LABEL, PV_SIZE, STATE_DIR, TOOL_DIR, say
from .crds import install_crds
from .kube import apply, kubectl
from .processes import start_kwok, wait_until


def persistent_volume(name, path, labels, reclaim="Retain"):
    """A hostPath PersistentVolume of the rehearsal's storage class (benchmarks add their own)."""
    Path(path).mkdir(parents=True, exist_ok=True)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "capacity": {"storage": PV_SIZE},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "rehearsal-local",
            "persistentVolumeReclaimPolicy": reclaim,
            "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
        },
    }


def persistent_volumes():
    return "\n---\n".join(
        json.dumps(
            persistent_volume(
                f"rehearsal-pv-{index:02d}", STATE_DIR / "pv" / f"{index:02d}", {PV_LABEL: "true"}
            )
        )
        for index in range(1, PV_COUNT + 1)
    )


def bootstrap(versions):
    apply((TOOL_DIR / "manifests" / "cluster.yaml").read_text())
    apply(persistent_volumes())
    install_crds(versions)
    start_kwok(versions)
    apply((TOOL_DIR / "manifests" / "operators.yaml").read_text())
    write_inventory()
    kubectl("wait", "--for=condition=Ready", "--timeout=60s", "node", "--all")
    # Pods can only be admitted once the namespace's default ServiceAccount exists.
    wait_until(
        "the default ServiceAccount",
        lambda: kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
        60,
    )


def write_inventory():
    """An inventory overlay that points a customer inventory at this cluster and its S3 stand-in:
    `ansible-playbook -i inventories/example -i .rehearsal/inventory ...` (the later source wins)."""
    directory = STATE_DIR / "inventory"
    (directory / "group_vars").mkdir(parents=True, exist_ok=True)
    (directory / "hosts.yml").write_text("# Hosts come from the customer inventory given first.\nall: {}\n")
    # JSON is valid YAML.
    overlay = {
        "discourse_kubeconfig": str(STATE_DIR / "kubeconfig"),
        "discourse_storage_api_endpoint": f"http://{HOST}:{PORTS['s3']}",
        "discourse_storage_path_style": True,
        # kwok's stage plays CloudNativePG for Clusters with this label (manifests/kwok-stages.yaml).
        "discourse_database_cluster_labels": {"forumops.test/operator": "kwok"},
    }
    (directory / "group_vars" / "all.yml").write_text(
        "# Written by tools/rehearsal/rehearsal up: the rehearsal cluster and its S3 stand-in.\n"
        + json.dumps(overlay, indent=2)
        + "\n"
    )


def reclaim():
    """Released volumes keep their old claimRef forever (reclaim policy Retain, no provisioner);
    wipe their directories and drop the claimRef, as a local-volume provisioner would."""
    volumes = json.loads(kubectl("get", "pv", "-l", PV_LABEL, "-o", "json").stdout)["items"]
    released = [v for v in volumes if v.get("status", {}).get("phase") == "Released"]
    for volume in released:
        path = Path(volume["spec"]["hostPath"]["path"])
        if path.is_dir() and STATE_DIR in path.parents:
            for entry in path.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        # Only if nothing changed the volume since we listed it; a lost race is retried next time.
        guard = {
            "op": "test",
            "path": "/metadata/resourceVersion",
            "value": volume["metadata"]["resourceVersion"],
        }
        patch = json.dumps([guard, {"op": "remove", "path": "/spec/claimRef"}])
        kubectl("patch", "pv", volume["metadata"]["name"], "--type=json", "-p", patch, check=False)
    say(f"reclaimed {len(released)} released PersistentVolume(s)")
