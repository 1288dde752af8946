"""`make deploy` / `make destroy` (scripts/deploy.py) cannot run here (no AWS account): their plans
are checked against the template instead, and the runner against real processes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("deploy_script", ROOT / "scripts" / "deploy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


deploy = _script()


def _template() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # intrinsics: not needed here
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)


def _dry_run(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "scripts/deploy.py", *args, "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[1::2]  # the command lines (each under its title)


def _index(lines: list[str], needle: str) -> int:
    found = [i for i, line in enumerate(lines) if needle in line]
    assert found, f"no step runs {needle!r}"
    return found[0]


def test_deploy_preflights_before_it_changes_anything():
    lines = _dry_run("deploy", "--stack", "demo", "--region", "eu-west-1", "--mail-from", "me@example.com")
    last_check = max(
        _index(lines, k) for k in ("sam --version", "get-caller-identity", "get-account-settings", "sesv2")
    )
    first_change = min(
        _index(lines, k) for k in ("create-repository", "docker build", "sam deploy", "deploy_web.py")
    )
    assert last_check < first_change
    assert all("--region eu-west-1" in line for line in lines if line.startswith("aws "))


def test_the_image_is_built_for_the_tasks_architecture_and_passed_by_digest():
    lines = _dry_run("deploy", "--stack", "demo")
    platform = _template()["Resources"]["WorkerTaskDefinition"]["Properties"]["RuntimePlatform"][
        "CpuArchitecture"
    ]
    assert {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}[platform] == deploy.TASK_PLATFORM
    build = lines[_index(lines, "docker build")]
    assert f"--platform {deploy.TASK_PLATFORM}" in build and ":<commit>" in build
    assert _index(lines, "docker build") < _index(lines, "docker push") < _index(lines, "RepoDigests")
    assert "'WorkerImage=<image_digest>'" in lines[_index(lines, "sam deploy")]


def test_every_parameter_deploy_passes_is_one_the_template_declares():
    lines = _dry_run(
        "deploy",
        "--stack",
        "demo",
        "--domain",
        "media.example.com",
        "--reserve",
        "--platform-providers",
        "openai",
    )
    sam = lines[_index(lines, "sam deploy")]
    passed = sam.split("--parameter-overrides", 1)[1].split()
    declared = _template()["Parameters"]
    for override in passed:
        assert override.strip("'").split("=", 1)[0] in declared, override
    assert "PublicUrl=https://media.example.com" in sam and "ReserveSingletonConcurrency=true" in sam
    assert "PlatformProviders=openai" in sam


def test_the_smoke_check_goes_through_cloudfront_after_the_console_upload():
    lines = _dry_run("deploy", "--stack", "demo")
    template = _template()
    assert "ConsoleUrl" in template["Outputs"] and "DispatcherFunction" in template["Resources"]
    assert _index(lines, "sam deploy") < _index(lines, "deploy_web.py") < _index(lines, "/v1/health")
    assert _index(lines, "/v1/health") < _index(lines, "/v1/openapi.json") < _index(lines, "lambda invoke")
    assert "ApiUrl" in template["Outputs"] and _index(lines, "around CloudFront is refused") < _index(
        lines, "lambda invoke"
    )
    assert "AWS_ENDPOINT_URL=''" in lines[_index(lines, "deploy_web.py")]  # never the local emulator


def test_destroy_empties_the_buckets_and_removes_what_the_stack_retains():
    lines = _dry_run("destroy", "--stack", "demo")
    resources = _template()["Resources"]
    for logical_id in ("ConsoleBucket", "MediaBucket", "ProviderKeysKey"):
        assert logical_id in resources and _index(lines, f"--logical-resource-id {logical_id}") >= 0
    assert resources["MediaBucket"]["DeletionPolicy"] == "Retain"
    assert resources["ProviderKeysKey"]["DeletionPolicy"] == "Retain"
    assert (
        _index(lines, "s3://<console_bucket>")
        < _index(lines, "delete-stack")
        < _index(lines, "stack-delete-complete")
    )
    assert (
        _index(lines, "stack-delete-complete")
        < _index(lines, "s3://<media_bucket>")
        < _index(lines, "delete-bucket")
    )
    assert _index(lines, "schedule-key-deletion") > 0 and _index(lines, "delete-repository") > 0


@pytest.mark.parametrize("name", ["Demo", "demo_1", "1demo", "", "a" * 41])
def test_stack_names_that_a_derived_resource_name_refuses_are_refused_first(name):
    proc = subprocess.run(
        [sys.executable, "scripts/deploy.py", "deploy", "--stack", name, "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "lowercase" in proc.stderr and "docker" not in proc.stdout


def test_the_concurrency_preflight_knows_lambdas_unreserved_minimum():
    settings = '{"AccountLimit": {"ConcurrentExecutions": 10}}'
    assert deploy.check_concurrency(settings, reserve=False) == "10"
    with pytest.raises(SystemExit, match="quota is 10"):
        deploy.check_concurrency(settings, reserve=True)
    assert deploy.check_concurrency('{"AccountLimit": {"ConcurrentExecutions": 13}}', reserve=True) == "13"


def test_the_pinned_sam_cli_is_required():
    assert deploy.check_sam_version(f"SAM CLI, version {deploy.SAM_CLI_VERSION}") == deploy.SAM_CLI_VERSION
    with pytest.raises(SystemExit, match="is required"):
        deploy.check_sam_version("SAM CLI, version 1.0.0")


def test_a_run_fills_placeholders_from_earlier_steps_and_stops_at_the_first_failure(tmp_path, capsys):
    marker = tmp_path / "never"
    steps = [
        deploy.Step("a value", [sys.executable, "-c", "print('abc123')"], save="commit"),
        deploy.Step(
            "uses it", [sys.executable, "-c", "import sys; assert sys.argv[1] == 'x:abc123'", "x:{commit}"]
        ),
        deploy.Step("fails", [sys.executable, "-c", "raise SystemExit(3)"]),
        deploy.Step("never runs", [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]),
    ]
    with pytest.raises(SystemExit, match=r"step 3 \(fails\) failed with exit 3"):
        deploy.run(steps, dry_run=False)
    assert not marker.exists()
    assert "x:abc123" in capsys.readouterr().out


def test_the_regional_smoke_check_wants_the_apis_own_refusal():
    """403 with `origin_required` passes; a 200 (no origin check) or API Gateway's own 403 fails."""
    import http.server
    import threading

    replies = {
        "/ours": (403, b'{"error": {"code": "origin_required"}}'),
        "/open": (200, b'{"status": "ok"}'),
        "/gateway": (403, b'{"message": "Missing Authentication Token"}'),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = replies[self.path]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert deploy.http_refused(f"{base}/ours") == "403 origin_required"
        for path in ("/open", "/gateway"):
            with pytest.raises(SystemExit, match="smoke check"):
                deploy.http_refused(f"{base}{path}")
    finally:
        server.shutdown()
        server.server_close()
