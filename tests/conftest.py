"""Shared fixtures: a throwaway PostgreSQL (support.postgres) and live freehold servers (support.server)."""

pytest_plugins = ["support.postgres", "support.server"]
