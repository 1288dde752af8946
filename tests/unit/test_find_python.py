"""The bring-up's interpreter (scripts/find_python.sh): the one Python of .python-version, from
$PYTHON, PATH or pyenv, and a clear failure when the machine has none."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "find_python.sh"
WANT = (ROOT / ".python-version").read_text().strip()
TOOLS = ("bash", "tr", "ls", "sort", "dirname")  # what the script calls, and nothing else on PATH


@pytest.fixture
def machine(tmp_path):
    """(bin folder on PATH, pyenv root): an empty machine but for the shell's tools."""
    bin_dir, pyenv = tmp_path / "bin", tmp_path / "pyenv"
    bin_dir.mkdir()
    for tool in TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return bin_dir, pyenv


def _find(machine, **env) -> subprocess.CompletedProcess:
    bin_dir, pyenv = machine
    return subprocess.run(
        [str(bin_dir / "bash"), str(SCRIPT)],
        env={"PATH": str(bin_dir), "PYENV_ROOT": str(pyenv), "HOME": str(pyenv.parent), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _fake_python(path: Path, version: str) -> Path:
    """A stand-in interpreter answering the version check as `version` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    major, minor = version.split(".")
    path.write_text(
        f"#!/bin/sh\nexec \"{sys.executable}\" -c \"import sys; sys.exit('{major}.{minor}' != '{WANT}')\"\n"
    )
    path.chmod(0o755)
    return path


def test_the_version_on_path_is_found(machine):
    found = _fake_python(machine[0] / f"python{WANT}", WANT)
    assert _find(machine).stdout.strip() == str(found)


def test_a_pyenv_build_is_found_when_path_has_none_or_only_a_shim(machine):
    bin_dir, pyenv = machine
    shim = bin_dir / f"python{WANT}"
    shim.write_text("#!/bin/sh\necho 'pyenv: command not found' >&2; exit 127\n")  # another version is active
    shim.chmod(0o755)
    _fake_python(pyenv / "versions" / f"{WANT}.0" / "bin" / "python", WANT)
    newest = _fake_python(pyenv / "versions" / f"{WANT}.10" / "bin" / "python", WANT)
    assert _find(machine).stdout.strip() == str(newest)


def test_python_names_the_interpreter_and_must_be_the_version(machine, tmp_path):
    right = _fake_python(tmp_path / "mine" / "python", WANT)
    assert _find(machine, PYTHON=str(right)).stdout.strip() == str(right)
    wrong = _fake_python(tmp_path / "old" / "python", "3.11")
    proc = _find(machine, PYTHON=str(wrong))
    assert proc.returncode == 1 and f"is not Python {WANT}" in proc.stderr


def test_a_machine_without_it_fails_saying_what_to_install(machine):
    _fake_python(machine[0] / "python3.11", "3.11")
    proc = _find(machine)
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"Python {WANT} is required" in proc.stderr and f"pyenv install {WANT}" in proc.stderr
