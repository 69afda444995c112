"""Test-session wiring: each real server the integration tests use has its fixture module."""

pytest_plugins = [
    "tests.fixtures.ansible",
    "tests.fixtures.postgres",
]
