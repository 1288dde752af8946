"""User assets (e.g. a job's reference image), uploaded by the client straight to S3.

Files don't pass through the API (Lambda takes at most 6 MB per request): the client gets a
presigned POST form whose policy pins the key, the content type and a size range, and we check
the object when someone next asks about the upload (GET, or a job naming it). The check reads
the real size and type (HEAD) and sniffs the first bytes, so a renamed file is caught.

The form stays valid for minutes, so a client could post again after the check. That is why the
checked version (by ETag) is copied to the key jobs read, `object_key_for(...)`, and the posted
object is dropped: what a job reads is always what was checked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from chalicelib.accounts.auth import Principal
from chalicelib.billing.plans import entitlement
from chalicelib.core.errors import NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from chalicelib.core.ids import iso, new_id, utcnow
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.uploads import UPLOAD_CONTENT_TYPES, Upload, UploadCreate, UploadForm
from chalicelib.infra import audit, ratelimit, storage
from chalicelib.uploads import image_limits, media_headers
from chalicelib.uploads import repository as uploads_db
from chalicelib.uploads.states import UploadStatus

log = logging.getLogger(__name__)

ALLOWED_TYPES = UPLOAD_CONTENT_TYPES  # the document's enum for content_type; others get 415
IMAGE_TYPES = frozenset(t for t in ALLOWED_TYPES if t.startswith("image/"))
AUDIO_TYPES = frozenset(t for t in ALLOWED_TYPES if t.startswith("audio/"))
VIDEO_TYPES = frozenset(t for t in ALLOWED_TYPES if t.startswith("video/"))
SCENE_MEDIA_TYPES = IMAGE_TYPES | VIDEO_TYPES  # what a script scene may show
SNIFF_BYTES = 32
HEADER_BYTES = 256 * 1024  # enough for an image header, a JPEG's EXIF block included
CLIP_CODECS = media_headers.CLIP_CODECS
REFERENCE_FIELD = "inputs.reference_image_upload_id"
MUSIC_FIELD = "inputs.music_upload_id"


def prefix_for(user_id: str, upload_id: str) -> str:
    """Everything of one upload lives under this (ours to name: never the client's filename)."""
    return f"uploads/{user_id}/{upload_id}/"


def incoming_key(user_id: str, upload_id: str) -> str:
    """Where the client's form posts the file; never read by jobs."""
    return prefix_for(user_id, upload_id) + "incoming"


def object_key_for(user_id: str, upload_id: str) -> str:
    """The checked file of an `uploaded` upload: the key the pipeline reads."""
    return prefix_for(user_id, upload_id) + "asset"


def sniff(head: bytes) -> str | None:
    """The allowed type these first bytes belong to, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":  # ISO base media: the major brand tells QuickTime from MP4
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[4:8] in (b"moov", b"wide", b"mdat", b"free"):  # QuickTime files without ftyp
        return "video/quicktime"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"  # an ID3 tag, or straight into an MPEG audio frame (11 sync bits)
    return None


def _display_name(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).name or "upload"


def _content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback, and the exact name percent-encoded (no header injection)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def create(principal: Principal, body: UploadCreate, ip: str | None) -> UploadForm:
    """A pending upload and the presigned form to send its file with."""
    settings = get_settings()
    ratelimit.hit("uploads", principal.user_id, settings.rate_limit_uploads)
    content_type = body.content_type.strip().lower()
    if content_type not in ALLOWED_TYPES:
        raise UnsupportedMediaType(
            f"Uploads of {content_type} are not accepted", details={"allowed": list(ALLOWED_TYPES)}
        )
    now = utcnow()
    max_bytes = entitlement(principal.user_id, now).plan.upload_max_bytes
    if body.size_bytes > max_bytes:
        raise PayloadTooLarge(
            f"The file is over your plan's upload limit of {max_bytes} bytes",
            details={"max_bytes": max_bytes, "size_bytes": body.size_bytes},
        )
    upload: dict[str, Any] = {
        "id": new_id("upl"),
        "user_id": principal.user_id,
        "content_type": content_type,
        "filename": _display_name(body.filename),
        "size_bytes": body.size_bytes,
        "created_at": now,
    }
    uploads_db.insert(upload)
    audit.record("upload.created", user_id=principal.user_id, ip=ip, target=upload["id"])
    fields = {"Content-Type": content_type, "Content-Disposition": _content_disposition(upload["filename"])}
    conditions: list[Any] = [{name: value} for name, value in fields.items()]
    conditions.append(["content-length-range", 1, max_bytes])
    form = storage.presigned_post(
        incoming_key(principal.user_id, upload["id"]), fields, conditions, settings.upload_expiry_s
    )
    return UploadForm(
        id=upload["id"],
        url=form["url"],
        fields=form["fields"],
        max_bytes=max_bytes,
        expires_at=iso(now + timedelta(seconds=settings.upload_expiry_s)),
    )


def get(principal: Principal, upload_id: str) -> Upload:
    row = uploads_db.get(upload_id, principal.user_id)
    if row is None:
        raise NotFound("Upload not found")
    return to_model(confirm(row))


def confirm(row: uploads_db.UploadRow) -> uploads_db.UploadRow:
    """A pending upload whose file is in S3 becomes uploaded or rejected; -> the row now."""
    if row.status != UploadStatus.pending:
        return row
    posted = incoming_key(row.user_id, row.id)
    meta = storage.head(posted)
    if meta is None:
        return row
    try:
        problem = _mismatch(row, meta, posted)
        if problem is None:
            storage.copy_version(posted, object_key_for(row.user_id, row.id), meta["ETag"])
    except storage.ObjectChanged:  # posted again (or confirmed elsewhere) while we looked
        return uploads_db.get(row.id, row.user_id) or row
    code, reason = problem or (None, None)
    settled = UploadStatus.rejected if problem else UploadStatus.uploaded
    if uploads_db.settle(row.id, settled, reason, code) and problem:
        log.info("upload rejected", extra={"upload_id": row.id, "reason": reason, "code": code})
    storage.delete(posted)
    return uploads_db.get(row.id, row.user_id) or row


def _mismatch(row: uploads_db.UploadRow, meta: dict, key: str) -> tuple[str, str] | None:
    """(code, why) the object in S3 is not what was declared, or None when it is. Images are
    also bounded by their dimensions, read from the header only (never decoded here)."""
    size, declared = int(meta["ContentLength"]), row.size_bytes
    max_bytes = entitlement(row.user_id, utcnow()).plan.upload_max_bytes
    if size > max_bytes:
        return "too_large", f"the file has {size} bytes, over the plan's limit of {max_bytes}"
    if size != declared:
        return "size_mismatch", f"the file has {size} bytes, not the declared {declared}"
    stored_type = (meta.get("ContentType") or "").split(";")[0].strip().lower()
    if stored_type != row.content_type:
        return "type_mismatch", (f"the file was stored as {stored_type or 'no type'}, not {row.content_type}")
    is_image = row.content_type in IMAGE_TYPES
    head = storage.first_bytes(key, HEADER_BYTES if is_image else SNIFF_BYTES, meta["ETag"])
    found = sniff(head[:SNIFF_BYTES])
    if found != row.content_type:
        return "content_mismatch", (
            f"the content is not {row.content_type} (it looks like {found or 'something else'})"
        )
    if is_image:
        try:
            image_limits.check_size(*image_limits.dimensions(head))
        except image_limits.ImageRejected as exc:
            return exc.code, exc.message
    if found in VIDEO_TYPES:
        problem = clip_problem(row.user_id, key, meta["ETag"], size)
        return ("unusable_clip", problem) if problem else None
    return None


def clip_problem(user_id: str, key: str, etag: str, size: int) -> str | None:
    """Why a clip can't be used (no readable video track, too long, too large for the plan), or
    None. Read from the checked version's MP4/MOV headers by ranged GETs: the API has no ffmpeg."""
    try:
        info = media_headers.read_clip(lambda start, count: storage.byte_range(key, start, count, etag), size)
    except media_headers.HeaderError as exc:
        return f"the file holds no video stream we can read ({exc})"
    return clip_limits_problem(info, user_id)


def clip_limits_problem(info: Mapping[str, Any], user_id: str) -> str | None:
    """Why a clip of this codec, duration and size is over the user's plan, or None: the API
    asks it of a clip's headers, the worker of what it probes in every clip before rendering."""
    plan = entitlement(user_id, utcnow()).plan
    if info["video_codec"] not in CLIP_CODECS:
        return f"the clip's codec {info['video_codec']} is not one of {', '.join(sorted(CLIP_CODECS))}"
    if not 0 < info["duration_s"] <= plan.clip_max_s:
        return f"the clip lasts {info['duration_s']:.1f} s; at most {plan.clip_max_s:g} s on the {plan.name} plan"
    if not info["width"] or max(info["width"], info["height"]) > plan.clip_max_side:
        return (
            f"the clip is {info['width']}x{info['height']}; at most {plan.clip_max_side} px a side "
            f"on the {plan.name} plan"
        )
    return None


def require_reference_image(user_id: str, upload_id: str) -> None:
    """422 unless the upload is the user's, uploaded (checked now if still pending) and an image."""
    _require_kind(
        user_id, upload_id, IMAGE_TYPES, ("an image", "not_an_image"), "reference image", REFERENCE_FIELD
    )


def require_music(user_id: str, upload_id: str) -> None:
    """422 unless the upload is the user's, uploaded and audio (MP3 or WAV)."""
    _require_kind(user_id, upload_id, AUDIO_TYPES, ("audio", "not_audio"), "music", MUSIC_FIELD)


def _require_kind(
    user_id: str, upload_id: str, types: frozenset[str], wanted: tuple[str, str], purpose: str, field: str
) -> None:
    """422 unless the upload is the user's, uploaded (checked now if still pending) and one of
    `types`; `wanted` is (how to say the kind, the error type when it is not)."""
    row = uploads_db.get(upload_id, user_id)
    if row is None:
        message, kind = "no such upload", "not_found"
    else:
        row = confirm(row)
        if row.status != UploadStatus.uploaded:
            message, kind = f"the upload is {row.status.value}, not uploaded", "upload_not_ready"
        elif row.content_type not in types:
            message, kind = f"the upload is {row.content_type}, not {wanted[0]}", wanted[1]
        else:
            return
    raise ValidationFailed(
        f"The {purpose} can't be used",
        code="invalid_upload",
        details=[{"field": field, "message": message, "type": kind}],
    )


def require_scene_media(user_id: str, upload_id: str, field: str) -> None:
    """422 unless the upload is the user's, uploaded (checked now if still pending) and an
    image or a video clip."""
    row = uploads_db.get(upload_id, user_id)
    if row is None:
        message, kind = "no such upload", "not_found"
    else:
        row = confirm(row)
        if row.status != UploadStatus.uploaded:
            message, kind = f"the upload is {row.status.value}, not uploaded", "upload_not_ready"
        elif row.content_type not in SCENE_MEDIA_TYPES:
            message, kind = f"the upload is {row.content_type}, not an image or a clip", "not_scene_media"
        else:
            return
    raise ValidationFailed(
        "A scene's media can't be used",
        code="invalid_upload",
        details=[{"field": field, "message": message, "type": kind}],
    )


def to_model(row: uploads_db.UploadRow) -> Upload:
    return Upload(
        id=row.id,
        status=row.status,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        filename=row.filename,
        reason=row.reason,
        code=row.reason_code,
        created_at=iso(row.created_at),
    )
