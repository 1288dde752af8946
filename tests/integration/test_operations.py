"""Health, the OpenAPI document and migrations."""

from __future__ import annotations

from openapi_spec_validator import validate

from chalicelib.infra import db
from chalicelib.infra.migrate import migrate


def test_health_reports_every_dependency_ok(api):
    response = api.call("GET", "/v1/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"mysql": "ok", "redis": "ok", "s3": "ok"}}


def test_health_is_503_and_names_the_dependency_that_is_down(api, doomed_redis):
    assert api.call("GET", "/v1/health").json["checks"]["redis"] == "ok"
    doomed_redis.terminate()
    doomed_redis.wait()
    response = api.call("GET", "/v1/health")
    assert response.status_code == 503
    assert response.json["status"] == "degraded"
    assert response.json["checks"] == {"mysql": "ok", "redis": "down", "s3": "ok"}


def test_openapi_document_is_valid_and_covers_every_route(api):
    from app import app

    doc = api.call("GET", "/v1/openapi.json").json
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    served = {(path, method.lower()) for path, methods in app.routes.items() for method in methods}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented
    job = doc["components"]["schemas"]["Job"]["properties"]
    assert {
        "id",
        "status",
        "progress",
        "current_step",
        "attempt",
        "steps",
        "error",
        "outputs",
        "request",
        "created_at",
        "started_at",
        "finished_at",
    } <= set(job)
    submit = doc["paths"]["/v1/jobs"]["post"]
    assert set(submit["responses"]) >= {"202", "400", "401", "409", "415", "422"}


def test_migrations_are_recorded_and_applied_once():
    assert migrate() == []
    versions = [r["version"] for r in db.fetch_all("SELECT version FROM schema_migrations")]
    assert "0001_init" in versions
    tables = {list(r.values())[0] for r in db.fetch_all("SHOW TABLES")}
    assert {"users", "api_keys", "jobs", "job_steps", "audit_log"} <= tables
