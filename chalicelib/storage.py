"""Media in S3 under deterministic keys: `jobs/{job_id}/{step}/{name}`.

Same key for the same artifact on every attempt, so a retried step overwrites instead of
leaving orphans, and a resumed job can check what a finished step left behind.
"""
from __future__ import annotations

from pathlib import Path

from chalicelib.aws import client
from chalicelib.config import get_settings

CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg", ".png": "image/png",
                 ".srt": "application/x-subrip", ".json": "application/json", ".wav": "audio/wav"}


def artifact_key(job_id: str, step: str, name: str) -> str:
    return f"jobs/{job_id}/{step}/{name}"


def _bucket() -> str:
    return get_settings().media_bucket


def put_file(path: Path, key: str) -> str:
    client("s3").upload_file(str(path), _bucket(), key, ExtraArgs={
        "ContentType": CONTENT_TYPES.get(path.suffix, "application/octet-stream")})
    return key


def put_bytes(data: bytes, key: str, content_type: str) -> str:
    client("s3").put_object(Bucket=_bucket(), Key=key, Body=data, ContentType=content_type)
    return key


def get_bytes(key: str) -> bytes:
    return client("s3").get_object(Bucket=_bucket(), Key=key)["Body"].read()


def download(key: str, path: Path) -> Path:
    client("s3").download_file(_bucket(), key, str(path))
    return path


def exists(key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client("s3").head_object(Bucket=_bucket(), Key=key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def copy(source_key: str, key: str, *, download_name: str | None = None) -> str:
    extra = {"ContentDisposition": f'inline; filename="{download_name}"'} if download_name else {}
    suffix = Path(key).suffix
    client("s3").copy_object(Bucket=_bucket(), Key=key,
                             CopySource={"Bucket": _bucket(), "Key": source_key},
                             MetadataDirective="REPLACE",
                             ContentType=CONTENT_TYPES.get(suffix, "application/octet-stream"),
                             **extra)
    return key


def presigned_get(key: str, ttl_s: int | None = None) -> str:
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": _bucket(), "Key": key},
        ExpiresIn=ttl_s or get_settings().presign_ttl_s)


def bucket_reachable() -> None:
    client("s3").head_bucket(Bucket=_bucket())
