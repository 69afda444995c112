# Copyright: (c) 2026, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metrics and dashboards of a site, in pure Python (no Ansible imports).

``prometheus_plugin`` finds the official discourse-prometheus plugin in an image's plugin list (the
lock's ``plugins``, or a build manifest's); ``site_dashboard`` turns one of the role's Grafana
dashboards into the copy of one site (its own uid and title, the site's namespace and name in the
dashboard's hidden constant variables), so that every site of a cluster gets its own dashboards and
Grafana's dashboard sidecar never sees one uid twice.
"""

from __future__ import annotations

import copy
import hashlib
import posixpath

# github.com/discourse/discourse-prometheus: the repository name is the directory the image build
# clones it into unless the lock names it otherwise (module_utils/image.py, plugin_name).
PROMETHEUS_PLUGIN = "discourse-prometheus"
# The dashboards' variables the site fills in; each must be a constant variable of the dashboard.
SITE_VARIABLES = ("namespace", "site")


def _repository(url):
    base = posixpath.basename(str(url or "").rstrip("/"))
    return base[:-4] if base.endswith(".git") else base


def prometheus_plugin(plugins):
    """The first entry of ``plugins`` (dicts with url and optionally name) whose repository is
    discourse-prometheus (a fork keeps the repository name), else None."""
    for plugin in plugins or []:
        if isinstance(plugin, dict) and _repository(plugin.get("url")) == PROMETHEUS_PLUGIN:
            return plugin
    return None


def prometheus_plugin_dir(plugins):
    """The directory under plugins/ that holds discourse-prometheus in the image: the entry's name
    (the repository name unless the lock gives another), or discourse-prometheus without one."""
    plugin = prometheus_plugin(plugins)
    if plugin is None:
        return PROMETHEUS_PLUGIN
    return str(plugin.get("name") or _repository(plugin.get("url")))


def sidekiq_collector(plugin_dir):
    """The shell prefix that starts the plugin's collector next to a dedicated Sidekiq process: only
    the app server's master starts plugin demons (lib/collector_demon.rb), so a Sidekiq pod runs
    bin/collector itself, once the bundle holds the prometheus_exporter gem, restarting it if it
    exits."""
    plugin = f"plugins/{plugin_dir}"
    return (
        "{ while :; do spec=$(ls " + plugin + "/gems/*/specifications/prometheus_exporter-*.gemspec "
        '2>/dev/null | tail -n 1); if [ -n "$spec" ]; then version=${spec##*/prometheus_exporter-}; '
        "HOME=/home/discourse USER=discourse PROMETHEUS_EXPORTER_VERSION=${version%.gemspec} "
        "chpst -u discourse:www-data bundle exec ruby " + plugin + "/bin/collector "
        '"$DISCOURSE_PROMETHEUS_COLLECTOR_PORT" "$DISCOURSE_PROMETHEUS_WEBSERVER_BIND" 0 /dev/null; '
        "fi; sleep 5; done & } && "
    )


def dashboard_uid(namespace, site, name):
    """A Grafana uid (at most 40 characters) that is the same on every run for one site's
    dashboard and differs between sites and dashboards."""
    digest = hashlib.sha256(f"{namespace}/{site}/{name}".encode()).hexdigest()
    return f"forumops-{digest[:24]}"


def site_dashboard(dashboard, namespace, site, name):
    """A copy of the Grafana dashboard model ``dashboard`` for one site.

    The copy has no id, the uid of ``dashboard_uid``, the title "<title> / <site> (<namespace>)",
    and its constant variables namespace and site set to the site's (current value and only option).
    A dashboard without both constant variables is refused with ValueError naming ``name``: its
    queries could not be limited to the site."""
    if not isinstance(dashboard, dict) or not dashboard.get("title"):
        raise ValueError(f"dashboard {name}: not a Grafana dashboard model (no title)")
    result = copy.deepcopy(dashboard)
    values = {"namespace": str(namespace), "site": str(site)}
    found = set()
    for variable in (result.get("templating") or {}).get("list") or []:
        key = variable.get("name")
        if key in values and variable.get("type") == "constant":
            value = values[key]
            variable["query"] = value
            variable["current"] = {"selected": True, "text": value, "value": value}
            variable["options"] = [{"selected": True, "text": value, "value": value}]
            variable["hide"] = 2
            found.add(key)
    missing = [key for key in SITE_VARIABLES if key not in found]
    if missing:
        raise ValueError(
            f"dashboard {name}: no constant variable {', '.join(missing)} "
            "(its queries select the site with it)"
        )
    result["id"] = None
    result["uid"] = dashboard_uid(namespace, site, name)
    result["title"] = f"{dashboard['title']} / {site} ({namespace})"
    return result
