"""This tier runs against the real services, worker processes and the API over HTTP: every test gets the session's
own database, bucket and queue (tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _backends(isolated_backends):
    """Every test here uses the services; the unit tier never does."""
