"""Who may touch what, read from the source: one module that knows BullMQ, one factory of Redis
connections, statuses compared as enums (job transitions: tests/unit/test_layers.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    [*ROOT.joinpath("chalicelib").rglob("*.py"), *ROOT.joinpath("functions").rglob("*.py"), ROOT / "app.py"]
)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=_name)
def test_only_the_queue_module_knows_bullmq_and_only_the_factory_builds_redis_clients(path):
    imported = _imports(ast.parse(path.read_text()))
    if _name(path) != "chalicelib/infra/queue.py":
        assert not any(m.split(".")[0] == "bullmq" for m in imported), _name(path)
    if _name(path) != "chalicelib/infra/redis_client.py":
        assert not any(m.split(".")[0] == "redis" for m in imported), _name(path)


@pytest.mark.parametrize("path", sorted(ROOT.joinpath("functions").glob("[!_]*.py")), ids=_name)
def test_every_scheduled_function_sets_up_observability_first(path):
    handler = next(
        node
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name == "handler"
    )
    first = handler.body[0]
    assert isinstance(first, ast.Expr) and ast.unparse(first) == "observability.setup()", _name(path)


def _status_words() -> set[str]:
    from chalicelib.infra.queue import QueueState
    from chalicelib.jobs.states import EventType, JobStatus, StepStatus
    from chalicelib.uploads.states import UploadStatus

    return {
        m.value for enum in (JobStatus, StepStatus, EventType, UploadStatus, QueueState) for m in enum
    } - {"expired"}  # (also a verb in names such as "uploads_expired")


def _is_sql_module(path: Path) -> bool:
    return (ast.get_docstring(ast.parse(path.read_text())) or "").startswith("SQL for")


@pytest.mark.parametrize("path", [p for p in SOURCES if not _is_sql_module(p)], ids=_name)
def test_statuses_are_compared_as_enums_not_string_literals(path):
    """Past the data layer (SQL keeps its literals), code compares statuses and event types
    with their enums (chalicelib.http.schemas/, chalicelib.infra.queue), never with a spelled-out string."""
    words = _status_words()
    offenders = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                items = part.elts if isinstance(part, (ast.Tuple, ast.List, ast.Set)) else [part]
                offenders += [
                    f"{_name(path)}:{node.lineno} {item.value!r}"
                    for item in items
                    if isinstance(item, ast.Constant) and item.value in words
                ]
    assert offenders == []
