"""Schemas of uploads."""

from pydantic import Field

from chalicelib.core.model_base import Model
from chalicelib.http.schemas.common import Strict
from chalicelib.uploads.states import UploadStatus

UPLOAD_CONTENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "audio/mpeg",
    "audio/wav",
    "video/mp4",
    "video/quicktime",
)


S3_POST_MAX_BYTES = 5 * 1024**3  # the most one presigned POST can carry (S3's limit for one upload)


class UploadCreate(Strict):
    filename: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Kept as metadata only; the object's key is ours",
    )
    content_type: str = Field(
        min_length=1,
        max_length=100,
        description="Any other type: 415",
        json_schema_extra={"enum": list(UPLOAD_CONTENT_TYPES)},
    )
    size_bytes: int = Field(
        ge=1,
        le=S3_POST_MAX_BYTES,
        description="Exact size of the file to upload; over your plan's limit: 413",
    )


class UploadForm(Model):
    id: str
    url: str = Field(description="POST a multipart form here: `fields` first, then `file`")
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


class Upload(Model):
    id: str
    status: UploadStatus
    content_type: str
    size_bytes: int
    filename: str
    reason: str | None = Field(None, description="Why it was rejected")
    code: str | None = Field(
        None,
        description="Why it was rejected, machine-readable: "
        "too_large, size_mismatch, type_mismatch, content_mismatch, "
        "image_too_large, unreadable_image, unusable_clip",
    )
    created_at: str
