# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The closing summary of a site converge (playbooks/site.yml): pure, one line per fact."""

from __future__ import annotations


def workload_line(deployment):
    """'web forum-web: 2/2 ready, image registry/discourse:1' for a Deployment as the API returns it."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
    component = (meta.get("labels") or {}).get("app.kubernetes.io/component", "")
    ready = status.get("readyReplicas", 0)
    wanted = spec.get("replicas", 1)
    prefix = f"{component} " if component else ""
    return f"{prefix}{meta.get('name', '?')}: {ready}/{wanted} ready, image {containers[0].get('image', '?')}"


def site_summary(site):
    """Lines for one site. `site` keys: name, hostname, render_dir, server_version, namespace,
    deployments, database (connection fact), database_mode, valkey, storage, changed (Kind/name list)."""
    lines = [f"site: {site['name']} -> https://{site['hostname']}"]
    if site.get("render_dir"):
        lines.append(f"manifests written to {site['render_dir']}/{site['name']}")
    else:
        lines.append(
            f"cluster: Kubernetes {site.get('server_version') or '?'}, namespace {site.get('namespace')}"
        )
        deployments = sorted(site.get("deployments") or [], key=lambda d: d["metadata"]["name"])
        lines.extend(workload_line(d) for d in deployments)
        if not deployments:
            lines.append("workloads: none found")
    db = site.get("database") or {}
    if db:
        via = f", pooler {db['pooler_host']}" if db.get("pooler_host") else ""
        where = f"{db.get('host')}:{db.get('port')}/{db.get('database')}"
        lines.append(f"database: {where} ({site.get('database_mode')}{via})")
    kv = site.get("valkey") or {}
    if kv:
        lines.append(f"valkey: {kv.get('host')}:{kv.get('port')}{' (TLS)' if kv.get('tls') else ''}")
    s3 = site.get("storage") or {}
    if s3:
        buckets = f"{s3.get('uploads_bucket')} and {s3.get('backups_bucket')}"
        lines.append(f"s3: {s3.get('endpoint') or 'AWS'}, buckets {buckets}")
    changed = site.get("changed") or []
    if changed:
        lines.append(f"changed: {len(changed)} object(s): {', '.join(changed)}")
    else:
        lines.append("changed: no Kubernetes object")
    return lines
