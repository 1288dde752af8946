"""Deployed configuration: the AWS client factory follows LocalStack's conventions, and the
database credentials come from a rotating secret (DATABASE_SECRET_ARN) on the emulator."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.infra import aws, db
from tests.conftest import ROOT

_ENDPOINT_PROBE = """
from chalicelib.infra import aws
from chalicelib.core.settings import get_settings
s3 = aws.client("s3")
print(s3.meta.endpoint_url)
print(get_settings().media_bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]])
"""


def test_localstack_conventions_pick_the_endpoint():
    # As inside a LocalStack Lambda: no AWS_ENDPOINT_URL, LOCALSTACK_HOSTNAME and EDGE_PORT set.
    emulator = os.environ["AWS_ENDPOINT_URL"].rsplit(":", 1)
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.update(
        STAGE="dev",
        JWT_SECRET=secrets.token_hex(16),
        PYTHONPATH=str(ROOT),
        LOCALSTACK_HOSTNAME=emulator[0].split("//", 1)[1],
        EDGE_PORT=emulator[1],
    )
    out = subprocess.run(
        [sys.executable, "-c", _ENDPOINT_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [os.environ["AWS_ENDPOINT_URL"], "True"]


def test_no_localstack_outside_the_local_stage_means_aws(monkeypatch):
    monkeypatch.setattr(get_settings(), "aws_endpoint_url", None)
    monkeypatch.delenv("USE_LOCALSTACK", raising=False)
    monkeypatch.delenv("LOCALSTACK_HOSTNAME", raising=False)
    assert aws.endpoint_url("s3") is None


@pytest.fixture
def db_user_and_secret(monkeypatch):
    """A MariaDB user for this session's database and a secret holding its credentials."""
    settings = get_settings()
    database = settings.mysql_params()["database"]
    user, password = f"rot_{secrets.token_hex(4)}", secrets.token_hex(12)
    db.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
    db.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%%'", ())
    sm = aws.client("secretsmanager")
    arn = sm.create_secret(
        Name=f"media-test/{user}", SecretString=json.dumps({"username": user, "password": password})
    )["ARN"]
    # DATABASE_URL's credentials are stale (deploy-time); host, port and database still count.
    monkeypatch.setattr(settings, "database_url", f"mysql://stale:stale@127.0.0.1:3306/{database}")
    monkeypatch.setattr(settings, "database_secret_arn", arn)
    yield user, arn
    monkeypatch.undo()
    db.execute(f"DROP USER IF EXISTS '{user}'@'%%'", ())
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    db._secrets.pop(arn, None)


def _whoami() -> str:
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER() AS me")
            return cur.fetchone()["me"].split("@")[0]
    finally:
        conn.close()


def test_database_credentials_come_from_the_secret_and_follow_rotation(db_user_and_secret):
    user, arn = db_user_and_secret
    assert _whoami() == user

    rotated = secrets.token_hex(12)  # what RDS rotation does: new password in DB and secret
    db.execute(f"ALTER USER '{user}'@'%%' IDENTIFIED BY %s", (rotated,))
    aws.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=json.dumps({"username": user, "password": rotated})
    )

    assert _whoami() == user  # the cached password fails once, the secret is read again
    assert db._secrets[arn]["password"] == rotated
