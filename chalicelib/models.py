"""Pydantic models of the HTTP contract (../shared/API.md). The OpenAPI document is built from them."""

import re
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, HttpUrl, UrlConstraints, field_validator

from chalicelib.ids import id_pattern
from chalicelib.model_base import Model


class Strict(Model):
    """Request bodies: unknown fields are an error, so typos don't pass silently."""

    model_config = ConfigDict(extra="forbid")


# ---- ids and other shared field types (one rule each: it validates and the document shows it) --
JobId = Annotated[str, Field(pattern=id_pattern("job"), description="A job's id")]
UploadId = Annotated[str, Field(pattern=id_pattern("upl"), description="An upload's id")]
ApiKeyId = Annotated[str, Field(pattern=id_pattern("key"), description="An API key's id")]
WebhookEndpointId = Annotated[str, Field(pattern=id_pattern("whe"), description="A webhook endpoint's id")]
UserId = Annotated[str, Field(pattern=id_pattern("usr"), description="A user's id")]
# Audit entries are numbered; 19 digits keeps a cursor inside BIGINT.
AuditCursor = Annotated[str, Field(pattern=r"^[0-9]{1,19}$", description="An audit entry's id")]
# A Redis stream id (`ms-seq`), ASCII digits only; 19 digits keeps each part inside 64 bits.
EventCursor = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,19}(-[0-9]{1,19})?$", description="An event's id (`0` or `0-0`: from the start)"
    ),
]


def _enum_of_providers(step: str | None, nullable: bool = False) -> Any:
    """The registry's providers (of a step, or those taking the user's own key) as the document's
    enum; read when the document is built, since plug-ins register on first use. The API checks
    names against the same registry (422 `unknown_provider`)."""

    def extra(schema: dict) -> None:
        from chalicelib.pipeline import providers

        names = list(providers.AVAILABLE[step]) if step else sorted(providers.KEYED_PROVIDERS)
        schema["enum"] = names + ([None] if nullable else [])

    return extra


ProviderName = Annotated[
    str, Field(json_schema_extra=_enum_of_providers(None), description="A provider that takes your own key")
]


def _fits(limit: int):
    """A URL's normalized form (punycode, a trailing slash) within `limit` characters."""

    def check(url: HttpUrl) -> HttpUrl:
        if len(str(url)) > limit:
            raise ValueError(f"the URL is longer than {limit} characters once normalized")
        return url

    return AfterValidator(check)


# Stored in VARCHAR(2000) / VARCHAR(500) columns.
WebhookUrl = Annotated[HttpUrl, UrlConstraints(max_length=2000), _fits(2000)]
BaseUrl = Annotated[HttpUrl, UrlConstraints(max_length=500), _fits(500)]


# ---- errors -------------------------------------------------------------------------------
class ErrorBody(Model):
    code: str
    message: str
    details: Any = None


class ErrorReply(Model):
    error: ErrorBody


# ---- accounts -----------------------------------------------------------------------------
def _valid_email(value: str) -> str:
    """pydantic's EmailStr, but with email-validator loaded on first use (cold start)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None


def _email_schema(schema: dict) -> None:
    """`format: email`, less the special-use domains (.test, .local, ...) email-validator refuses,
    taken from its own list when the document is built."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    names = "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)
        for name in SPECIAL_USE_DOMAIN_NAMES
    )
    schema.update({"format": "email", "not": {"pattern": f"[@.]({names})$"}})


class Credentials(Strict):
    email: str = Field(max_length=320, json_schema_extra=_email_schema)
    password: str = Field(min_length=10, max_length=1024)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _valid_email(value)


class User(Model):
    id: str
    email: str
    created_at: str
    email_verified: bool = Field(False, description="The owner opened the link mailed to this address")


class LinkToken(Strict):
    """The token of a link mailed by the API (the `token` query parameter of the link)."""

    token: str = Field(min_length=16, max_length=200)


class PasswordResetRequest(Strict):
    email: str = Field(max_length=320, json_schema_extra=_email_schema)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return _valid_email(value)


class PasswordResetConfirm(Strict):
    token: str = Field(min_length=16, max_length=200)
    password: str = Field(min_length=10, max_length=1024)


class Accepted(Model):
    accepted: bool = True
    message: str


class EmailVerified(Model):
    user: User


class TokenReply(Model):
    user: User
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class PlanInfo(Model):
    name: str
    monthly_jobs: int
    max_duration_s: int
    max_concurrency: int
    retention_days: int


class ProviderUsageTotal(Model):
    """One provider's spend for one purpose over the period (summed StepUsage)."""

    purpose: str
    provider: str
    calls: int
    tokens_in: int
    tokens_out: int
    characters: int
    images: int
    audio_s: float
    bytes: int
    wall_s: float


class Usage(Model):
    period_start: str
    period_end: str
    jobs_used: int
    running: int
    providers: list[ProviderUsageTotal] = Field(default_factory=list)


class Membership(Model):
    status: str
    whop_membership_id: str
    plan: str
    cancel_at_period_end: bool
    renewal_period_end: str | None


class Me(Model):
    id: str
    email: str
    email_verified: bool = Field(
        False,
        description="Unverified accounts use the free plan; "
        "memberships attach by email only once it is verified",
    )
    plan: PlanInfo
    usage: Usage
    membership: Membership | None


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)


class ApiKey(Model):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None


class ApiKeyCreated(Model):
    id: str
    name: str
    key: str
    prefix: str
    created_at: str


class ApiKeyList(Model):
    items: list[ApiKey]
    next_cursor: str | None


# ---- jobs ---------------------------------------------------------------------------------
class JobStatus(str, Enum):
    queued = "queued"  # accepted, waiting for a worker (also after a transient failure)
    running = "running"  # a worker holds it
    succeeded = "succeeded"  # outputs are in S3
    failed = "failed"  # out of attempts or a permanent error; `error` says why
    canceled = "canceled"  # stopped by the user
    expired = "expired"  # past the plan's retention: its media is deleted, outputs are null


TERMINAL = {JobStatus.succeeded, JobStatus.failed, JobStatus.canceled, JobStatus.expired}


class StepStatus(str, Enum):
    pending = "pending"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    skipped = "skipped"


STEP_NAMES = ("concept", "image", "video", "upload")
# Share of the job's progress bar each step fills (sums to 100); each step in the job reply says it.
STEP_WEIGHTS = {"concept": 5, "image": 20, "video": 65, "upload": 10}


def _one_of(step: str) -> Any:
    return Field(None, max_length=64, json_schema_extra=_enum_of_providers(step, nullable=True))


class ProviderChoice(Strict):
    concept: str | None = _one_of("concept")
    image: str | None = _one_of("image")
    narration: str | None = _one_of("narration")
    video: str | None = _one_of("video")


class JobInputs(Strict):
    reference_image_upload_id: UploadId | None = Field(
        None, description=("An upload of yours that is `uploaded` and an image")
    )
    music_upload_id: UploadId | None = Field(
        None,
        description=("An uploaded MP3 or WAV played under the narration: looped or trimmed, faded, ducked"),
    )


MAX_SCRIPT_SCENES = 30


class SceneInput(Strict):
    """One scene of a script: the user's own line (spoken and captioned as written)."""

    text: str = Field(min_length=1, max_length=1000, pattern=r"\S")
    visual: str | None = Field(
        None, min_length=1, max_length=500, description="What the scene shows; also the stock-footage search"
    )
    duration_s: float | None = Field(None, ge=1, le=60, description="Default: the narration's length")
    image_upload_id: UploadId | None = Field(
        None, description="Your image or short clip (an uploaded upload)"
    )


JOB_SOURCES = ("prompt", "script", "scenes")  # a job gives exactly one


def _exactly_one_source(schema: dict) -> None:
    """The document's side of `sources()`: exactly one of JOB_SOURCES is given (not null)."""
    schema["oneOf"] = [
        {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in JOB_SOURCES
    ]


class JobCreate(Strict):
    model_config = ConfigDict(json_schema_extra=_exactly_one_source)

    prompt: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="What the video is about; or give `script` or `scenes`",
    )
    script: str | None = Field(
        None,
        min_length=1,
        max_length=20000,
        pattern=r"\S",
        description=("Your narration as plain text, split into scenes at sentence and paragraph ends"),
    )
    scenes: list[SceneInput] | None = Field(
        None, min_length=1, max_length=MAX_SCRIPT_SCENES, description="Your scenes, in order"
    )
    clip_audio_volume: float | None = Field(
        None,
        ge=0,
        le=2,
        description=(
            "Volume of your clips' own sound under the narration (1 = as recorded); default: dropped"
        ),
    )
    duration_s: int = Field(15, ge=5, le=180)
    aspect: Literal["9:16", "16:9", "1:1"] = "9:16"
    style: str | None = Field(None, max_length=200)
    voice: str | None = Field(None, max_length=64)
    language: str = Field("en", min_length=2, max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    providers: ProviderChoice | None = None
    inputs: JobInputs | None = None
    webhook_url: WebhookUrl | None = Field(None, description="One of your registered webhook endpoints' url")
    caption_style: Literal["karaoke", "lines", "none"] = Field(
        "karaoke",
        description=(
            "karaoke: a short phrase with the spoken word highlighted; lines: each scene's line; none"
        ),
    )
    narration: bool = Field(True, description="false: no voice (music, if any, at full level)")
    music_volume: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description=(
            "Music level between words, as a fraction of full level; under words it ducks 18 dB more"
        ),
    )

    def sources(self) -> list[str]:
        """Which of prompt, script and scenes were given (exactly one must be)."""
        return [name for name in JOB_SOURCES if getattr(self, name) is not None]


class StepUsage(Model):
    """What one provider spent for a step (a step may use two: image and narration)."""

    purpose: Literal["concept", "image", "narration", "video"]
    provider: str
    model: str | None = None
    tokens_in: int = Field(0, description="chat prompt tokens")
    tokens_out: int = Field(0, description="chat completion tokens")
    characters: int = Field(0, description="text spoken")
    images: int = 0
    audio_s: float = Field(0.0, description="seconds of speech produced")
    bytes: int = Field(0, description="size of what the provider produced")
    wall_s: float = 0.0


class Step(Model):
    name: Literal["concept", "image", "video", "upload"]
    status: StepStatus
    progress: int = Field(ge=0, le=100)
    weight: int = Field(ge=0, le=100, description="Share of the job's progress this step fills (sum: 100)")
    attempt: int
    started_at: str | None
    finished_at: str | None
    provider: str | None = Field(None, description="Which provider produced the step's artifact")
    usage: list[StepUsage] = Field(default_factory=list)


class JobError(Model):
    code: str
    message: str
    step: str | None


class AudioLevels(Model):
    """The output's audio as measured after the render (EBU R128 / ITU-R BS.1770)."""

    integrated_lufs: float | None = Field(description="None: the track is silent")
    true_peak_dbtp: float | None
    lra_lu: float | None = Field(description="loudness range")
    target_lufs: float


class JobOutputs(Model):
    video_url: str
    thumbnail_url: str
    captions_url: str
    expires_at: str
    vtt_url: str | None = Field(None, description="WebVTT captions, each word's start inline")
    words_url: str | None = Field(None, description="words.json: every spoken word's start/end (s)")
    audio: AudioLevels | None = None


class Job(Model):
    id: str
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    current_step: str | None
    attempt: int
    steps: list[Step]
    error: JobError | None
    outputs: JobOutputs | None
    request: dict[str, Any]
    notes: list[str] = Field(
        default_factory=list, description="Things worth knowing, e.g. a silent narration"
    )
    created_at: str
    started_at: str | None
    finished_at: str | None


class JobList(Model):
    items: list[Job]
    next_cursor: str | None


class EventType(str, Enum):
    job_queued = "job.queued"
    job_started = "job.started"
    step_started = "step.started"
    step_progress = "step.progress"
    step_succeeded = "step.succeeded"
    step_failed = "step.failed"
    job_retrying = "job.retrying"
    job_succeeded = "job.succeeded"
    job_failed = "job.failed"
    job_canceled = "job.canceled"


class Event(Model):
    id: str
    type: EventType
    step: str | None
    progress: int | None
    message: str | None
    at: str


class EventPage(Model):
    events: list[Event]
    next: str = Field(description="Cursor to pass as `after` next time")
    status: JobStatus


# ---- uploads ------------------------------------------------------------------------------
UPLOAD_CONTENT_TYPES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "audio/mpeg",
    "audio/wav",
    "video/mp4",
    "video/quicktime",
)


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
    size_bytes: int = Field(ge=1, description="Exact size of the file to upload; over your plan's limit: 413")


class UploadForm(Model):
    id: str
    url: str = Field(description="POST a multipart form here: `fields` first, then `file`")
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


class UploadStatus(str, Enum):
    pending = "pending"  # form handed out; the file has not been seen in S3 yet
    uploaded = "uploaded"  # the file arrived and passed the size and content checks
    rejected = "rejected"  # the file did not match what was declared; it was deleted
    expired = "expired"  # never uploaded, and the form is long gone


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


# ---- operations ---------------------------------------------------------------------------
class Health(Model):
    status: Literal["ok", "degraded"]
    checks: dict[str, str]


# ---- provider keys, audit, webhooks -------------------------------------------------------
class ProviderKeyPut(Strict):
    api_key: str = Field(min_length=8, max_length=500, pattern=r"^\S+$")
    base_url: BaseUrl | None = Field(None, description="An OpenAI-compatible server, e.g. Ollama or vLLM")


class ProviderKey(Model):
    provider: str
    last4: str
    base_url: str | None
    updated_at: str


class ProviderKeyList(Model):
    items: list[ProviderKey]
    next_cursor: str | None = None


class ProviderOption(Model):
    name: str
    needs_key: bool
    has_key: bool = Field(description="The caller stored the key this provider needs (never the key)")


class StepProviders(Model):
    step: Literal["concept", "image", "narration", "video"]
    default: str
    providers: list[ProviderOption]


class VoiceOption(Model):
    name: str = Field(description="What to pass as the job's `voice`")
    provider: str = Field(description="The narration provider that speaks it")
    engine: str
    languages: list[str] = Field(description='Languages it speaks; ["*"]: the job\'s language')
    default: bool = Field(False, description="Spoken when a job names no voice (in its languages)")


class ProviderCatalog(Model):
    items: list[StepProviders]
    voices: list[VoiceOption] = Field(default_factory=list)


class AuditEntry(Model):
    id: str
    action: str
    target: str | None
    ip: str | None
    details: dict[str, Any] | None
    at: str


class AuditPage(Model):
    items: list[AuditEntry]
    next_cursor: str | None


class WebhookAck(Model):
    received: bool
    duplicate: bool = False
    handled: bool = Field(description="False for event types we only record")


DEFAULT_WEBHOOK_EVENTS = [t.value for t in EventType if t is not EventType.step_progress]


class WebhookEndpointCreate(Strict):
    url: WebhookUrl
    events: list[EventType] | None = Field(
        None, min_length=1, description=("Event types to deliver; default: every type but step.progress")
    )


class WebhookEndpoint(Model):
    id: str
    url: str
    events: list[str]
    created_at: str
    last_delivery_at: str | None = None
    last_status: int | None = Field(None, description="HTTP status of the last attempt; 0: no answer")


class WebhookEndpointCreated(Model):
    id: str
    url: str
    events: list[str]
    secret: str = Field(description="Signing secret (Standard Webhooks, whsec_...), shown only here")
    created_at: str


class WebhookEndpointList(Model):
    items: list[WebhookEndpoint]
    next_cursor: str | None


# ---- billing: plans and checkout (chalicelib/billing/checkout.py) --------------------------
class PlanOffer(PlanInfo):
    purchasable: bool = Field(description="Whop checkout is configured for this plan")


class PlanCatalog(Model):
    items: list[PlanOffer]


def _plan_names(schema: dict) -> None:
    from chalicelib.config import DEFAULT_PLANS  # the plans checkout knows (422 for others)

    schema["enum"] = list(DEFAULT_PLANS)


class CheckoutCreate(Strict):
    plan: str = Field(
        min_length=1, max_length=40, description="The plan to buy, e.g. pro", json_schema_extra=_plan_names
    )


class CheckoutSession(Model):
    id: str = Field(description="Whop's checkout configuration id")
    plan: str
    url: str = Field(description="Whop's purchase URL: send the buyer there")


class StreamToken(Model):
    token: str = Field(description="Pass as ?stream_token= to this job's events endpoint")
    expires_in: int


# ---- query strings and headers (read by `web.query` / `web.headers`, shown as parameters) ----
class PageQuery(Model):
    limit: int = Field(20, ge=1, le=100, description="Items per page")


class ApiKeysQuery(PageQuery):
    cursor: ApiKeyId | None = Field(None, description="`next_cursor` of the previous page")


class AuditQuery(PageQuery):
    cursor: AuditCursor | None = Field(None, description="`next_cursor` of the previous page")


class JobsQuery(PageQuery):
    status: JobStatus | None = Field(None, description="Only jobs in this status")
    cursor: JobId | None = Field(None, description="`next_cursor` of the previous page")


class WebhookEndpointsQuery(PageQuery):
    cursor: WebhookEndpointId | None = Field(None, description="`next_cursor` of the previous page")


class EventsQuery(Model):
    after: EventCursor | None = Field(None, description="Events after this one (`next` of the previous page)")
    wait: int = Field(0, ge=0, le=20, description="Seconds to wait for the first event")
    stream_token: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description=("Instead of Authorization, for a browser's EventSource (POST .../stream-token)"),
    )


class EventsHeaders(Model):
    last_event_id: EventCursor | None = Field(
        None,
        alias="Last-Event-ID",
        description=("With Accept: text/event-stream, taken as `after` (EventSource sends it on reconnect)"),
    )


class SubmitHeaders(Model):
    idempotency_key: str | None = Field(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="The same key and body again: the same job",
    )


class JobHeaders(Model):
    if_none_match: str | None = Field(
        None, alias="If-None-Match", description="The ETag of the last read: 304 while it still holds"
    )


class StandardWebhookHeaders(Model):
    """Checked by the signature verification (401 when missing or wrong), not by this model."""

    webhook_id: str = Field(alias="webhook-id")
    webhook_timestamp: str = Field(alias="webhook-timestamp", pattern=r"^[0-9]+$")
    webhook_signature: str = Field(alias="webhook-signature")


# A route's path parameter, by name -> its type (the document shows it; anything else is 404).
PATH_PARAMETERS: dict[str, Any] = {
    "job_id": JobId,
    "upload_id": UploadId,
    "key_id": ApiKeyId,
    "endpoint_id": WebhookEndpointId,
    "provider": ProviderName,
}
