"""The API's objects as the client reads them.

Each model names the component of the served OpenAPI document it mirrors (`component`), and the
drift test (tests/client/test_drift.py) holds every field declared here to that component: same
name, same JSON type, required where the server always sends it. Replies keep fields the client
does not know yet (`extra="allow"`), so a server that adds a field never breaks an installed
client; statuses are plain strings with the known values in enums, for the same reason.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class Model(BaseModel):
    """A reply object: unknown fields are kept (readable as attributes), never an error."""

    model_config = ConfigDict(extra="allow")
    component: ClassVar[str]  # its schema's name under components/schemas in /v1/openapi.json


class Body(BaseModel):
    """A request body: fields the client knows, plus any the caller adds (the server validates)."""

    model_config = ConfigDict(extra="allow")
    component: ClassVar[str]


# ---- enumerations the client acts on (checked against the document's enums) -------------
class JobStatus(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"
    expired = "expired"


TERMINAL_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.canceled, JobStatus.expired})


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


TERMINAL_EVENTS = frozenset({EventType.job_succeeded, EventType.job_failed, EventType.job_canceled})


class UploadStatus(str, Enum):
    pending = "pending"
    uploaded = "uploaded"
    rejected = "rejected"
    expired = "expired"


# ---- accounts -----------------------------------------------------------------------------
class Credentials(Body):
    component = "Credentials"
    email: str
    password: str


class User(Model):
    component = "User"
    id: str
    email: str
    created_at: str
    email_verified: bool = False


class LinkToken(Body):
    component = "LinkToken"
    token: str


class PasswordResetRequest(Body):
    component = "PasswordResetRequest"
    email: str


class PasswordResetConfirm(Body):
    component = "PasswordResetConfirm"
    token: str
    password: str


class Accepted(Model):
    component = "Accepted"
    accepted: bool = True
    message: str


class EmailVerified(Model):
    component = "EmailVerified"
    user: User


class TokenReply(Model):
    component = "TokenReply"
    user: User
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class IncludedAI(Model):
    """What a plan includes for one purpose on the platform's account."""

    component = "IncludedAI"
    provider: str
    model: str | None = None
    quality: str | None = None


class PlanInfo(Model):
    component = "PlanInfo"
    name: str
    monthly_jobs: int
    max_duration_s: int
    max_concurrency: int
    retention_days: int
    monthly_credits_micros: int = 0  # credits for platform AI each period (micro-dollars)
    ai: dict[str, IncludedAI] = Field(default_factory=dict)  # purpose -> what the plan includes


class Credits(Model):
    """Platform AI credits, in micro-dollars (1 USD = 1 000 000)."""

    component = "Credits"
    monthly_micros: int
    allowance_micros: int
    topup_micros: int
    reserved_micros: int
    available_micros: int


class ProviderUsageTotal(Model):
    component = "ProviderUsageTotal"
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
    cost_micros: int = 0
    platform_micros: int = 0  # of which charged in credits


class Usage(Model):
    component = "Usage"
    period_start: str
    period_end: str
    jobs_used: int
    running: int
    providers: list[ProviderUsageTotal] = Field(default_factory=list)


class Membership(Model):
    component = "Membership"
    status: str
    whop_membership_id: str
    plan: str
    cancel_at_period_end: bool
    renewal_period_end: str | None


class Me(Model):
    component = "Me"
    id: str
    email: str
    email_verified: bool = False
    plan: PlanInfo
    usage: Usage
    membership: Membership | None
    credits: Credits | None = None


class ApiKeyCreate(Body):
    component = "ApiKeyCreate"
    name: str


class ApiKey(Model):
    component = "ApiKey"
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None


class ApiKeyCreated(Model):
    component = "ApiKeyCreated"
    id: str
    name: str
    key: str
    prefix: str
    created_at: str


class ApiKeyList(Model):
    component = "ApiKeyList"
    items: list[ApiKey]
    next_cursor: str | None


class ProviderKeyPut(Body):
    component = "ProviderKeyPut"
    api_key: str
    base_url: str | None = None


class ProviderKey(Model):
    component = "ProviderKey"
    provider: str
    last4: str
    base_url: str | None
    updated_at: str


class ProviderKeyList(Model):
    component = "ProviderKeyList"
    items: list[ProviderKey]
    next_cursor: str | None = None


class ProviderOption(Model):
    component = "ProviderOption"
    name: str
    needs_key: bool
    has_key: bool


class Included(Model):
    """What the caller's plan includes for a step on the platform's account."""

    component = "Included"
    provider: str
    model: str | None = None
    quality: str | None = None
    available: bool


class StepProviders(Model):
    component = "StepProviders"
    step: str
    default: str
    providers: list[ProviderOption]
    included: Included | None = None


class ProviderCatalog(Model):
    component = "ProviderCatalog"
    items: list[StepProviders]


class AuditEntry(Model):
    component = "AuditEntry"
    id: str
    action: str
    target: str | None
    ip: str | None
    details: dict[str, Any] | None
    at: str


class AuditPage(Model):
    component = "AuditPage"
    items: list[AuditEntry]
    next_cursor: str | None


# ---- jobs ---------------------------------------------------------------------------------
class ProviderChoice(Body):
    component = "ProviderChoice"
    concept: str | None = None
    image: str | None = None
    narration: str | None = None
    video: str | None = None


class JobInputs(Body):
    component = "JobInputs"
    reference_image_upload_id: str | None = None


class SceneInput(Body):
    """One scene of your own script: its line, and optionally its visual, length and media."""

    component = "SceneInput"
    text: str
    visual: str | None = None
    duration_s: float | None = None
    image_upload_id: str | None = None


class JobCreate(Body):
    """What `Client.submit` sends (a prompt, a `script` or `scenes`); unset fields are left to
    the server's defaults."""

    component = "JobCreate"
    prompt: str | None = None
    script: str | None = None
    scenes: list[SceneInput] | None = None
    clip_audio_volume: float | None = None
    duration_s: int | None = None
    aspect: str | None = None
    style: str | None = None
    voice: str | None = None
    language: str | None = None
    providers: ProviderChoice | None = None
    inputs: JobInputs | None = None
    webhook_url: str | None = None
    motion: str | list[str] | None = None


class StepUsage(Model):
    component = "StepUsage"
    purpose: str
    provider: str
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    characters: int = 0
    images: int = 0
    audio_s: float = 0.0
    bytes: int = 0
    wall_s: float = 0.0
    account: str = "none"  # platform (charged in credits), own (your key) or none (offline)
    cost_micros: int = 0


class Step(Model):
    component = "Step"
    name: str
    status: str
    progress: int
    attempt: int
    started_at: str | None
    finished_at: str | None
    provider: str | None = None
    usage: list[StepUsage] = Field(default_factory=list)
    cost_micros: int = 0


class JobError(Model):
    component = "JobError"
    code: str
    message: str
    step: str | None


class JobOutputs(Model):
    component = "JobOutputs"
    video_url: str
    thumbnail_url: str
    captions_url: str
    expires_at: str


class JobCost(Model):
    """A job's money, in micro-dollars."""

    component = "JobCost"
    estimate_micros: int = 0  # reserved from credits at submission (an upper bound)
    held_micros: int = 0  # held now (0 once it ended)
    charged_micros: int = 0  # charged to credits when it ended
    platform_micros: int = 0  # spent on the platform's accounts so far
    own_micros: int = 0  # spent on your own keys (billed to you by the provider)


class Job(Model):
    component = "Job"
    id: str
    status: str
    progress: int
    current_step: str | None
    attempt: int
    steps: list[Step]
    error: JobError | None
    outputs: JobOutputs | None
    request: dict[str, Any]
    notes: list[str] = Field(default_factory=list)
    created_at: str
    started_at: str | None
    finished_at: str | None
    eta_s: float | None = None  # seconds left, from the server's latest estimate
    eta_at: str | None = None
    cost: JobCost = Field(default_factory=JobCost)
    _replayed: bool = PrivateAttr(default=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def replayed(self) -> bool:
        """Submit answered with an existing job for the same Idempotency-Key and body."""
        return self._replayed


class StepEstimate(Model):
    component = "StepEstimate"
    purpose: str
    provider: str
    account: str  # platform, own or none
    model: str | None = None
    cost_micros: int


class JobEstimate(Model):
    """What a job would cost and reserve, and how long it takes (POST /v1/jobs/estimate)."""

    component = "JobEstimate"
    steps: list[StepEstimate]
    cost_micros: int
    credits_micros: int
    credits_available_micros: int
    fits: bool
    wall_s: float
    plan: str


class JobList(Model):
    component = "JobList"
    items: list[Job]
    next_cursor: str | None


class Event(Model):
    component = "Event"
    id: str
    type: str
    step: str | None
    progress: int | None
    message: str | None
    at: str
    eta_s: float | None = None  # seconds left as of this event (None: no estimate)
    eta_at: str | None = None

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS


class EventPage(Model):
    component = "EventPage"
    events: list[Event]
    next: str
    status: str


# ---- uploads ------------------------------------------------------------------------------
class UploadCreate(Body):
    component = "UploadCreate"
    filename: str
    content_type: str
    size_bytes: int


class UploadForm(Model):
    component = "UploadForm"
    id: str
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


class Upload(Model):
    component = "Upload"
    id: str
    status: str
    content_type: str
    size_bytes: int
    filename: str
    reason: str | None = None
    created_at: str


# ---- webhooks and operations --------------------------------------------------------------
class WebhookEndpointCreate(Body):
    component = "WebhookEndpointCreate"
    url: str
    events: list[str] | None = None


class WebhookEndpoint(Model):
    component = "WebhookEndpoint"
    id: str
    url: str
    events: list[str]
    created_at: str
    last_delivery_at: str | None = None
    last_status: int | None = None


class WebhookEndpointCreated(Model):
    component = "WebhookEndpointCreated"
    id: str
    url: str
    events: list[str]
    secret: str
    created_at: str


class WebhookEndpointList(Model):
    component = "WebhookEndpointList"
    items: list[WebhookEndpoint]
    next_cursor: str | None


# ---- plans and checkout -------------------------------------------------------------------
class PlanOffer(PlanInfo):
    component = "PlanOffer"
    purchasable: bool


class PlanCatalog(Model):
    component = "PlanCatalog"
    items: list[PlanOffer]


class PackOffer(Model):
    component = "PackOffer"
    name: str
    credits_micros: int
    price_micros: int


class PackCatalog(Model):
    component = "PackCatalog"
    items: list[PackOffer]


class CheckoutCreate(Body):
    """Exactly one of `plan` and `pack` (the server answers 422 otherwise)."""

    component = "CheckoutCreate"
    plan: str | None = None
    pack: str | None = None


class CheckoutSession(Model):
    component = "CheckoutSession"
    id: str
    plan: str | None = None
    pack: str | None = None
    url: str


class StreamToken(Model):
    component = "StreamToken"
    token: str
    expires_in: int


class WebhookAck(Model):
    component = "WebhookAck"
    received: bool
    duplicate: bool = False
    handled: bool


class Health(Model):
    component = "Health"
    status: str
    checks: dict[str, str]


class ErrorBody(Model):
    component = "ErrorBody"
    code: str
    message: str
    details: Any = None


#: Every model the drift test checks (replies and request bodies alike).
ALL_MODELS: tuple[type[Model] | type[Body], ...] = (
    Credentials,
    User,
    LinkToken,
    PasswordResetRequest,
    PasswordResetConfirm,
    Accepted,
    EmailVerified,
    TokenReply,
    IncludedAI,
    PlanInfo,
    Credits,
    ProviderUsageTotal,
    Usage,
    Membership,
    Me,
    ApiKeyCreate,
    ApiKey,
    ApiKeyCreated,
    ApiKeyList,
    ProviderKeyPut,
    ProviderKey,
    ProviderKeyList,
    ProviderOption,
    Included,
    StepProviders,
    ProviderCatalog,
    AuditEntry,
    AuditPage,
    ProviderChoice,
    JobInputs,
    SceneInput,
    JobCreate,
    StepUsage,
    Step,
    JobError,
    JobOutputs,
    JobCost,
    Job,
    StepEstimate,
    JobEstimate,
    JobList,
    Event,
    EventPage,
    UploadCreate,
    UploadForm,
    Upload,
    WebhookEndpointCreate,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointList,
    PlanOffer,
    PlanCatalog,
    PackOffer,
    PackCatalog,
    CheckoutCreate,
    CheckoutSession,
    StreamToken,
    WebhookAck,
    Health,
    ErrorBody,
)
