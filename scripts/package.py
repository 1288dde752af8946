"""`make package`: the deployable SAM package in out/package (sam.yaml + deployment.zip).

`chalice package --merge-template template.yaml` builds deployment.zip from app.py, chalicelib/,
vendor/ and the dependencies only, and merges our resources into its template (sam.yaml, YAML
because the merged template is; long-form intrinsics, so plain YAML). Two things then
have to be fixed for the scheduled functions: functions/ is not in the zip, and the template's
global `CodeUri: .` would resolve relative to out/package. `finish` adds functions/ to the zip and
points the global CodeUri at it, so every Lambda deploys from the one zip.

It also ships the zip compiled: Lambda's code directory is read-only, so Python cannot cache
bytecode there and would compile every module it imports from source on every cold start (about
60 ms for our own modules alone, bench/coldstart.py). `finish` adds a `__pycache__` pyc beside each
module, hash-based and unchecked (the zip never changes after this), for the runtime's Python.
Then it checks the zip (scripts/artifact_checks.py: size, wheels, shared objects) and fails on a problem.
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import artifact_checks  # noqa: E402  (scripts/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
ZIP_NAME = "deployment.zip"
# .python-version, template.yaml's Runtime: the pyc files (and the wheels Chalice picks) are for it only
LAMBDA_PYTHON = tuple(int(part) for part in (ROOT / ".python-version").read_text().strip().split("."))


def finish(out_dir: Path) -> list[str]:
    """Add functions/*.py to the zip and set Globals.Function.CodeUri; returns what it added."""
    added = []
    with zipfile.ZipFile(out_dir / ZIP_NAME, "a", zipfile.ZIP_DEFLATED) as zf:
        present = set(zf.namelist())
        for path in sorted((ROOT / "functions").glob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name not in present:
                zf.write(path, name)
                added.append(name)
    added += _add_bytecode(out_dir / ZIP_NAME)
    sam_path = next(p for p in (out_dir / "sam.yaml", out_dir / "sam.json") if p.exists())
    sam = yaml.safe_load(sam_path.read_text())  # JSON is YAML too
    sam.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = f"./{ZIP_NAME}"
    sam_path.write_text(
        json.dumps(sam, indent=2) + "\n"
        if sam_path.suffix == ".json"
        else yaml.safe_dump(sam, sort_keys=False, width=120)
    )
    return added


def _add_bytecode(zip_path: Path) -> list[str]:
    """A hash-based pyc for every module in the zip; returns their names. Pyc files already in it
    (Chalice copies chalicelib/ whole, `__pycache__` included) are dropped: theirs check the
    source's modification time, which a zip keeps only to two seconds, so they never match."""
    if sys.version_info[:2] != LAMBDA_PYTHON:
        raise SystemExit(f"package with Python {LAMBDA_PYTHON[0]}.{LAMBDA_PYTHON[1]}: the Lambda runtime's")
    rebuilt = zip_path.with_name(zip_path.name + ".partial")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp, [i for i in zf.infolist() if i.filename.endswith(".py")])
        compileall.compile_dir(
            tmp,
            quiet=2,  # a file that is not valid Python (a template, a test fixture) stays source
            stripdir=tmp,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        added = []
        with zipfile.ZipFile(zip_path) as old, zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as new:
            for info in old.infolist():  # as they were (permissions, compression), but the pyc files
                if not info.filename.endswith(".pyc"):
                    new.writestr(info, old.read(info))
            for pyc in sorted(Path(tmp).rglob("*.pyc")):
                name = pyc.relative_to(tmp).as_posix()
                new.write(pyc, name)
                added.append(name)
    rebuilt.replace(zip_path)
    return added


def main(out_dir: str = "out/package") -> None:
    chalice = Path(sys.executable).with_name("chalice")
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION")
        or os.environ.get("AWS_REGION")
        or "us-east-1",
    }
    subprocess.run(
        [
            str(chalice),
            "package",
            "--pkg-format",
            "cloudformation",
            "--merge-template",
            "template.yaml",
            out_dir,
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    added = finish(ROOT / out_dir)
    report = artifact_checks.check_zip(str(ROOT / out_dir / ZIP_NAME))
    print(f"{out_dir}/{ZIP_NAME}: {report.summary()}")
    if report.problems:
        raise SystemExit("the package would not run on Lambda:\n  " + "\n  ".join(report.problems))
    print(
        f"{out_dir}: sam.yaml + {ZIP_NAME} (added {len(added)} files: functions/ and compiled modules); "
        "deploy with "
        f"`sam deploy --template-file {out_dir}/sam.yaml --guided --capabilities CAPABILITY_IAM`"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
