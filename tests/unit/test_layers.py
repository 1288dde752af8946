"""The tree's rules, read from the source: imports point down the layers, settings are a leaf,
only lifecycle reaches the job transitions, only the jobs modules write job rows, and package
`__init__` files stay empty (cold start). A new module that breaks one fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
MODULES = sorted(CHALICELIB.rglob("*.py"))
ENTRY_POINTS = [ROOT / "app.py", *sorted((ROOT / "functions").glob("*.py"))]

# Lower layers never import higher ones. http/schemas are the domains' wire shapes (layer 3);
# the http plumbing, OpenAPI and SSE sit under the domains that reply through them.
LAYER = {"core": 0, "infra": 1, "http": 2, "accounts": 3, "billing": 3, "uploads": 3, "webhooks": 3}
LAYER |= {"http.schemas": 3, "jobs": 4, "pipeline": 5, "runtime": 6, "admin": 7}
# Leaves any layer may import: vocabularies, the pipeline's catalog and its storyboard (a job's
# scenes, as the API checks and estimates them); no media code (test_leaves_stay_leaves).
LEAVES = {
    "chalicelib.jobs.states",
    "chalicelib.uploads.states",
    "chalicelib.pipeline.registry",
    "chalicelib.pipeline.providers",
    "chalicelib.pipeline.concept.storyboard",
    "chalicelib.pipeline.concept.script",
}
# The imports that still point up, each with its reason. Shrink this; never grow it silently.
UPWARD = {
    ("chalicelib.accounts.service", "chalicelib.jobs.repository"),  # `me` counts running jobs
    ("chalicelib.jobs.service", "chalicelib.runtime.dispatcher"),  # a submission nudges the dispatcher
}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _layer(module: str) -> float | None:
    if module in LEAVES:
        return 0.5
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "chalicelib":
        return None
    return LAYER.get(".".join(parts[1:3]), LAYER.get(parts[1]))


def _imports(path: Path, top_level_only: bool = False) -> list[str]:
    """The chalicelib modules `path` imports (`from pkg import module` names the module)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chalicelib"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                is_module = (ROOT / f"{full.replace('.', '/')}.py").exists()
                found.append(full if is_module else node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("chalicelib")]
    return found


def _upward() -> set[tuple[str, str]]:
    pairs = set()
    for path in MODULES:
        me = _module(path)
        for target in _imports(path):
            low, high = _layer(me), _layer(target)
            if (
                low is not None
                and high is not None
                and high > low
                and me.split(".")[1] != target.split(".")[1]
            ):
                pairs.add((me, target))
    return pairs


def test_imports_point_down_the_layers_but_for_the_known_few():
    assert _upward() == UPWARD


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_stay_leaves(leaf):
    """A leaf imports only the core and other leaves, so importing it drags no layer along."""
    path = ROOT / f"{leaf.replace('.', '/')}.py"
    assert {m for m in _imports(path) if m not in LEAVES and not m.startswith("chalicelib.core")} == set()


def test_no_module_level_import_circle():
    graph = {_module(p): set(_imports(p, top_level_only=True)) for p in MODULES}

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            raise AssertionError(" -> ".join([*trail[trail.index(node) :], node]))
        for nxt in graph.get(node, ()):
            visit(nxt, [*trail, node])

    for module in graph:
        visit(module, [])


def test_settings_are_a_leaf():
    assert set(_imports(CHALICELIB / "core" / "settings.py")) <= {"chalicelib.core.model_base"}


@pytest.mark.parametrize("path", [*MODULES, *ENTRY_POINTS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_lifecycle_imports_the_job_transitions(path):
    if _module(path) in ("chalicelib.jobs.lifecycle", "chalicelib.jobs.transitions"):
        return
    assert "chalicelib.jobs.transitions" not in _imports(path)


_WRITES_JOBS = re.compile(
    r"\b(UPDATE|INSERT\s+(IGNORE\s+)?INTO|DELETE\s+(\w+(\s*,\s*\w+)*\s+)?FROM|REPLACE\s+INTO)"
    r"\s+`?(jobs|job_steps|job_step_runs)\b",
    re.I,
)


@pytest.mark.parametrize(
    "sql, writes",
    [
        ("UPDATE jobs SET status = %s WHERE id = %s", True),
        ("update `job_steps` set progress = %s", True),
        ("INSERT IGNORE INTO job_step_runs (job_id) VALUES (%s)", True),
        ("DELETE j FROM jobs j JOIN users u ON u.id = j.user_id", True),
        ("REPLACE INTO jobs (id) VALUES (%s)", True),
        ("SELECT id FROM jobs WHERE user_id = %s", False),
        ("UPDATE quota_usage SET used = used - 1 WHERE user_id = %s", False),
        ("DELETE FROM jobs_archive WHERE id = %s", False),
    ],
)
def test_the_job_rows_check_sees_every_kind_of_write(sql, writes):
    assert bool(_WRITES_JOBS.search(sql)) is writes


@pytest.mark.parametrize("path", [*MODULES, *ENTRY_POINTS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_only_the_jobs_repository_writes_job_rows(path):
    if _module(path) in ("chalicelib.jobs.repository", "chalicelib.jobs.transitions"):
        return
    strings = [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)]
    assert not [s for s in strings if isinstance(s, str) and _WRITES_JOBS.search(s)]


@pytest.mark.parametrize("path", sorted(CHALICELIB.glob("**/__init__.py")), ids=lambda p: p.parent.name)
def test_package_init_files_are_empty(path):
    assert path.read_text() == ""


def test_each_domain_checks_its_own_settings():
    from chalicelib.billing import plans
    from chalicelib.core.settings import Settings
    from chalicelib.pipeline import providers

    with pytest.raises(ValueError, match="unknown plan names"):
        plans._table_for(Settings(plans={"gold": {"monthly_jobs": 1}}))
    with pytest.raises(ValueError, match="unknown plan names"):
        plans._table_for(Settings(whop_plan_map={"plan_x": "platinum"}))
    assert plans._table_for(Settings(plans={"free": {"monthly_jobs": 7}}))["free"].monthly_jobs == 7
    with pytest.raises(ValueError, match="unknown PIPELINE"):
        providers.check_settings(Settings(pipeline="nope"))
    with pytest.raises(ValueError, match="PIPELINE_COMMAND"):
        providers.check_settings(Settings(pipeline="command"))
    with pytest.raises(ValueError, match="unknown DEFAULT_PROVIDERS"):
        providers.check_settings(Settings(default_providers={"image": "nope"}))
    providers.check_settings(Settings())
