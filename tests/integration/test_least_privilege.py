"""Least privilege in template.yaml (issue 10): each function's role covers every AWS call its
code can make, and no more than the split between API and worker allows.

The calls are found statically: every AWS call goes through `aws.client("service")`, so a call
graph over the repository's own functions, from each entry point, collects the operations that
entry point can reach. Uses only the repository's files (no network, no AWS).
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path

import pytest

from tests.integration.test_deploy import _load_template

ROOT = Path(__file__).resolve().parents[2]

# The code's boto3 methods that are not named after their API operation, as IAM actions.
SPECIAL_ACTIONS = {
    ("s3", "upload_file"): {"s3:PutObject"},
    ("s3", "download_file"): {"s3:GetObject"},
    ("s3", "generate_presigned_post"): {"s3:PutObject"},  # the browser uploads with our rights
    ("s3", "generate_presigned_url"): {"s3:GetObject"},
    ("s3", "head_object"): {"s3:GetObject"},
    ("s3", "head_bucket"): {"s3:ListBucket"},
    ("s3", "list_objects_v2"): {"s3:ListBucket"},
    ("s3", "copy_object"): {"s3:GetObject", "s3:PutObject"},
    ("s3", "delete_objects"): {"s3:DeleteObject"},
    ("lambda", "invoke"): {"lambda:InvokeFunction"},
}
NOT_CALLS = {"get_paginator", "meta", "exceptions", "can_paginate", "close"}

# Where the static graph sees a branch AWS never takes, and why.
EXEMPT = {
    ("APIHandler", "ecs"): "dispatcher.nudge() invokes the dispatcher Lambda in AWS "
    "(DISPATCHER_FUNCTION is set); dispatch() in-process is the local branch",
}


def _module_path(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


class Module:
    """One of our modules: its functions (with what each references and calls on AWS)."""

    def __init__(self, name: str):
        self.name = name
        self.tree = ast.parse(_module_path(name).read_text())
        self.aliases: dict[str, str] = {}  # local name -> "module" or "module.attr"
        for node in ast.walk(self.tree):  # lazy imports inside functions count too
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.aliases[a.asname or a.name.split(".")[0]] = (
                        a.name if a.asname else a.name.split(".")[0]
                    )
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        self.units: dict[str, list[ast.AST]] = {"<module>": []}
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.units[node.name] = [node]
            else:
                self.units["<module>"].append(node)
        self.factories = {
            name: svc for name, nodes in self.units.items() for svc in [self._returned_client(nodes)] if svc
        }

    def _client_service(self, node: ast.AST) -> str | None:
        """ "s3" for `aws.client("s3")`, `client("s3")` or a local factory call like `_ecs()`."""
        if not isinstance(node, ast.Call):
            return None
        func = node.func
        target = self.resolve(func)
        if target == "chalicelib.infra.aws.client" and node.args and isinstance(node.args[0], ast.Constant):
            return node.args[0].value
        if isinstance(func, ast.Name) and func.id in getattr(self, "factories", {}):
            return self.factories[func.id]
        return None

    def _returned_client(self, nodes: list[ast.AST]) -> str | None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Return) and self._client_service(sub.value):
                        return self._client_service(sub.value)
        return None

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name a Name or Attribute refers to, when it is one of our modules' names."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in self.units:
                return f"{self.name}.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def scan(self, unit: str) -> tuple[set[tuple[str, str]], set[str]]:
        """(AWS (service, method) pairs, dotted names referenced) of one function or class."""
        calls: set[tuple[str, str]] = set()
        refs: set[str] = set()
        for top in self.units[unit]:
            bound: dict[str, str] = {}  # variables holding a client
            for node in ast.walk(top):
                if isinstance(node, ast.Assign):
                    values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                    targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
                    for target, value in zip(targets, values):
                        if isinstance(target, ast.Name) and self._client_service(value):
                            bound[target.id] = self._client_service(value)
            for node in ast.walk(top):
                if isinstance(node, ast.Attribute):
                    service = self._client_service(node.value) or (
                        bound.get(node.value.id) if isinstance(node.value, ast.Name) else None
                    )
                    if service:
                        calls.add((service, node.attr))
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "get_paginator"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    service = self._client_service(node.func.value) or (
                        bound.get(node.func.value.id) if isinstance(node.func.value, ast.Name) else None
                    )
                    if service:
                        calls.add((service, node.args[0].value))
                if isinstance(node, (ast.Name, ast.Attribute)):
                    name = self.resolve(node)
                    if name and name.split(".")[0] in ("chalicelib", "functions", "app"):
                        refs.add(name)
        return calls, refs


@cache
def _module(name: str) -> Module | None:
    return Module(name) if _module_path(name) else None


def _unit_of(dotted: str) -> tuple[Module, str] | None:
    """The module and function/class a dotted reference lands on (a whole module: its body)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = _module(".".join(parts[:cut]))
        if module:
            rest = parts[cut:]
            return module, rest[0] if rest and rest[0] in module.units else "<module>"
    return None


# Calls the source makes by name at run time: the engine runs the pipelines the registry names
# ("chalicelib.pipeline.pipelines:STEPS"), so the graph follows them from where they are run.
DYNAMIC_EDGES = {
    "chalicelib.pipeline.engine": [
        "chalicelib.pipeline.pipelines.STEPS",
        "chalicelib.pipeline.pipelines.COMMAND_STEPS",
    ],
}


def reachable_aws_calls(entry: str) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    todo = [entry]
    whole = _module(entry)
    if whole:  # an entry module (app.py): every function in it is a way in
        todo += [f"{entry}.{unit}" for unit in whole.units if unit != "<module>"]
    calls: set[tuple[str, str]] = set()
    while todo:
        found = _unit_of(todo.pop())
        if not found or (found[0].name, found[1]) in seen:
            continue
        module, unit = found
        seen.add((module.name, unit))
        todo.extend(DYNAMIC_EDGES.get(module.name, ()))
        units = [unit] if unit == "<module>" else [unit, "<module>"]
        for u in units:
            if (module.name, u) in seen and u != unit:
                continue
            seen.add((module.name, u))
            unit_calls, refs = module.scan(u)
            calls |= unit_calls
            todo.extend(refs)
    return {c for c in calls if c[1] not in NOT_CALLS}


@cache
def _operation_names(service: str) -> dict[str, str]:
    """boto3 method name -> API operation name, from botocore's service model."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def iam_actions(calls: set[tuple[str, str]]) -> set[str]:
    actions = set()
    for service, method in calls:
        if (service, method) in SPECIAL_ACTIONS:
            actions |= SPECIAL_ACTIONS[(service, method)]
        else:
            operation = _operation_names(service).get(method)
            assert operation, f"{service}.{method} is not an AWS operation"
            actions.add(f"{service}:{operation}")
    return actions


# ---- the template's side ----------------------------------------------------------------------
def _statements(policies) -> list[dict]:
    found = []
    for policy in policies or []:
        document = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else {}
        found.extend(s for s in document.get("Statement", []) if s.get("Effect") == "Allow")
    return found


def role_statements(resource: str) -> list[dict]:
    resources = _load_template()["Resources"]
    props = resources[resource]["Properties"]
    if resource == "WorkerTaskDefinition":
        return _statements(resources["WorkerTaskRole"]["Properties"]["Policies"])
    if "Role" in props:
        return _statements(resources[props["Role"]["Fn::GetAtt"][0]]["Properties"]["Policies"])
    return _statements(props.get("Policies"))


def allowed_actions(resource: str) -> set[str]:
    actions = set()
    for statement in role_statements(resource):
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


def environment(resource: str) -> dict:
    template = _load_template()
    props = template["Resources"][resource]["Properties"]
    if resource == "WorkerTaskDefinition":
        return {e["Name"]: e["Value"] for e in props["ContainerDefinitions"][0]["Environment"]}
    return {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **props.get("Environment", {}).get("Variables", {}),
    }


ENTRY_POINTS = {
    "APIHandler": "app",
    "ReaperFunction": "functions.reaper.handler",
    "DispatcherFunction": "functions.dispatcher.handler",
    "CleanupFunction": "functions.cleanup.handler",
    "MigrateFunction": "functions.migrate.handler",
    "WorkerTaskDefinition": "chalicelib.runtime.worker.main",
}


@pytest.mark.parametrize("resource", sorted(ENTRY_POINTS))
def test_each_role_covers_the_aws_calls_its_code_makes(resource):
    calls = {c for c in reachable_aws_calls(ENTRY_POINTS[resource]) if (resource, c[0]) not in EXEMPT}
    missing = iam_actions(calls) - allowed_actions(resource)
    assert not missing, f"{resource}'s role lacks {sorted(missing)} (its code calls them)"


def test_the_analysis_sees_the_calls_we_know_about():
    """Guards the analysis itself: a graph that found nothing would pass the test above."""
    assert {"s3:PutObject", "kms:Decrypt", "secretsmanager:GetSecretValue"} <= iam_actions(
        reachable_aws_calls("chalicelib.runtime.worker.main")
    )
    assert {"kms:GenerateDataKey", "ses:SendEmail", "s3:GetObject"} <= iam_actions(reachable_aws_calls("app"))
    cleanup = iam_actions(reachable_aws_calls("functions.cleanup.handler"))
    assert {"s3:ListBucket", "s3:DeleteObject", "secretsmanager:GetSecretValue"} <= cleanup
    assert "s3:PutObject" not in cleanup  # function-level, not module-level, reachability


@pytest.mark.parametrize("resource", sorted(ENTRY_POINTS))
def test_every_function_that_uses_the_database_may_read_its_secret(resource):
    """The cleanup function once could not, so retention was never enforced in AWS."""
    if ("secretsmanager", "get_secret_value") not in reachable_aws_calls(ENTRY_POINTS[resource]):
        assert "secretsmanager:GetSecretValue" not in allowed_actions(resource)  # e.g. the dispatcher
        return
    secret = environment(resource).get("DATABASE_SECRET_ARN")
    assert secret, f"{resource} has no DATABASE_SECRET_ARN"
    readable = [
        s["Resource"]
        for s in role_statements(resource)
        if "secretsmanager:GetSecretValue" in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    flat = [r for res in readable for r in (res if isinstance(res, list) else [res])]
    assert secret in flat, f"{resource} cannot read {secret}"


def test_api_only_seals_and_the_worker_only_opens_provider_keys():
    api, worker = allowed_actions("APIHandler"), allowed_actions("WorkerTaskDefinition")
    assert {a for a in api if a.startswith("kms:")} <= {"kms:GenerateDataKey", "kms:Encrypt"}
    assert {a for a in worker if a.startswith("kms:")} == {"kms:Decrypt"}


def test_only_the_api_gets_the_jwt_secret():
    template = _load_template()
    resources = template["Resources"]
    worker = resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert "JWT_SECRET" not in {s["Name"] for s in worker.get("Secrets", [])}
    assert "JWT_SECRET_ARN" not in environment("WorkerTaskDefinition")
    for resource in ENTRY_POINTS:
        if resource != "APIHandler":
            assert "JWT_SECRET_ARN" not in environment(resource), resource
    assert environment("APIHandler")["JWT_SECRET_ARN"] == {"Ref": "JwtSecret"}


def test_no_database_password_in_any_environment():
    """Only the secret's ARN travels; user and password are read from it at run time."""
    template = _load_template()
    resolved = [n for n, r in template["Resources"].items() if "resolve:secretsmanager" in json.dumps(r)]
    assert resolved == ["ConsoleDistribution"]  # CloudFront's origin header, in no environment
    assert "resolve:secretsmanager" not in json.dumps(template["Globals"])
    for resource in ENTRY_POINTS:
        url = environment(resource)["DATABASE_URL"]
        rendered = url.get("Fn::Sub") if isinstance(url, dict) else url
        assert "@" not in str(rendered), f"{resource}: DATABASE_URL carries credentials: {rendered}"


def test_the_app_reads_the_app_user_secret_and_migrations_the_master_one():
    app_secret = {"Ref": "AppDatabaseSecret"}
    for resource in ENTRY_POINTS:
        if resource != "MigrateFunction":
            assert environment(resource)["DATABASE_SECRET_ARN"] == app_secret, resource
    migrate = environment("MigrateFunction")
    assert migrate["DATABASE_SECRET_ARN"] == {"Fn::GetAtt": ["DbCluster", "MasterUserSecret.SecretArn"]}
    assert migrate["APP_DATABASE_SECRET_ARN"] == app_secret


def test_only_the_worker_reads_the_platform_accounts_and_only_under_the_stacks_prefix():
    """The operator's provider keys (platform AI): the worker reads secrets under its
    PLATFORM_SECRET_PREFIX and nothing else new; the API knows which providers, not the keys."""
    worker = environment("WorkerTaskDefinition")
    assert worker["PLATFORM_SECRET_PREFIX"] == {"Fn::Sub": "${AWS::StackName}/platform/"}
    assert worker["PLATFORM_PROVIDERS"] == environment("APIHandler")["PLATFORM_PROVIDERS"]
    assert "PlatformProviders" in json.dumps(worker["PLATFORM_PROVIDERS"])
    assert _load_template()["Parameters"]["PlatformProviders"]["Default"] == ""
    prefix_arn = (
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
        "${AWS::StackName}/platform/*"
    )
    for resource in ENTRY_POINTS:
        readable = [
            json.dumps(s["Resource"])
            for s in role_statements(resource)
            if "secretsmanager:GetSecretValue"
            in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        ]
        platform = [r for r in readable if "/platform/" in r]
        if resource == "WorkerTaskDefinition":
            assert platform == [json.dumps({"Fn::Sub": prefix_arn})]
        else:
            assert platform == [], f"{resource} may read the platform's keys"
            assert "PLATFORM_SECRET_PREFIX" not in environment(resource), resource
