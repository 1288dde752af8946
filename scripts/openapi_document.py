"""Print the OpenAPI document the API serves (`GET /v1/openapi.json`) as JSON: sorted keys, two
spaces, a trailing newline, so the checked-in copy diffs cleanly. `make web-types` generates the
console's API types from it.

It asks the app itself through Chalice's test client, like a real client would, and touches no
service: building the document needs no database, Redis or AWS. Only `app` is imported, so the
script does not care where chalicelib keeps its modules.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def served_document() -> dict:
    from chalice.test import Client

    from app import app

    with Client(app) as client:
        response = client.http.get("/v1/openapi.json")
    if response.status_code != 200:
        raise SystemExit(f"GET /v1/openapi.json answered {response.status_code}: {response.body[:500]!r}")
    return json.loads(response.body)


def main() -> None:
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the request log line is noise here
    # The app's logs and metrics write to stdout: they go to stderr, stdout is the document's.
    with contextlib.redirect_stdout(sys.stderr):
        document = served_document()
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
