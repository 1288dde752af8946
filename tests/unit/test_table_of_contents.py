"""The maps a newcomer reads first stay true: app.py's docstring names only code that exists, and
the README's layout table has a line for every folder of the tree."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = sorted(p.name for p in (ROOT / "chalicelib").iterdir() if (p / "__init__.py").is_file())
# `jobs.lifecycle.cancel`, `chalicelib.infra.queue`, `Context.should_stop` after a module...
_NAME = re.compile(rf"\b(?:chalicelib\.)?((?:{'|'.join(DOMAINS)})(?:\.[A-Za-z_]\w*)+)")


def _docstring_names() -> list[str]:
    doc = ast.get_docstring(ast.parse((ROOT / "app.py").read_text())) or ""
    return sorted({m.group(1) for m in _NAME.finditer(doc)})


def _resolve(dotted: str) -> object:
    """The module (the longest importable prefix) and the attributes after it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module("chalicelib." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


def test_the_docstring_names_code_of_every_domain():
    assert len(_docstring_names()) > 20


@pytest.mark.parametrize("name", _docstring_names())
def test_each_name_in_the_apps_docstring_exists(name):
    _resolve(name)


def _layout_rows() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", table, re.M)


def _folders() -> list[str]:
    skip = {"node_modules", "out", "vendor", "__pycache__"}
    top = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in skip]
    return sorted([f"{p.name}/" for p in top] + [f"chalicelib/{d}/" for d in DOMAINS])


@pytest.mark.parametrize("folder", _folders())
def test_the_readme_layout_has_a_line_for_each_folder(folder):
    rows = _layout_rows()
    assert len(rows) == len(set(rows)), "a folder listed twice"
    if folder == "chalicelib/":  # its packages have a line each
        return
    assert any(row == folder or row.startswith(folder) for row in rows), f"add {folder} to README's layout"
