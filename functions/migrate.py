"""Deploy-time database setup: the migrations, then the application's least-privileged user.

CloudFormation runs it as a custom resource (`DatabaseSchema` in template.yaml) on every
deployment that changes the code; by hand: `python -m functions.migrate`. It connects as the
master user (DATABASE_SECRET_ARN here is the RDS-managed master secret) and takes the app user's
name and password from APP_DATABASE_SECRET_ARN (see chalicelib/infra/app_user.py).
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from urllib.parse import urlparse

from chalicelib.core import observability
from chalicelib.core.settings import get_settings
from chalicelib.infra import app_user, db
from chalicelib.infra.migrate import migrate

log = logging.getLogger(__name__)
PHYSICAL_ID = "media-database-schema"
# Answer CloudFormation this long before Lambda's timeout: a function killed mid-run never
# answers, and the stack then waits an hour for the custom resource.
REPLY_MARGIN_S = 20


def run() -> dict[str, str]:
    applied = migrate()
    arn = os.environ.get("APP_DATABASE_SECRET_ARN")
    user = ""
    if arn:
        credentials = db.secret_credentials(arn, refresh=True)
        user = credentials["user"]
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                app_user.ensure(cur, user, credentials["password"], get_settings().mysql_params()["database"])
        finally:
            conn.close()
    return {"Applied": ",".join(applied) or "none", "AppUser": user}


def _respond(event: dict, status: str, reason: str, data: dict[str, str]) -> None:
    """Tell CloudFormation how it went (a PUT to the presigned S3 URL it sent)."""
    url = event["ResponseURL"]
    scheme = urlparse(url).scheme
    if scheme != "https" and not (scheme == "http" and get_settings().stage == "local"):
        raise ValueError("ResponseURL must be https")
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:500],
            "PhysicalResourceId": PHYSICAL_ID,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    # The scheme was checked just above (https, or loopback http in the local stage).
    with urllib.request.urlopen(request, timeout=30) as reply:  # nosec B310
        reply.read()


def handler(event, context):
    observability.setup()
    if "RequestType" not in event:  # invoked directly
        return run()
    status, reason, data = "SUCCESS", "", {}
    try:
        if event["RequestType"] != "Delete":  # a deleted stack keeps its database
            data = _run_within(_seconds_left(context) - REPLY_MARGIN_S)
    except Exception as exc:
        log.exception("database setup failed")
        status, reason = "FAILED", f"{type(exc).__name__}; see the function's log"
    try:
        _respond(event, status, reason, data)
    except Exception:
        # Nothing else can tell CloudFormation; the log says why it is waiting.
        log.exception("could not answer CloudFormation at its ResponseURL")
        raise
    return {"Status": status, **data}


def _seconds_left(context) -> float:
    """Lambda's remaining time (no context, e.g. by hand: no limit)."""
    return context.get_remaining_time_in_millis() / 1000 if context is not None else float("inf")


def _run_within(seconds: float) -> dict[str, str]:
    """run(), or TimeoutError when it has not finished within `seconds` (a database that never
    answers): the stack then fails with a reason instead of waiting for the custom resource."""
    if seconds == float("inf"):
        return run()
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(run).result(timeout=max(1.0, seconds))
    except concurrent.futures.TimeoutError:
        raise TimeoutError(f"database setup did not finish within {seconds:.0f} s") from None
    finally:
        pool.shutdown(wait=False)


if __name__ == "__main__":
    print(run())
