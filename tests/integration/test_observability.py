"""Logs are JSON with the service and the job id, and never carry secrets; metrics are EMF."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chalicelib.core import observability
from tests.conftest import ROOT


def _run(code: str, **env: str) -> list[dict]:
    """Run `code` in a fresh interpreter (logging setup is per process); its JSON stdout lines."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_redact_hides_sensitive_keys_at_any_depth_and_bearer_tokens():
    event = {
        "headers": {"Authorization": "Bearer abc.def", "X-Api-Key": "k", "accept": "*/*"},
        "body": {
            "email": "a@example.com",
            "password": "hunter2",
            "items": [{"client_secret": "s", "name": "n"}],
        },
        "note": "retry with Bearer eyJhbGciOi.x.y please",
    }
    clean = observability.redact(event)
    assert clean["headers"] == {"Authorization": "[redacted]", "X-Api-Key": "[redacted]", "accept": "*/*"}
    assert clean["body"]["password"] == "[redacted]"
    assert clean["body"]["email"] == "a@example.com"
    assert clean["body"]["items"] == [{"client_secret": "[redacted]", "name": "n"}]
    assert clean["note"] == "retry with Bearer [redacted] please"
    assert event["body"]["password"] == "hunter2"  # the original is untouched


def test_worker_lines_are_json_with_job_id_and_no_secrets():
    lines = _run(
        """
import asyncio, logging
from chalicelib.core import observability
observability.setup()
log = logging.getLogger("chalicelib.runtime.worker")

async def job(job_id):
    observability.bind_job(job_id)
    await asyncio.to_thread(log.info, "step done", extra={"api_key": "sk-live-123"})

async def main():
    await asyncio.gather(job("job_a"), job("job_b"))
    log.info("between jobs")
asyncio.run(main())
""",
        POWERTOOLS_SERVICE_NAME="media-test",
    )
    assert {(line["message"], line.get("job_id")) for line in lines} == {
        ("step done", "job_a"),
        ("step done", "job_b"),
        ("between jobs", None),
    }
    for line in lines:
        assert line["service"] == "media-test"
        assert line.get("correlation_id") == line.get("job_id")
        assert "sk-live-123" not in json.dumps(line)


def test_metrics_are_emf_when_enabled_and_silent_locally():
    code = """
from chalicelib.core import observability as o
o.metric_job_submitted(); o.metric_job_finished("succeeded"); o.metric_step_duration("video", 1.5)
"""
    assert _run(code, STAGE="local") == []
    lines = _run(code, STAGE="local", METRICS_ENABLED="true", METRICS_NAMESPACE="MediaTest")
    found = {}
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "MediaTest"
        for metric in directive["Metrics"]:
            found[metric["Name"]] = (metric["Unit"], line[metric["Name"]], line.get("step"))
    assert found == {
        "JobsSubmitted": ("Count", [1.0], None),
        "JobsSucceeded": ("Count", [1.0], None),
        "StepDuration": ("Seconds", [1.5], "video"),
    }


def test_api_logs_one_line_per_request(api, capsys):
    response = api.call("GET", "/v1/openapi.json", headers={"Authorization": "Bearer secret-tok"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (request,) = [line for line in lines if line["message"] == "request"]
    assert (request["method"], request["path"], request["status"]) == ("GET", "/v1/openapi.json", 200)
    assert "secret-tok" not in json.dumps(lines)
