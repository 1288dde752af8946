"""The application's database user (issue 10, finding 6) and the settings a deployment must get
right: the app connects with rows-only rights from a secret, migrations run as the master user
at deploy time (functions/migrate.py), and a short JWT secret is refused."""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql
import pytest
from pydantic import ValidationError

from chalicelib.core.settings import Settings, get_settings
from chalicelib.infra import app_user, aws, db, secret_store

DENIED = (1142, 1044, 1227)  # table / database access denied, missing privilege


def _connect(user: str, password: str) -> pymysql.connections.Connection:
    params = get_settings().mysql_params()
    return pymysql.connect(
        host=params["host"],
        port=params["port"],
        user=user,
        password=password,
        database=params["database"],
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture
def app_user_name():
    user = f"app_{secrets.token_hex(4)}"
    yield user
    db.execute("DROP USER IF EXISTS %s@'%%'", (user,))


def test_the_app_user_reads_and_writes_rows_and_nothing_else(app_user_name):
    database = get_settings().mysql_params()["database"]
    password = secrets.token_hex(16)
    with db.transaction() as cur:
        app_user.ensure(cur, app_user_name, password, database)
    conn = _connect(app_user_name, password)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM users")
            cur.execute("UPDATE users SET email = email WHERE id = 'nobody'")
            cur.execute("DELETE FROM audit_log WHERE id = 0")
            for ddl in (
                "CREATE TABLE app_user_probe (id INT)",
                "DROP TABLE users",
                "ALTER TABLE users ADD COLUMN probe INT",
                f"GRANT SELECT ON `{database}`.* TO '{app_user_name}'@'%'",
                "CREATE DATABASE app_user_probe",
            ):
                with pytest.raises(pymysql.err.MySQLError) as denied:
                    cur.execute(ddl)
                assert denied.value.args[0] in DENIED, (ddl, denied.value)
    finally:
        conn.close()


def test_running_it_again_takes_the_secrets_new_password(app_user_name):
    database = get_settings().mysql_params()["database"]
    old, new = secrets.token_hex(16), secrets.token_hex(16)
    with db.transaction() as cur:
        app_user.ensure(cur, app_user_name, old, database)
    with db.transaction() as cur:
        app_user.ensure(cur, app_user_name, new, database)
    _connect(app_user_name, new).close()
    with pytest.raises(pymysql.err.OperationalError):
        _connect(app_user_name, old)


@pytest.mark.parametrize("user,database", [("x'; DROP TABLE users; --", "media"), ("ok", "me`dia")])
def test_names_that_are_not_plain_identifiers_are_refused(user, database):
    with db.transaction() as cur, pytest.raises(ValueError):
        app_user.ensure(cur, user, "pw", database)


class CloudFormation:
    """Where a custom resource reports back (CloudFormation's presigned URL), on loopback."""

    def __init__(self):
        self.replies: list[dict] = []
        cfn = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                cfn.replies.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response"

    def event(self, request_type: str) -> dict:
        return {
            "RequestType": request_type,
            "ResponseURL": self.url,
            "StackId": "stack",
            "RequestId": secrets.token_hex(4),
            "LogicalResourceId": "DatabaseSchema",
        }


@pytest.fixture
def secrets_for_migration(monkeypatch, app_user_name):
    """The master secret (root, locally) as DATABASE_SECRET_ARN and a fresh app user's secret."""
    sm = aws.client("secretsmanager")
    params = get_settings().mysql_params()
    master = sm.create_secret(
        Name=f"test/master-{secrets.token_hex(4)}",
        SecretString=json.dumps({"username": params["user"], "password": params["password"]}),
    )["ARN"]
    app = sm.create_secret(
        Name=f"test/app-{secrets.token_hex(4)}",
        SecretString=json.dumps({"username": app_user_name, "password": secrets.token_hex(16)}),
    )["ARN"]
    monkeypatch.setattr(get_settings(), "database_secret_arn", master)
    monkeypatch.setenv("APP_DATABASE_SECRET_ARN", app)
    cfn = CloudFormation()
    yield cfn, app
    cfn.server.shutdown()
    for arn in (master, app):
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_the_deploy_time_function_migrates_and_creates_the_app_user(secrets_for_migration, app_user_name):
    from functions import migrate

    cfn, app_arn = secrets_for_migration
    migrate.handler(cfn.event("Create"), None)
    (reply,) = cfn.replies
    assert reply["Status"] == "SUCCESS", reply
    assert reply["Data"] == {"Applied": "none", "AppUser": app_user_name}  # the session migrated
    password = json.loads(aws.client("secretsmanager").get_secret_value(SecretId=app_arn)["SecretString"])[
        "password"
    ]
    _connect(app_user_name, password).close()
    migrate.handler(cfn.event("Delete"), None)  # a deleted stack keeps its database and user
    assert cfn.replies[-1]["Status"] == "SUCCESS"
    _connect(app_user_name, password).close()


def test_a_failed_setup_is_reported_to_cloudformation(secrets_for_migration, monkeypatch):
    from functions import migrate

    cfn, _ = secrets_for_migration
    monkeypatch.setenv(
        "APP_DATABASE_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"
    )
    migrate.handler(cfn.event("Update"), None)
    assert cfn.replies[-1]["Status"] == "FAILED" and cfn.replies[-1]["Reason"]


def test_a_database_that_never_answers_fails_the_resource_before_lambdas_timeout(
    secrets_for_migration, monkeypatch
):
    """Killed at its timeout, the function would never answer and the stack would wait an hour."""
    import socket

    from functions import migrate

    cfn, _ = secrets_for_migration
    with socket.socket() as silent:  # the kernel completes the handshake; no server ever greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setattr(
            get_settings(), "database_url", f"mysql://127.0.0.1:{silent.getsockname()[1]}/media"
        )

        class LambdaContext:  # what Lambda passes: the time left (1.5 s past the reply margin)
            def get_remaining_time_in_millis(self) -> int:
                return int((migrate.REPLY_MARGIN_S + 1.5) * 1000)

        migrate.handler(cfn.event("Create"), LambdaContext())
    reply = cfn.replies[-1]
    assert reply["Status"] == "FAILED" and reply["Reason"].startswith("TimeoutError"), reply


# ---- settings a deployment must get right ------------------------------------------------------
def test_a_short_or_local_jwt_secret_is_refused_outside_the_local_stage():
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(stage="prod", jwt_secret="x" * 31)
    with pytest.raises(ValidationError, match="local development value"):
        Settings(stage="prod", jwt_secret="local-development-only-jwt-secret-change-me")
    assert Settings(stage="prod", jwt_secret="x" * 32).jwt_secret.get_secret_value() == "x" * 32
    assert Settings(stage="local", jwt_secret="short").jwt_secret  # only the local stage allows it


def test_a_process_without_the_jwt_secret_starts_but_cannot_issue_tokens(monkeypatch):
    """The worker runs without it; only the API signs and checks tokens."""
    assert Settings(stage="prod").jwt_secret is None
    monkeypatch.setattr(get_settings(), "jwt_secret", None)
    with pytest.raises(RuntimeError, match="JWT_SECRET"):
        secret_store.jwt_secret()
