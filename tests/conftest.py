"""Shared fixtures live in one plugin module per cloud, so each can grow on its own."""

pytest_plugins = ["tests.fixtures_aws", "tests.fixtures_azure", "tests.fixtures_gcp", "tests.fixtures_postgres"]
