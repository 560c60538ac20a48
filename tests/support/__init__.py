"""Test support shared by the whole suite, loaded as pytest plugins from tests/conftest.py.

support.postgres: a throwaway PostgreSQL server and the `state_url`/`database` fixtures that
run a test on both state backends.
"""
