"""Deployment files: the SAM template lints clean and points at real handlers, the worker image
runs the worker as a non-root user, and the compose stack listens on loopback only.

Uses only the repository's files (no network, no Docker, no AWS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DOCKERFILE = ROOT / "containers" / "worker" / "Dockerfile"
COMPOSE = ROOT / "localstack" / "docker-compose.yml"
INIT_HOOK = ROOT / "localstack" / "init" / "ready.d" / "10_resources.py"

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def _cfn_lint_command() -> list[str]:
    """The cfn-lint installed next to this interpreter (the project's venv), else on PATH."""
    exe = Path(sys.executable).parent / ("cfn-lint.exe" if os.name == "nt" else "cfn-lint")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("cfn-lint")
    if found:
        return [found]
    pytest.fail("cfn-lint is not installed (it is in requirements-dev.txt)")


def _load_template() -> dict:
    # cfn-lint's loader understands the short-form intrinsic tags (!Ref, !Sub, !GetAtt ...).
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.loads(TEMPLATE.read_text(), str(TEMPLATE))


def _handlers() -> list[tuple[str, str]]:
    template = _load_template()
    global_handler = template.get("Globals", {}).get("Function", {}).get("Handler")
    found = []
    for name, resource in template["Resources"].items():
        if resource.get("Type") in FUNCTION_TYPES:
            handler = resource.get("Properties", {}).get("Handler", global_handler)
            assert isinstance(handler, str), f"{name}: Handler must be a literal string"
            found.append((name, handler))
    return found


def test_cfn_lint_is_clean():
    proc = subprocess.run(
        [*_cfn_lint_command(), str(TEMPLATE.name)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"cfn-lint exit {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"


def test_template_declares_functions():
    names = dict(_handlers())
    assert names.get("APIHandler") == "app.app"
    assert names.get("ReaperFunction") == "functions.reaper.handler"
    assert names.get("CleanupFunction") == "functions.cleanup.handler"
    assert names.get("DispatcherFunction") == "functions.dispatcher.handler"


def test_worker_task_scales_to_zero_and_stops_gracefully():
    container = _load_template()["Resources"]["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert int(env["WORKER_IDLE_EXIT_S"]) > 0
    assert 30 <= container["StopTimeout"] <= 120  # Fargate's maximum is 120 s


def test_dispatcher_settings_reach_the_code():
    from chalicelib.core.settings import Settings

    env = _load_template()["Globals"]["Function"]["Environment"]["Variables"]
    for name in (
        "ECS_CLUSTER",
        "WORKER_TASK_DEFINITION",
        "WORKER_SUBNETS",
        "WORKER_SECURITY_GROUP",
        "MAX_WORKERS",
        "DATABASE_SECRET_ARN",
    ):
        assert name in env and name.lower() in Settings.model_fields, name


def test_no_placeholder_whop_secret_is_ever_stored():
    """Without a real value there is no Whop secret (and no ARN): the API then refuses webhooks."""
    template = _load_template()
    secret = template["Resources"]["WhopWebhookSecret"]
    assert secret.get("Condition") == "HasWhopWebhookSecret"
    assert secret["Properties"]["SecretString"] == {"Ref": "WhopWebhookSecretValue"}
    assert "not-configured" not in TEMPLATE.read_text()
    api_env = template["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_env["WHOP_WEBHOOK_SECRET_ARN"] == {
        "Fn::If": ["HasWhopWebhookSecret", {"Ref": "WhopWebhookSecret"}, {"Ref": "AWS::NoValue"}]
    }


# Each handler is imported in a fresh interpreter at the repository root, as Lambda would
# (module path relative to CodeUri "."), so app/settings state does not leak between tests.
_IMPORT_CHECK = """
import importlib, sys
module_name, attr = sys.argv[1].rsplit(".", 1)
module = importlib.import_module(module_name)
target = getattr(module, attr)
assert callable(target), f"{sys.argv[1]} is not callable: {target!r}"
"""


@pytest.mark.parametrize("resource,handler", _handlers())
def test_handler_resolves_to_a_callable(resource, handler):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK, handler],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"{resource}: handler {handler!r} does not resolve:\n{proc.stderr}"


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def test_worker_image_runs_the_worker():
    cmds = [args for keyword, args in _dockerfile_instructions() if keyword == "CMD"]
    assert cmds, "Dockerfile has no CMD"
    assert json.loads(cmds[-1]) == ["python", "-m", "chalicelib.runtime.worker"]


def test_worker_image_runs_as_non_root():
    users = [args for keyword, args in _dockerfile_instructions() if keyword == "USER"]
    assert users, "Dockerfile has no USER line"
    user = users[-1].split(":", 1)[0].strip()
    assert user and user not in ("root", "0"), f"the image runs as {users[-1]!r}"


def test_compose_ports_are_loopback_only():
    compose = yaml.safe_load(COMPOSE.read_text())
    published = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):  # long syntax
                published.append((name, port.get("host_ip"), port))
            else:
                published.append(
                    (name, str(port).split(":", 1)[0] if str(port).count(":") == 2 else None, port)
                )
    assert published, "no published ports"
    exposed = [(name, port) for name, host_ip, port in published if host_ip != "127.0.0.1"]
    assert not exposed, f"ports not bound to 127.0.0.1: {exposed}"


def test_init_hook_runs_under_localstack_exec():
    # LocalStack exec()s ready.d/*.py with empty globals: no __name__ to guard on, and a
    # sys.exit() would escape into LocalStack's own process.
    import ast

    tree = ast.parse(INIT_HOOK.read_text(), str(INIT_HOOK))
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Name) and node.id in ("__name__", "__file__")), (
            f"line {node.lineno}: {node.id} is undefined under LocalStack"
        )
        assert not (isinstance(node, ast.Attribute) and node.attr == "exit"), (
            f"line {node.lineno}: exit() inside LocalStack's process"
        )


def test_package_puts_functions_in_the_one_zip(tmp_path):
    # What `chalice package --merge-template` leaves: its zip (no functions/) and `CodeUri: .`.
    import importlib.util
    import zipfile

    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    package = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(package)
    with zipfile.ZipFile(tmp_path / "deployment.zip", "w") as zf:
        zf.writestr("app.py", "")
        zf.writestr("chalicelib/__init__.py", "")
        zf.writestr("vendor_pkg/py2_only.py", "print 'not python 3'\n")
        # a developer's own pyc, checked against the source's mtime: useless once zipped
        zf.writestr(f"chalicelib/__pycache__/__init__.{sys.implementation.cache_tag}.pyc", b"\0" * 16)
    template = _load_template()
    (tmp_path / "sam.yaml").write_text(
        yaml.safe_dump(
            {
                "Globals": {"Function": {"CodeUri": "."}},
                "Resources": {
                    str(name): {"Type": "AWS::Serverless::Function", "Properties": {"Handler": str(h)}}
                    for name, h in _handlers()
                    if name != "APIHandler"
                },
            }
        )
    )

    package.finish(tmp_path)
    package.finish(tmp_path)  # idempotent

    sam = yaml.safe_load((tmp_path / "sam.yaml").read_text())
    assert sam["Globals"]["Function"]["CodeUri"] == "./deployment.zip"
    names = zipfile.ZipFile(tmp_path / "deployment.zip").namelist()
    assert len(names) == len(set(names))
    for resource in sam["Resources"].values():
        module = resource["Properties"]["Handler"].rsplit(".", 1)[0]
        assert module.replace(".", "/") + ".py" in names
    assert template["Globals"]["Function"]["CodeUri"] == "."  # the source template is unchanged
    # every module ships compiled (Lambda can't write __pycache__): hash-based, unchecked pyc files
    # for this interpreter, which must be the runtime's; what does not compile stays source only
    assert _load_template()["Globals"]["Function"]["Runtime"] == "python{}.{}".format(*package.LAMBDA_PYTHON)
    with zipfile.ZipFile(tmp_path / "deployment.zip") as zf:
        for module in [n for n in names if n.endswith(".py") and n != "vendor_pkg/py2_only.py"]:
            folder, _, file = module.rpartition("/")
            pyc = (
                f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{sys.implementation.cache_tag}.pyc"
            )
            header = zf.read(pyc)[:8]
            assert header[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(header[4:8], "little") == 0b01
        assert not [n for n in names if "py2_only" in n and n.endswith(".pyc")]
