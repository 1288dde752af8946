"""The served OpenAPI document says exactly what the API accepts and answers: schemathesis
(`schemathesis.toml`) generates requests from it, valid and invalid, single and chained by the
document's links, sends them to `chalice local` over HTTP and checks every answer against it.

Its own `chalice local` runs with a plan generous enough (jobs, duration, upload size, rates)
that quota is not what the run measures; no worker, so submitted jobs stay queued."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

from chalicelib.runtime import launcher
from tests.conftest import ROOT, free_port, signup_over_http

GENEROUS_PLAN = {
    "free": {
        "monthly_jobs": 1_000_000,
        "max_duration_s": 180,
        "max_concurrency": 1000,
        "upload_max_bytes": 5 * 1024**3,
    }
}
GENEROUS_LIMITS = {
    "PLANS": json.dumps(GENEROUS_PLAN),
    "MAX_API_KEYS_PER_USER": "100000",
    "MAX_WEBHOOK_ENDPOINTS_PER_USER": "100000",
    "LONG_POLLS_PER_USER": "1000",
}
# (the suite's rate limits are generous already: tests/conftest.py)
# Bounded so the run stays within a few minutes on a busy 2-core machine; FUZZ_EXAMPLES=100
# digs deeper. The seed makes a failure reproducible (`--seed` in the report's command).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("FUZZ_SEED", "17"))


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("fuzz-api") / "api.log"
    proc = launcher.spawn(launcher.api_command(port), log, env=GENEROUS_LIMITS)
    try:
        launcher.wait_http(f"http://127.0.0.1:{port}/v1/health")
        yield f"http://127.0.0.1:{port}"
    finally:
        launcher.stop(proc.pid)


def token_for(api: str) -> str:
    return signup_over_http(api, email=f"fuzz-{secrets.token_hex(4)}@example.com")


def test_served_document_is_valid_openapi_3_1(fuzz_api):
    document = httpx.get(f"{fuzz_api}/v1/openapi.json").json()
    validate(document)
    assert document["openapi"] == "3.1.0"


@pytest.mark.timeout(600)
def test_schemathesis_with_every_check_and_phase_finds_nothing(fuzz_api, tmp_path):
    report = tmp_path / "report.json"
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{fuzz_api}/v1/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "-H",
        f"Authorization: Bearer {token_for(fuzz_api)}",
        "--request-timeout",  # the events long-poll may rightly hold a request its 20 s
        "30",
        "--max-response-time",
        "25",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=580)
    summary = json.loads(report.read_text())
    cases = summary["test_cases"]
    print(
        f"schemathesis: {cases['generated']} cases, {cases['unique_failures']} failures, "
        f"{summary['running_time']:.0f} s, phases {summary['phases']}"
    )
    assert cases["unique_failures"] == 0 and not summary["errors"], run.stdout[-20000:]
    assert run.returncode == 0, run.stdout[-20000:]
    assert summary["operations"]["tested"] == summary["operations"]["total"]
    # The document carries no examples, so that phase has nothing to send.
    assert [summary["phases"][p]["status"] for p in ("coverage", "fuzzing", "stateful")] == ["success"] * 3, (
        summary["phases"]
    )
