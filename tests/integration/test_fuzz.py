"""No input a client can send produces a 5xx: schemathesis generates requests from our own
OpenAPI document and sends them to `chalice local` over HTTP (loopback, bounded examples)."""
from __future__ import annotations

import secrets

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error


@pytest.fixture(scope="module")
def served_schema(live_api):
    return schemathesis.openapi.from_url(f"{live_api}/v1/openapi.json")


@pytest.fixture(scope="module")
def token(live_api) -> str:
    reply = httpx.post(f"{live_api}/v1/auth/signup", json={
        "email": f"fuzz-{secrets.token_hex(4)}@example.com", "password": "a long password"})
    return reply.json()["access_token"]


def test_no_request_gets_a_server_error(served_schema, token):
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in served_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def no_server_error(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

        no_server_error()
