"""Create the local AWS resources the app expects: media bucket, KMS key, JWT secret, and the
SES sender identity (MAIL_FROM) the verification and reset emails come from.

Runs unchanged in two places:
  * inside LocalStack (ready.d hook): LocalStack exec()s this file in its own Python process, with an
    empty globals dict (no __name__, no __file__), so there is no `if __name__ == "__main__"` guard
    and no sys.exit(): failures raise, and LocalStack logs the script as ERROR;
  * from our bring-up, as `python 10_resources.py` against the moto server (or LocalStack) on
    AWS_ENDPOINT_URL; a failure exits non-zero with a traceback.

Idempotent: every resource is looked up first; bucket CORS and lifecycle are (re)applied each run
because those PUTs replace the whole configuration. Only stdlib + boto3.
"""

import json
import os
import secrets
import time

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL") or "http://localhost:4566"
REGION = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
BUCKET = os.environ.get("MEDIA_BUCKET") or "media-local"
# Locally the console is served by the API on any port (API_PORT): every loopback origin.
ALLOWED_ORIGINS = os.environ.get("ALLOWED_ORIGINS") or "http://localhost:*,http://127.0.0.1:*"
KMS_ALIAS = "alias/media-provider-keys"
JWT_SECRET_NAME = "media/jwt-secret"
MAIL_FROM = os.environ.get("MAIL_FROM") or "no-reply@media-orchestrator.local"


def _client(service):
    # Emulators accept any credentials; LocalStack's own process may have none configured.
    return boto3.session.Session().client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
    )


def _error_code(exc):
    return exc.response.get("Error", {}).get("Code", "")


def _wait_for_endpoint(s3, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            s3.list_buckets()
            return
        except EndpointConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def ensure_bucket(s3):
    try:
        s3.head_bucket(Bucket=BUCKET)
        state = "exists"
    except ClientError as exc:
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs = {"Bucket": BUCKET}
        if REGION != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": REGION}
        s3.create_bucket(**kwargs)
        state = "created"

    origins = [o.strip() for o in ALLOWED_ORIGINS.split(",") if o.strip()]
    s3.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": origins,
                    "AllowedMethods": ["GET", "POST", "PUT", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort-incomplete-multipart-uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    print(f"s3 bucket {BUCKET}: {state} (cors {','.join(origins)}; lifecycle applied)", flush=True)


def ensure_kms_key(kms):
    try:
        key = kms.describe_key(KeyId=KMS_ALIAS)["KeyMetadata"]
    except ClientError as exc:
        if _error_code(exc) != "NotFoundException":
            raise
        key = kms.create_key(
            Description="media-orchestrator: envelope encryption of provider keys (local)",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
        )["KeyMetadata"]
        kms.create_alias(AliasName=KMS_ALIAS, TargetKeyId=key["KeyId"])
        print(f"kms key {KMS_ALIAS}: created ({key['KeyId']})", flush=True)
        return
    if key.get("KeyState") == "PendingDeletion":
        kms.cancel_key_deletion(KeyId=key["KeyId"])
        kms.enable_key(KeyId=key["KeyId"])
        print(f"kms key {KMS_ALIAS}: exists ({key['KeyId']}; deletion canceled)", flush=True)
        return
    print(f"kms key {KMS_ALIAS}: exists ({key['KeyId']})", flush=True)


def ensure_jwt_secret(sm):
    try:
        meta = sm.describe_secret(SecretId=JWT_SECRET_NAME)
    except ClientError as exc:
        if _error_code(exc) != "ResourceNotFoundException":
            raise
        sm.create_secret(
            Name=JWT_SECRET_NAME,
            Description="media-orchestrator: JWT signing key (local)",
            SecretString=secrets.token_urlsafe(48),
        )
        print(f"secret {JWT_SECRET_NAME}: created", flush=True)
        return
    if meta.get("DeletedDate"):
        sm.restore_secret(SecretId=JWT_SECRET_NAME)
        print(f"secret {JWT_SECRET_NAME}: exists (restored from scheduled deletion)", flush=True)
        return
    print(f"secret {JWT_SECRET_NAME}: exists", flush=True)


PLATFORM_PREFIX = os.environ.get("PLATFORM_SECRET_PREFIX") or "media-orchestrator/platform/"


def ensure_platform_accounts(sm):
    """The operator's provider accounts (platform AI), from PLATFORM_<PROVIDER>_API_KEY and
    _BASE_URL when given: one secret per provider, {"api_key", "base_url"}, updated in place."""
    for name, value in sorted(os.environ.items()):
        if not (name.startswith("PLATFORM_") and name.endswith("_API_KEY")) or not value:
            continue
        provider = name[len("PLATFORM_") : -len("_API_KEY")].lower()
        body = {"api_key": value, "base_url": os.environ.get(f"PLATFORM_{provider.upper()}_BASE_URL") or None}
        secret = PLATFORM_PREFIX + provider
        try:
            sm.put_secret_value(SecretId=secret, SecretString=json.dumps(body))
            print(f"secret {secret}: updated", flush=True)
        except ClientError as exc:
            if _error_code(exc) != "ResourceNotFoundException":
                raise
            sm.create_secret(
                Name=secret,
                Description=f"media-orchestrator: platform {provider} account",
                SecretString=json.dumps(body),
            )
            print(f"secret {secret}: created", flush=True)


def ensure_ses_identity(ses):
    # Emulators verify at once; in AWS the address (or its domain) must be verified by its owner.
    if MAIL_FROM in ses.list_identities(IdentityType="EmailAddress")["Identities"]:
        print(f"ses identity {MAIL_FROM}: exists", flush=True)
        return
    ses.verify_email_identity(EmailAddress=MAIL_FROM)
    print(f"ses identity {MAIL_FROM}: verified", flush=True)


def main():
    s3 = _client("s3")
    _wait_for_endpoint(s3)
    ensure_bucket(s3)
    ensure_kms_key(_client("kms"))
    ensure_jwt_secret(_client("secretsmanager"))
    ensure_platform_accounts(_client("secretsmanager"))
    ensure_ses_identity(_client("ses"))


main()
