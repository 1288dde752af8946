"""Cold start of the API: `import app` and its first request, each in a fresh interpreter.

Measured as deployed: our modules compiled first, as the deployment zip ships them
(scripts/package.py; Lambda's code directory is read-only, so nothing compiles them there).

Prints JSON: medians over RUNS interpreters, plus the heaviest imports of one `-X importtime` run
(cumulative microseconds), so a regression points at its module. `make bench NAME=coldstart`.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("RUNS", "9"))
PATH = os.environ.get("COLDSTART_PATH", "/v1/openapi.json")  # no backend needed to answer
# Models are built on first use (chalicelib/core/model_base.py): the document above builds them all, a
# typical request only its own. A login whose body fails validation (422) needs no backend either.
TYPICAL = ("POST", "/v1/auth/login", '{"email": "not-an-address", "password": "x"}')

# One cold start: time `import app`, then the first request through Chalice's test client.
PROBE = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import app
t1, c1 = time.perf_counter(), time.process_time()
from chalice.test import Client
with Client(app.app) as client:
    t2 = time.perf_counter()
    if sys.argv[1] == "typical":
        method, path, body = json.loads(sys.argv[2])
        status = client.http.request(method, path, body=body.encode(),
                                     headers={"content-type": "application/json"}).status_code
    else:
        status = client.http.get(sys.argv[1]).status_code
    t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "import_cpu_ms": (c1 - c0) * 1e3,
                  "first_request_ms": (t3 - t2) * 1e3,
                  "status": status, "modules": len(sys.modules)}))
"""


# The libraries' share: chalice, and pydantic building and using one model (which loads its
# plug-in machinery, importlib.metadata, as ours does). `import app` minus this is our code's.
FLOOR = """
import json, time
t0 = time.perf_counter()
import chalice.app, pydantic
class M(pydantic.BaseModel):
    a: int
M(a=1)
print(json.dumps({"floor_ms": (time.perf_counter() - t0) * 1e3}))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "STAGE": os.environ.get("STAGE", "local")}


def one_run(*request: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *request],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def heaviest_imports(top: int = 12) -> list[dict]:
    """Top-level packages (first import wins the cost of their subtree), by cumulative time."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header line
        name = parts[2].strip()
        if "." not in name and name != "app":
            rows.append({"module": name, "cumulative_ms": round(int(parts[1]) / 1e3, 1)})
    return sorted(rows, key=lambda r: -r["cumulative_ms"])[:top]


def main() -> None:
    for target in ("chalicelib", "functions"):
        compileall.compile_dir(ROOT / target, quiet=1)
    compileall.compile_file(ROOT / "app.py", quiet=1)
    runs = [one_run(PATH) for _ in range(RUNS)]
    typical = [one_run("typical", json.dumps(TYPICAL)) for _ in range(RUNS)]
    floor = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", FLOOR],
                cwd=ROOT,
                env=_env(),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["floor_ms"]
        for _ in range(RUNS)
    ]
    print(
        json.dumps(
            {
                "benchmark": "coldstart",
                "runs": RUNS,
                "path": PATH,
                "import_app_ms_median": round(statistics.median(r["import_ms"] for r in runs), 1),
                "import_app_ms_min": round(min(r["import_ms"] for r in runs), 1),
                "libraries_floor_ms_median": round(statistics.median(floor), 1),
                # CPU time of the import: what wall time is on an idle machine, and steadier when the
                # machine is shared (wall time then includes waiting for a core).
                "import_app_cpu_ms_median": round(statistics.median(r["import_cpu_ms"] for r in runs), 1),
                "first_request_ms_median": round(statistics.median(r["first_request_ms"] for r in runs), 1),
                "first_request_status": runs[0]["status"],
                "typical_request": " ".join(TYPICAL[:2]),
                "typical_first_request_ms_median": round(
                    statistics.median(r["first_request_ms"] for r in typical), 1
                ),
                "typical_first_request_status": typical[0]["status"],
                "modules_loaded": runs[0]["modules"],
                "heaviest_imports": heaviest_imports(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
