"""Test-session wiring: each real server the integration tests use has its fixture module.

Servers start lazily, the first time a test asks for their fixture, and stop at session end.
"""

pytest_plugins = [
    "tests.fixtures.ansible",
    "tests.fixtures.postgres",
    "tests.fixtures.valkey",
    "tests.fixtures.s3",
    "tests.fixtures.rehearsal",
    "tests.fixtures.backup_db",
    "tests.fixtures.buildah",
]
