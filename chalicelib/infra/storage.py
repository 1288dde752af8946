"""Media in S3 under deterministic keys: `jobs/{job_id}/{step}/{name}`.

Same key for the same artifact on every attempt, so a retried step overwrites instead of
leaving orphans, and a resumed job can check what a finished step left behind.
"""

from __future__ import annotations

from pathlib import Path

from chalicelib.core.settings import get_settings
from chalicelib.infra.aws import client

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".wav": "audio/wav",
}


def artifact_key(job_id: str, step: str, name: str) -> str:
    return f"{job_prefix(job_id)}{step}/{name}"


def job_prefix(job_id: str) -> str:
    """Everything a job's steps wrote; deleted as a whole when its retention is over."""
    return f"jobs/{job_id}/"


def _bucket() -> str:
    return get_settings().media_bucket


def put_file(path: Path, key: str) -> str:
    client("s3").upload_file(
        str(path),
        _bucket(),
        key,
        ExtraArgs={"ContentType": CONTENT_TYPES.get(path.suffix, "application/octet-stream")},
    )
    return key


def put_bytes(data: bytes, key: str, content_type: str, metadata: dict[str, str] | None = None) -> str:
    """One PUT: the object and its user metadata (ASCII, 2 KB in all) land together or not at all."""
    client("s3").put_object(
        Bucket=_bucket(), Key=key, Body=data, ContentType=content_type, Metadata=metadata or {}
    )
    return key


def get_bytes(key: str) -> bytes:
    return client("s3").get_object(Bucket=_bucket(), Key=key)["Body"].read()


def get_if_exists(key: str) -> tuple[bytes, dict[str, str]] | None:
    """The object and its user metadata in one GET, or None when missing."""
    from botocore.exceptions import ClientError

    try:
        found = client("s3").get_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return found["Body"].read(), found.get("Metadata") or {}


def download(key: str, path: Path) -> Path:
    client("s3").download_file(_bucket(), key, str(path))
    return path


class ObjectChanged(Exception):
    """The object is no longer the version a conditional read or copy named (by ETag)."""


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def head(key: str) -> dict | None:
    """The object's metadata (ContentLength, ContentType, ETag, ...), or None when missing."""
    from botocore.exceptions import ClientError

    try:
        return client("s3").head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def exists(key: str) -> bool:
    return head(key) is not None


def _conditional(call, **kwargs):
    from botocore.exceptions import ClientError

    try:
        return call(Bucket=_bucket(), **kwargs)
    except ClientError as exc:
        if _error_code(exc) in ("412", "PreconditionFailed", "404", "NoSuchKey"):
            raise ObjectChanged(kwargs.get("Key")) from exc
        raise


def first_bytes(key: str, count: int, etag: str) -> bytes:
    """The first `count` bytes of exactly the version `etag` (a ranged GET)."""
    found = _conditional(client("s3").get_object, Key=key, Range=f"bytes=0-{count - 1}", IfMatch=etag)
    return found["Body"].read()


def byte_range(key: str, start: int, count: int, etag: str) -> bytes:
    """`count` bytes from `start` of exactly the version `etag` (a ranged GET, shorter at the end)."""
    found = _conditional(
        client("s3").get_object, Key=key, Range=f"bytes={start}-{start + count - 1}", IfMatch=etag
    )
    return found["Body"].read()


def copy_version(source_key: str, key: str, etag: str) -> str:
    """Server-side copy of exactly the version `etag`, metadata included."""
    _conditional(
        client("s3").copy_object,
        Key=key,
        CopySourceIfMatch=etag,
        CopySource={"Bucket": _bucket(), "Key": source_key},
    )
    return key


def delete(key: str) -> None:
    client("s3").delete_object(Bucket=_bucket(), Key=key)


def delete_prefix(prefix: str) -> int:
    """Delete every object under `prefix`; returns how many there were."""
    s3, deleted = client("s3"), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=_bucket(), Prefix=prefix):
        objects = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if objects:  # a listing page holds at most 1000 keys, the most one delete takes
            s3.delete_objects(Bucket=_bucket(), Delete={"Objects": objects, "Quiet": True})
            deleted += len(objects)
    return deleted


def presigned_post(key: str, fields: dict[str, str], conditions: list, ttl_s: int) -> dict:
    """A browser-postable form for exactly `key`; S3 refuses a POST breaking `conditions`."""
    return client("s3").generate_presigned_post(
        _bucket(), key, Fields=fields, Conditions=conditions, ExpiresIn=ttl_s
    )


def copy(source_key: str, key: str, *, download_name: str | None = None) -> str:
    extra = {"ContentDisposition": f'inline; filename="{download_name}"'} if download_name else {}
    suffix = Path(key).suffix
    client("s3").copy_object(
        Bucket=_bucket(),
        Key=key,
        CopySource={"Bucket": _bucket(), "Key": source_key},
        MetadataDirective="REPLACE",
        ContentType=CONTENT_TYPES.get(suffix, "application/octet-stream"),
        **extra,
    )
    return key


def presigned_get(key: str, ttl_s: int | None = None) -> str:
    return client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": _bucket(), "Key": key},
        ExpiresIn=ttl_s or get_settings().presign_ttl_s,
    )


def bucket_reachable() -> None:
    client("s3").head_bucket(Bucket=_bucket())
