"""discourse_database against a real PostgreSQL 18 with pgvector (no mocks).

The module runs its own servers: the role and the bootstrap SQL install extensions into
template1 and create roles, which must not leak into the session server other tests share.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.fixtures.ansible import REPO_ROOT, play_recap, write_varfile
from tests.fixtures.postgres import POSTGRES_BIN_PATH, start_postgres, stop_postgres
from tests.fixtures.rehearsal import KUBECONFIG, kubectl_json

pytestmark = pytest.mark.postgres

ROLE = REPO_ROOT / "roles" / "discourse_database"
PLAYBOOK = "tests/integration/playbooks/database_converge.yml"
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
EXTENSIONS = ROLE_VARS["__discourse_database_extensions"]
EXTENSION_SQL = ROLE_VARS["__discourse_database_extension_sql"]


def _server(prefix, extra_conf="", prepare=None):
    base = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(base, 0o755)
    if prepare:
        prepare(base)
    return base, start_postgres(base, extra_conf=extra_conf.format(ext=base / "ext"))


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL 18 of this module's own, with every extension Discourse needs available."""
    base, server = _server("forumops-pg-db-")
    yield server
    stop_postgres(server)
    shutil.rmtree(base, ignore_errors=True)


def _copy_extensions_without_vector(base):
    """<base>/ext/extension holds hstore, pg_trgm and unaccent (control and SQL files), no vector.

    PostgreSQL 18's extension_control_path lists directories and appends `extension` to each
    element (only the exact element `$system` means the built-in directory, which we leave out).
    """
    source = POSTGRES_BIN_PATH.parent / "share" / "extension"
    target = base / "ext" / "extension"
    target.mkdir(parents=True)
    for name in ("hstore", "pg_trgm", "unaccent"):
        for path in source.glob(f"{name}*"):
            if path.name == f"{name}.control" or path.name.startswith(f"{name}--"):
                shutil.copy(path, target / path.name)
    # unaccent's default dictionary lives in tsearch_data, found independently of the control path.
    os.chmod(base / "ext", 0o755)
    os.chmod(target, 0o755)


@pytest.fixture(scope="module")
def pg_without_vector():
    """A PostgreSQL 18 whose extension_control_path offers hstore, pg_trgm and unaccent only."""
    base, server = _server(
        "forumops-pg-novector-",
        prepare=_copy_extensions_without_vector,
        extra_conf="extension_control_path = '{ext}'\n",
    )
    yield server
    stop_postgres(server)
    shutil.rmtree(base, ignore_errors=True)


def installed(server, dbname):
    return sorted(row[0] for row in server.query("SELECT extname::text FROM pg_extension", dbname))


def run_sql(server, dbname, statements):
    conn = server.connect(dbname)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def converge(ansible, server, tmp_path, **variables):
    """Run the role in external mode against `server`; return (CompletedProcess, facts or None)."""
    facts = tmp_path / "facts.json"
    extra = {
        "discourse_namespace": "unused-by-external-mode",
        "discourse_site_name": "forum_a",
        "discourse_database_mode": "external",
        "discourse_database_external_host": server.host,
        "discourse_database_external_port": server.port,
        "discourse_database_external_login_user": server.user,
        "discourse_database_external_login_password": server.password,
        "discourse_database_external_ssl_mode": "disable",
        "discourse_database_external_manage_secret": False,
        "discourse_database_sslmode": "disable",
        "database_facts_file": str(facts),
        **variables,
    }
    result = ansible("ansible-playbook", PLAYBOOK, "-e", f"@{write_varfile(tmp_path, extra)}")
    return result, (json.loads(facts.read_text()) if facts.exists() else None)


recap = play_recap


def test_the_bootstrap_sql_is_one_statement_per_extension():
    # The list the tests run is the list CloudNativePG gets; it must cover every extension.
    assert [re.fullmatch(r"CREATE EXTENSION IF NOT EXISTS (\w+);", s)[1] for s in EXTENSION_SQL] == EXTENSIONS


def test_bootstrap_sql_installs_the_extensions_in_template1_and_the_app_database_idempotently(pg):
    pg.query('CREATE DATABASE "bootstrap_app"')
    try:
        for _attempt in range(2):  # CloudNativePG aborts the bootstrap on an error: a rerun must not fail
            run_sql(pg, "template1", EXTENSION_SQL)
            run_sql(pg, "bootstrap_app", EXTENSION_SQL)

        expected = sorted(["plpgsql", *EXTENSIONS])
        assert installed(pg, "template1") == expected
        assert installed(pg, "bootstrap_app") == expected
        # A database created afterwards inherits them from template1, as Discourse's restores do.
        pg.query('CREATE DATABASE "bootstrap_later"')
        assert installed(pg, "bootstrap_later") == expected
        # and they work: trigram similarity, unaccent, a vector distance, an hstore lookup
        row = pg.query(
            "SELECT similarity('discourse', 'discorse') > 0.3, unaccent('Crème brûlée'),"
            " '[1,2,3]'::vector <-> '[1,2,4]'::vector, ('a=>1'::hstore) -> 'a'",
            "bootstrap_app",
        )[0]
        assert row == (True, "Creme brulee", 1.0, "1")
    finally:
        pg.query('DROP DATABASE IF EXISTS "bootstrap_later"')
        pg.query('DROP DATABASE IF EXISTS "bootstrap_app"')


def test_external_mode_creates_role_database_and_extensions_then_changes_nothing(ansible, pg, tmp_path):
    password = "external-app-password-1234"
    fresh = {
        "discourse_database_name": "forum_fresh",
        "discourse_database_owner": "forum_fresh_owner",
        "discourse_database_external_create": True,
        "discourse_database_password": password,
        "discourse_database_secret_name": "forum-fresh-db",
    }
    first, facts = converge(ansible, pg, tmp_path, **fresh)
    assert recap(first)["failed"] == 0, first.stdout
    assert recap(first)["changed"] > 0
    assert password not in first.stdout + first.stderr

    second, _unused = converge(ansible, pg, tmp_path, **fresh)
    assert recap(second)["changed"] == 0, second.stdout
    assert facts == {
        "host": pg.host,
        "port": pg.port,
        "database": "forum_fresh",
        "user": "forum_fresh_owner",
        "secret_name": "forum-fresh-db",
        "password_key": "password",
        "sslmode": "disable",
        "pooler_host": "",
        "mode": "external",
        "cluster_name": "",
    }
    expected = sorted(["plpgsql", *EXTENSIONS])
    assert installed(pg, "forum_fresh") == expected
    assert installed(pg, "template1") == expected
    owner = pg.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'forum_fresh'")
    assert owner == [("forum_fresh_owner",)]
    # The app can log in with the password the role set.
    app = pg.connect("forum_fresh", user="forum_fresh_owner", password=password)
    app.close()


def secret_password(namespace, name):
    return base64.b64decode(kubectl_json("get", "secret", name, "-n", namespace)["data"]["password"]).decode()


def can_log_in(server, password):
    try:
        server.connect("forum_rotated", user="forum_rotated_owner", password=password).close()
    except Exception as error:  # psycopg's OperationalError: "password authentication failed"
        assert "password authentication failed" in str(error)
        return False
    return True


@pytest.mark.rehearsal
def test_external_mode_rotation_sets_a_new_password_on_the_server_and_in_the_secret_once(
    ansible, pg, tmp_path, rehearsal_namespace
):
    """Generated password kept in the rehearsal's Secret; a new rotation token replaces it on the
    real server (ALTER ROLE) and in the Secret; the same token again changes nothing."""
    ns = rehearsal_namespace
    site = {
        "discourse_kubeconfig": str(KUBECONFIG),
        "discourse_namespace": ns,
        "discourse_database_name": "forum_rotated",
        "discourse_database_owner": "forum_rotated_owner",
        "discourse_database_external_create": True,
        "discourse_database_external_manage_secret": True,
    }
    first, _unused = converge(ansible, pg, tmp_path, **site)
    assert recap(first)["failed"] == 0, first.stdout[-4000:]
    generated = secret_password(ns, "discourse-pg-credentials")
    assert can_log_in(pg, generated)

    rotated_run, _unused = converge(ansible, pg, tmp_path, **site, discourse_database_password_rotation="r2")
    assert recap(rotated_run)["failed"] == 0, rotated_run.stdout[-4000:]
    rotated = secret_password(ns, "discourse-pg-credentials")
    assert rotated != generated and len(rotated) == 32
    assert rotated not in rotated_run.stdout + rotated_run.stderr
    assert can_log_in(pg, rotated)
    assert not can_log_in(pg, generated)

    again, _unused = converge(ansible, pg, tmp_path, **site, discourse_database_password_rotation="r2")
    assert recap(again)["changed"] == 0, again.stdout[-4000:]
    assert secret_password(ns, "discourse-pg-credentials") == rotated
    assert can_log_in(pg, rotated)


def test_external_mode_uses_an_existing_database_without_creating_anything(ansible, pg, tmp_path):
    pg.query("DROP DATABASE IF EXISTS forum_existing")
    pg.query("DROP ROLE IF EXISTS forum_existing_owner")
    pg.query("CREATE ROLE forum_existing_owner LOGIN PASSWORD 'existing-owner-password'")
    pg.query("CREATE DATABASE forum_existing OWNER forum_existing_owner TEMPLATE template0")

    existing = {
        "discourse_database_name": "forum_existing",
        "discourse_database_owner": "forum_existing_owner",
    }
    first, facts = converge(ansible, pg, tmp_path, **existing)
    assert recap(first)["failed"] == 0, first.stdout
    second, _unused = converge(ansible, pg, tmp_path, **existing)
    assert recap(second)["changed"] == 0, second.stdout
    assert installed(pg, "forum_existing") == sorted(["plpgsql", *EXTENSIONS])
    assert facts["database"] == "forum_existing"
    assert facts["user"] == "forum_existing_owner"


def test_external_mode_names_a_missing_database(ansible, pg, tmp_path):
    result, _unused = converge(ansible, pg, tmp_path, discourse_database_name="forum_absent")

    assert result.returncode != 0
    assert (
        "discourse_database_name: the database 'forum_absent' or its owner role 'discourse'" in result.stdout
    )


def test_external_mode_names_the_unavailable_extension_and_the_package(ansible, pg_without_vector, tmp_path):
    available = pg_without_vector.query(
        "SELECT name::text FROM pg_available_extensions WHERE name = ANY(%s) ORDER BY name",
        args=(EXTENSIONS,),
    )
    assert available == [("hstore",), ("pg_trgm",), ("unaccent",)]  # the server really lacks vector

    result, facts = converge(
        ansible,
        pg_without_vector,
        tmp_path,
        discourse_database_name="forum_novector",
        discourse_database_external_create=True,
        discourse_database_password="never-used-password-123",
    )

    assert result.returncode != 0
    assert facts is None
    assert "(PostgreSQL 18) cannot install vector (not in pg_available_extensions)" in result.stdout
    assert "vector: pgvector (Debian/Ubuntu postgresql-18-pgvector" in result.stdout
    # Nothing was created before the check failed.
    assert pg_without_vector.query("SELECT count(*) FROM pg_database WHERE datname = 'forum_novector'") == [
        (0,)
    ]
