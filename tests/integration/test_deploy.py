"""Deployment files: the SAM template lints clean and points at real handlers, the worker image
runs the worker as a non-root user, and the compose stack listens on loopback only.

Uses only the repository's files, and the package index for `make package`'s wheels (no Docker, no AWS).
"""

from __future__ import annotations

import json
import os
import re
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


def _inline(resource: dict) -> bool:
    """A function whose code is in the template (Code.ZipFile, e.g. ConsoleSetupFunction), not our zip."""
    return "ZipFile" in (resource.get("Properties", {}).get("Code") or {})


def _handlers() -> list[tuple[str, str]]:
    template = _load_template()
    global_handler = template.get("Globals", {}).get("Function", {}).get("Handler")
    found = []
    for name, resource in template["Resources"].items():
        if resource.get("Type") in FUNCTION_TYPES and not _inline(resource):
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


def test_aurora_takes_tls_only_and_every_client_asks_for_it():
    from chalicelib.core.settings import Settings

    resources = _load_template()["Resources"]
    cluster = resources["DbCluster"]["Properties"]
    group = resources[cluster["DBClusterParameterGroupName"]["Ref"]]
    assert group["Type"] == "AWS::RDS::DBClusterParameterGroup"
    assert group["Properties"]["Family"] == "aurora-mysql8.0"  # Aurora MySQL 3, as EngineVersion says
    assert cluster["EngineVersion"].startswith("8.0.mysql_aurora.3")
    assert group["Properties"]["Parameters"]["require_secure_transport"] == "ON"
    functions_env = _load_template()["Globals"]["Function"]["Environment"]["Variables"]
    container = resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    worker_env = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert functions_env["DATABASE_TLS"] == worker_env["DATABASE_TLS"] == "1"
    assert Settings(database_tls=functions_env["DATABASE_TLS"]).database_tls is True


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


def _evaluate(node, parameters: dict, conditions: dict):
    """The intrinsic functions the platform settings use, evaluated for `parameters`."""
    if not isinstance(node, dict):
        return [_evaluate(n, parameters, conditions) for n in node] if isinstance(node, list) else node
    ((name, args),) = node.items()
    if name == "Ref":
        return parameters[args]
    if name == "Fn::If":
        condition, yes, no = args
        return _evaluate(yes if conditions[condition] else no, parameters, conditions)
    if name == "Fn::Sub":
        text, names = args
        for key, value in names.items():
            text = text.replace("${" + key + "}", _evaluate(value, parameters, conditions))
        return text
    args = _evaluate(args, parameters, conditions)
    if name == "Fn::Split":
        return args[1].split(args[0])
    if name == "Fn::Join":
        return args[0].join(args[1])
    raise AssertionError(f"unexpected {name}")


@pytest.mark.parametrize(
    ("given", "providers"), [("", []), ("openai", ["openai"]), ("openai,pexels", ["openai", "pexels"])]
)
def test_the_platform_providers_parameter_reaches_the_api_and_the_worker_as_json(given, providers):
    from chalicelib.core.settings import Settings

    template = _load_template()
    resources = template["Resources"]
    container = resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    worker = {item["Name"]: item["Value"] for item in container["Environment"]}
    api = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    conditions = {"HasPlatformProviders": given != ""}
    for env in (worker, api):
        rendered = _evaluate(env["PLATFORM_PROVIDERS"], {"PlatformProviders": given}, conditions)
        assert Settings(platform_providers=json.loads(rendered)).platform_providers == providers
    assert re.fullmatch(template["Parameters"]["PlatformProviders"]["AllowedPattern"], given)
    assert not re.fullmatch(template["Parameters"]["PlatformProviders"]["AllowedPattern"], "openai, pexels")


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


# The artifact itself (issue 22): `scripts/package.py` builds the real package (a real `chalice
# package`, wheels from the package index) once for these tests, then they check it offline as the
# Lambda runtime would see it. No AWS account, no Docker.
def _package_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("package_script", ROOT / "scripts" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _artifact_checks():
    _package_script()  # puts scripts/ on sys.path
    import artifact_checks

    return artifact_checks


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"make package failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def unzipped(packaged, tmp_path_factory) -> Path:
    import zipfile

    folder = tmp_path_factory.mktemp("task-root")  # Lambda's /var/task
    with zipfile.ZipFile(packaged / "deployment.zip") as zf:
        zf.extractall(folder)
    return folder


def _python_version() -> str:
    return (ROOT / ".python-version").read_text().strip()


def test_one_python_version_everywhere():
    import tomllib

    version = _python_version()
    assert version in ("3.12", "3.13"), "an Amazon Linux 2023 Lambda runtime (python3.12 or later)"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f"=={version}.*"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert pyproject["tool"]["mypy"]["python_version"] == version
    assert _load_template()["Globals"]["Function"]["Runtime"] == f"python{version}"
    assert ".".join(map(str, _package_script().LAMBDA_PYTHON)) == version
    froms = [args for keyword, args in _dockerfile_instructions() if keyword == "FROM"]
    assert froms and froms[-1].startswith(f"python:{version}-"), froms
    assert "{}.{}".format(*sys.version_info[:2]) == version, (
        "the venv's Python (scripts/bringup.sh builds it)"
    )


def test_the_zip_fits_lambda_with_a_quarter_to_spare_and_holds_no_ffmpeg(packaged):
    import zipfile

    checks = _artifact_checks()
    report = checks.check_zip(str(packaged / "deployment.zip"))
    assert report.unzipped_bytes <= checks.UNZIPPED_BUDGET <= checks.LAMBDA_UNZIPPED_LIMIT * 3 // 4, (
        report.summary()
    )
    names = zipfile.ZipFile(packaged / "deployment.zip").namelist()
    assert not [n for n in names if n.startswith("imageio_ffmpeg") or "ffmpeg-linux" in n]
    assert not [n for n in names if n.startswith(("av/", "av.libs/")) or "libavcodec" in n]  # PyAV


def test_the_zip_ships_the_rds_ca_bundle_the_database_tls_pins(unzipped):
    from chalicelib.infra import db

    shipped = unzipped / db.RDS_CA_BUNDLE.relative_to(ROOT)
    assert shipped.read_bytes() == db.RDS_CA_BUNDLE.read_bytes()
    assert "COPY chalicelib/ ./chalicelib/" in DOCKERFILE.read_text()  # the worker image: the same file


def test_the_zip_holds_no_wheel_built_on_this_host(packaged):
    import zipfile

    checks = _artifact_checks()
    with zipfile.ZipFile(packaged / "deployment.zip") as zf:
        wheels = {n: zf.read(n).decode() for n in zf.namelist() if n.endswith(".dist-info/WHEEL")}
    assert [p for name, text in wheels.items() for p in checks.host_built(name, text)] == []
    pillow = next(text for name, text in wheels.items() if name.lower().startswith("pillow-"))
    assert "manylinux" in pillow, "Pillow comes from a manylinux wheel, not built from source"


def test_every_shared_object_runs_on_the_runtime(packaged):
    checks = _artifact_checks()
    report = checks.check_zip(str(packaged / "deployment.zip"))
    assert report.shared_objects > 10  # pydantic-core, cryptography, Pillow and its libraries ...
    assert report.problems == [], report.summary()
    assert report.highest["GLIBC"] <= (2, 34)


def test_the_checks_catch_a_host_built_wheel_and_an_unbundled_library(tmp_path):
    import zipfile

    import PIL._imaging

    checks = _artifact_checks()
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("pillow-13.0.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: cp313-cp313-linux_x86_64\n")
        zf.write(PIL._imaging.__file__, "PIL/_imaging.so")  # its libraries (pillow.libs/) left out
    problems = checks.check_zip(str(bad)).problems
    assert any("built on this host" in p for p in problems), problems
    assert any("PIL/_imaging.so needs lib" in p and "neither in the zip" in p for p in problems), problems


def test_the_checks_catch_a_too_new_glibc(tmp_path, monkeypatch):
    import zipfile

    import pydantic_core._pydantic_core as native

    checks = _artifact_checks()
    zip_path = tmp_path / "one.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.write(native.__file__, "pydantic_core/native.so")
    monkeypatch.setitem(checks.RUNTIME_SYMBOL_VERSIONS, "GLIBC", (2, 1))  # an older runtime
    problems = checks.check_zip(str(zip_path)).problems
    assert any("needs GLIBC_2." in p and "the runtime has 2.1" in p for p in problems), problems


def _packaged_handlers(packaged: Path) -> list[str]:
    sam = yaml.safe_load((packaged / "sam.yaml").read_text())
    default = sam.get("Globals", {}).get("Function", {}).get("Handler")
    return sorted(
        {
            resource.get("Properties", {}).get("Handler", default)
            for resource in sam["Resources"].values()
            if resource.get("Type") in FUNCTION_TYPES and not _inline(resource)
        }
    )


_CLEAN_IMPORT = """
import importlib, sys
sys.path.insert(0, sys.argv[1])  # only the task root and the standard library: -I -S
for handler in sys.argv[2:]:
    module_name, attr = handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module_name), attr)), handler
try:
    import imageio_ffmpeg
except ImportError:
    pass
else:
    raise AssertionError("imageio_ffmpeg is importable from the API's zip")
"""


def test_every_handler_imports_from_the_unzipped_artifact_alone(packaged, unzipped):
    handlers = _packaged_handlers(packaged)
    assert "app.app" in handlers and len(handlers) >= 5, handlers
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(LAMBDA_TASK_ROOT=str(unzipped), STAGE=os.environ.get("STAGE", "local"))
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _CLEAN_IMPORT, str(unzipped), *handlers],
        cwd=unzipped,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_the_packaged_template_transforms_and_lints_clean(packaged, tmp_path, monkeypatch):
    """What `sam deploy` sends after uploading the zip: the SAM translator's output, cfn-lint clean."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the translator asks IAM only for policies named, not ARNs: we use ARNs
        def load(self) -> dict:
            return {}

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sam = yaml.safe_load((packaged / "sam.yaml").read_text())
    uploaded = "s3://deployment-artifacts/deployment.zip"  # where `sam deploy` puts ./deployment.zip
    sam["Globals"]["Function"]["CodeUri"] = uploaded
    for resource in sam["Resources"].values():
        if "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = uploaded
    try:
        transformed = transform(sam, {}, NoManagedPolicies())
    except InvalidDocumentException as exc:
        pytest.fail("SAM translator: " + "; ".join(cause.message for cause in exc.causes))
    runtimes = {
        r["Properties"].get("Runtime")
        for r in transformed["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "ZipFile" not in r["Properties"].get("Code", {})
    }
    assert runtimes == {f"python{_python_version()}"}
    (tmp_path / "transformed.json").write_text(json.dumps(transformed, indent=1))
    for path in (tmp_path / "transformed.json", packaged / "sam.yaml"):
        proc = subprocess.run(
            [*_cfn_lint_command(), str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, (
            f"cfn-lint {path.name}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}"
        )


_CLIP_FROM_THE_ZIP = """
import sys
sys.path.insert(0, sys.argv[1])
from chalicelib.uploads.media_headers import read_clip
data = open(sys.argv[2], "rb").read()
info = read_clip(lambda start, count: data[start : start + count], len(data))
print(info["video_codec"], info["width"], info["height"], round(info["duration_s"], 1))
"""


def test_the_zip_confirms_a_clip_without_ffmpeg(unzipped, tmp_path):
    from tests.fakes.media import make_clip

    clip = make_clip(tmp_path / "clip.mov", width=320, height=240, seconds=1.0, container="mov")
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", _CLIP_FROM_THE_ZIP, str(unzipped), str(clip)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.split() == ["h264", "320", "240", "1.0"]


# ---- the source template as SAM transforms it (no package needed) -----------------------------
@pytest.fixture(scope="module")
def transformed() -> dict:
    """template.yaml through the SAM translator, as CloudFormation receives it."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the translator asks IAM only for policies named, not ARNs: we use ARNs
        def load(self) -> dict:
            return {}

    template = json.loads(json.dumps(_load_template()))  # plain dicts, as a deploy would send
    uploaded = "s3://deployment-artifacts/deployment.zip"
    template["Globals"]["Function"]["CodeUri"] = uploaded
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    try:
        return transform(template, {}, NoManagedPolicies())
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION")
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


NAME_PROPERTIES = {
    "Name", "AliasName", "ServerlessCacheName", "ClusterName", "Family", "LogGroupName", "FunctionName",
    "RoleName", "BucketName", "QueueName", "TopicName", "DBClusterIdentifier", "DBInstanceIdentifier",
}  # fmt: skip


def _named(value) -> list[tuple[str, object]]:
    """(property, value) of every name-like property anywhere under `value`."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in NAME_PROPERTIES and not isinstance(inner, list):
                found.append((key, inner))
            found.extend(_named(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(_named(inner))
    return found


def _mentions(value, name: str) -> bool:
    text = json.dumps(value)
    return f'{{"Ref": "{name}"}}' in text or f"${{{name}}}" in text


def test_resource_names_come_from_the_stack_name_never_the_stage_alone(transformed):
    """Two stacks (of one stage or not) never collide, and a secret a deleted stack left scheduled
    for deletion never blocks the next create: secrets have generated names."""
    for logical_id, resource in transformed["Resources"].items():
        for prop, value in _named(resource.get("Properties", {})):
            if isinstance(value, str):
                continue  # a literal: a sub-resource's own name (a container, a policy), not global
            assert not _mentions(value, "Stage"), f"{logical_id}.{prop} is named from Stage: {value}"
            refers = isinstance(value, dict) and set(value) <= {"Ref", "Fn::GetAtt"}  # another resource
            assert refers or _mentions(value, "AWS::StackName"), f"{logical_id}.{prop} is not from the stack"
        if resource["Type"] == "AWS::SecretsManager::Secret":
            assert "Name" not in resource["Properties"], logical_id
    tags = [t for r in transformed["Resources"].values() for t in r.get("Properties", {}).get("Tags", [])]
    assert not [t for t in tags if isinstance(t, dict) and _mentions(t.get("Value"), "Stage")]


def test_reserved_concurrency_is_a_parameter_off_by_default(transformed):
    reserved = {
        name: r["Properties"]["ReservedConcurrentExecutions"]
        for name, r in transformed["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and "ReservedConcurrentExecutions" in r["Properties"]
    }
    assert set(reserved) == {"ReaperFunction", "DispatcherFunction", "CleanupFunction"}
    for value in reserved.values():
        assert value == {"Fn::If": ["ReserveConcurrency", 1, {"Ref": "AWS::NoValue"}]}
    assert transformed["Parameters"]["ReserveSingletonConcurrency"]["Default"] == "false"
    assert transformed["Conditions"]["ReserveConcurrency"] == {
        "Fn::Equals": [{"Ref": "ReserveSingletonConcurrency"}, "true"]
    }


def test_every_function_logs_to_a_group_with_retention(transformed):
    resources = transformed["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert {"APIHandler", "MigrateFunction", "ConsoleSetupFunction"} <= set(functions)
    for name, function in functions.items():
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        assert isinstance(group, dict) and "Ref" in group, f"{name} logs to Lambda's default group"
        log_group = resources[group["Ref"]]
        assert log_group["Type"] == "AWS::Logs::LogGroup"
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    worker = resources["WorkerLogGroup"]["Properties"]
    assert worker["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_migration_waits_for_the_network_it_needs_both_ways(transformed):
    """Created after and deleted before the NAT route and the S3 endpoint, so a stack delete
    never leaves the custom resource unable to answer."""
    depends = transformed["Resources"]["DatabaseSchema"]["DependsOn"]
    for needed in (
        "DbInstance",
        "PrivateDefaultRoute",
        "S3GatewayEndpoint",
        "PrivateSubnetBRouteTableAssociation",
    ):
        assert needed in depends


def test_one_nat_by_default_and_one_per_zone_on_request(transformed):
    assert transformed["Parameters"]["NatGateways"]["Default"] == "1"
    resources = transformed["Resources"]
    for name in ("NatGatewayB", "NatEipB", "PublicSubnetB", "PrivateRouteTableB", "PrivateDefaultRouteB"):
        assert resources[name].get("Condition") == "NatPerZone", name
    assert "Condition" not in resources["NatGateway"]
    association = resources["PrivateSubnetBRouteTableAssociation"]["Properties"]["RouteTableId"]
    assert association == {
        "Fn::If": ["NatPerZone", {"Ref": "PrivateRouteTableB"}, {"Ref": "PrivateRouteTable"}]
    }


def test_outputs_name_the_stage_the_api_is_deployed_on(transformed):
    for name in ("EndpointURL", "ApiUrl"):
        value = transformed["Outputs"][name]["Value"]["Fn::Sub"]
        assert value.endswith("/${Stage}/") and "/api/" not in value


def test_nothing_defaults_to_localhost_in_aws(transformed):
    parameters = transformed["Parameters"]
    for name, parameter in parameters.items():
        assert "localhost" not in str(parameter.get("Default", "")) and "127.0.0.1" not in str(
            parameter.get("Default", "")
        ), name
    resources = transformed["Resources"]
    api_env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert "PUBLIC_URL" not in api_env and api_env["PUBLIC_URL_PARAMETER"] == {
        "Fn::Sub": "/${AWS::StackName}/public-url"
    }  # a fixed name, no reference: the distribution depends on the API
    assert resources["PublicUrlParameter"]["Properties"]["Name"] == api_env["PUBLIC_URL_PARAMETER"]
    assert "ConsoleDistribution.DomainName" in json.dumps(
        resources["PublicUrlParameter"]["Properties"]["Value"]
    )
    assert "ConsoleDistribution.DomainName" in json.dumps(
        resources["ConsoleSetup"]["Properties"]["ConsoleOrigin"]
    )


def test_webhook_ports_beyond_443_are_a_parameter(transformed):
    rule = transformed["Resources"]["AppWebhookPortsEgress"]
    assert rule["Condition"] == "HasWebhookPorts"
    assert rule["Properties"]["FromPort"] == {"Ref": "WebhookPortFrom"}
    assert rule["Properties"]["ToPort"] == {"Ref": "WebhookPortTo"}


def test_the_console_bucket_is_emptied_when_the_stack_is_deleted(transformed):
    """CloudFormation deletes only empty buckets: the custom resource (which depends on the
    bucket, so is deleted first) empties it."""
    setup = transformed["Resources"]["ConsoleSetup"]["Properties"]
    assert setup["ConsoleBucket"] == {"Ref": "ConsoleBucket"}
    code = transformed["Resources"]["ConsoleSetupFunction"]["Properties"]["Code"]["ZipFile"]
    compile(code, "console_setup", "exec")
    assert '"Delete"' in code and "delete_objects" in code


def test_the_transformed_template_lints_clean(transformed, tmp_path):
    (tmp_path / "transformed.json").write_text(json.dumps(transformed, indent=1))
    proc = subprocess.run(
        [*_cfn_lint_command(), str(tmp_path / "transformed.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"cfn-lint: exit {proc.returncode}\n{proc.stdout}{proc.stderr}"


def _api_behavior(resources: dict) -> dict:
    behaviors = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"]
    return next(b for b in behaviors if b["PathPattern"] == "/v1/*")


def test_cloudfront_proves_itself_to_the_api_with_the_stacks_generated_secret(transformed):
    """The regional endpoint is no way around CloudFront: the API origin sends X-Origin-Verify from
    a secret the stack generates, and the API (only it) reads that secret to check it."""
    from chalicelib.http import origin

    resources = transformed["Resources"]
    secret = resources["OriginVerifySecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    config = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    api = next(o for o in config["Origins"] if o["Id"] == _api_behavior(resources)["TargetOriginId"])
    assert api["OriginCustomHeaders"] == [
        {
            "HeaderName": origin.ORIGIN_HEADER,
            "HeaderValue": {"Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}"},
        }
    ]
    api_env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_env["ORIGIN_VERIFY_SECRET_ARN"] == {"Ref": "OriginVerifySecret"}
    readable = json.dumps(resources["ApiHandlerRole"]["Properties"]["Policies"])
    assert '{"Ref": "OriginVerifySecret"}' in readable
    users = {"OriginVerifySecret", "APIHandler", "ApiHandlerRole", "ConsoleDistribution"}
    assert "OriginVerifySecret" not in json.dumps({n: r for n, r in resources.items() if n not in users})


def test_cloudfront_forwards_the_viewer_address_and_every_header_the_routes_read(transformed):
    """Per-IP limits key on CloudFront-Viewer-Address; Host stays API Gateway's own; each header a
    route reads (declared in its @doc, or read by the plumbing) reaches the API."""
    from app import app
    from chalicelib.http import origin

    resources = transformed["Resources"]
    behavior = _api_behavior(resources)
    assert behavior["OriginRequestPolicyId"] == {"Ref": "ApiOriginRequestPolicy"}
    policy = resources["ApiOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    assert policy["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    forwarded = {h.lower() for h in policy["HeadersConfig"]["Headers"]}
    cache = resources["ApiCachePolicy"]["Properties"]["CachePolicyConfig"]
    keyed = cache["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"]
    forwarded |= {h.lower() for h in keyed}
    assert origin.VIEWER_HEADER.lower() in forwarded
    assert "host" not in forwarded and origin.ORIGIN_HEADER.lower() not in forwarded
    read = {"authorization", "accept", "content-type"}  # app.caller, the events route, plumbing.parse
    for methods in app.routes.values():
        for entry in methods.values():
            model = getattr(entry.view_function, "__openapi__", {}).get("headers")
            if model is not None:
                read |= {(f.alias or name).lower() for name, f in model.model_fields.items()}
    assert read <= forwarded, f"not forwarded by CloudFront: {sorted(read - forwarded)}"
