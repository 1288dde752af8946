"""One settings object, read from the environment (and `.env`) and validated once per process.

The environment is read here (`_environment`) rather than by pydantic-settings: the same
rules for what we use (a field's variable is its name or its alias, in any case; dict and list
fields are JSON; the environment wins over `.env`; keyword arguments win over both), without
~50 ms of imports on every cold start.

A leaf: it imports nothing of ours but the model base. Each domain checks its own part of the
settings where it reads them (plans: chalicelib.billing.plans; the pipeline and default providers:
chalicelib.pipeline.providers), so a bad PLANS or PIPELINE fails that domain's first use loudly.
"""

import json
import os
import re
import typing
from functools import lru_cache
from typing import Any, Literal, Self
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from chalicelib.core.model_base import Model

MB = 1024 * 1024
LOCAL_JWT_SECRET = "local-development-only-jwt-secret-change-me"
MIN_JWT_SECRET_BYTES = 32  # HS256 keys shorter than the hash output are guessable offline


def _dotenv(path: str) -> dict[str, str]:
    """KEY=value lines of a `.env` file (comments, blank lines and `export ` allowed)."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip().upper()] = value
    return found


def _is_json(annotation: Any) -> bool:
    """dict and list fields (also optional ones) come as JSON text."""
    if typing.get_origin(annotation) in (dict, list):
        return True
    return any(_is_json(arg) for arg in typing.get_args(annotation))


def _environment(model: type[BaseModel]) -> dict[str, Any]:
    env = {**_dotenv(".env"), **{k.upper(): v for k, v in os.environ.items()}}
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.validation_alias if isinstance(field.validation_alias, str) else name
        if key.upper() in env:
            raw = env[key.upper()]
            values[key] = json.loads(raw) if _is_json(field.annotation) else raw
    return values


class Settings(Model):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**_environment(type(self)), **values})

    stage: str = "local"
    database_url: str = "mysql://root:@127.0.0.1:3306/media"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Cluster mode (ElastiCache Serverless always is): REDIS_URL names one node (or the
    # serverless endpoint) and the client discovers the rest; see chalicelib.infra.redis_client.
    redis_cluster: bool = False

    aws_region: str = Field("us-east-1", validation_alias="AWS_REGION")
    # Local default: the AWS emulator (LocalStack or the moto server) on loopback.
    aws_endpoint_url: str | None = Field(None, validation_alias="AWS_ENDPOINT_URL")
    media_bucket: str = "media-local"

    jwt_secret: SecretStr | None = None  # local stage: LOCAL_JWT_SECRET; the worker needs none
    # In AWS, secrets come from Secrets Manager at run time (chalicelib.infra.secret_store), not through
    # environment variables anyone with read access to the function's configuration could see.
    jwt_secret_arn: str | None = None
    whop_webhook_secret_arn: str | None = None
    # CloudFront's proof that a request came through it (chalicelib.http.origin): in AWS from
    # Secrets Manager (ORIGIN_VERIFY_SECRET_ARN); unset locally, where nothing is checked.
    origin_verify_secret: SecretStr | None = None
    origin_verify_secret_arn: str | None = None
    access_token_ttl_s: int = 12 * 3600

    queue_name: str = "media-jobs"
    # A hash tag ({...}): every key of every queue in one cluster slot, as BullMQ's Lua needs.
    queue_prefix: str = "{bull}"
    job_attempts: int = Field(3, ge=1, le=20)
    worker_concurrency: int = Field(2, ge=1, le=32)
    # A dead worker's job is taken over within about lock + stalled interval (BullMQ) and, at
    # most, the MySQL lease: ~30 s with these defaults.
    worker_lock_ms: int = Field(20_000, ge=1_000)
    worker_stalled_interval_ms: int = Field(10_000, ge=500)
    job_lease_s: int = Field(30, ge=3)
    reaper_grace_s: int = Field(60, ge=1)
    # A worker cut off from MySQL or Redis pauses its job (backoff with jitter) for up to this
    # long, then hands it back to the queue; neither spends one of the job's attempts.
    store_outage_max_s: int = Field(120, ge=1)
    presign_ttl_s: int = Field(900, ge=60, le=7 * 24 * 3600)
    events_max_per_job: int = 2000
    # B108 (/tmp): the worker's scratch root, in its own container (Fargate) or the developer's machine
    work_dir: str = "/tmp/media-work"  # nosec B108

    # Billing. PLANS overrides the defaults per field, e.g. {"free": {"monthly_jobs": 10}}.
    plans: dict[str, dict] = Field(default_factory=dict)
    # Platform AI (chalicelib/billing/prices.py, credits.py): PRICES adds or overrides
    # "provider/model" prices (micro-dollars, see prices.Price); PLATFORM_PROVIDERS names the
    # providers the operator put their own account behind (each key in Secrets Manager, secret
    # "<PLATFORM_SECRET_PREFIX><provider>", read by the worker only); daily spend ceilings in
    # micro-dollars per provider for the whole platform and per user (0: none); CREDIT_PACKS maps
    # a Whop plan id of a one-time product to the pack it sells, e.g. {"plan_x": {"name": "small",
    # "credits_micros": 5000000, "price_micros": 5000000}} (checked in chalicelib/billing/packs.py).
    prices: dict[str, dict] = Field(default_factory=dict)
    platform_providers: list[str] = Field(default_factory=list)
    platform_secret_prefix: str = "media-orchestrator/platform/"
    platform_key_cache_s: float = Field(60.0, ge=0, le=3600)
    platform_daily_ceiling_micros: dict[str, int] = Field(default_factory=dict)
    user_daily_ceiling_micros: int = Field(0, ge=0)
    credit_packs: dict[str, dict] = Field(default_factory=dict)
    whop_plan_map: dict[str, str] = Field(default_factory=dict, description="Whop plan id -> our plan")
    whop_webhook_secret: SecretStr | None = None
    # Checkout (chalicelib/billing/checkout.py): the app's Whop API key (in AWS from Secrets
    # Manager via WHOP_API_KEY_ARN) and Whop's API root; the buyer comes back to PUBLIC_URL.
    whop_api_key: SecretStr | None = None
    whop_api_key_arn: str | None = None
    whop_api_url: str = "https://api.whop.com/api/v1"
    whop_timeout_s: float = Field(10.0, gt=0, le=30)
    kms_key_id: str = "alias/media-provider-keys"

    # Rate limits ("N/second|minute|hour"): per IP on auth, per user on submissions and uploads.
    rate_limit_auth: str = "20/minute"
    rate_limit_jobs: str = "60/minute"
    rate_limit_uploads: str = "60/minute"
    login_failures_allowed: int = 5  # per account and source per 15 minutes, then waits grow
    long_polls_per_user: int = Field(5, ge=1, description="events long-polls one user may hold open")
    # Email verification and password reset (chalicelib/accounts/email_links.py): links point at the
    # console (PUBLIC_URL + /verify-email?token=... or /reset-password?token=...), mail goes
    # through Amazon SES from MAIL_FROM (a verified SES identity).
    public_url: str = "http://127.0.0.1:8000"
    # In AWS: the SSM parameter holding the console's URL (chalicelib/infra/public_url.py); wins.
    public_url_parameter: str | None = None
    mail_from: str = "no-reply@media-orchestrator.local"
    email_verification_ttl_s: int = Field(24 * 3600, ge=300, le=7 * 24 * 3600)
    password_reset_ttl_s: int = Field(30 * 60, ge=60, le=3600)
    rate_limit_email: str = "5/hour"  # verification and reset mails per account (and per IP)
    # Caps and write limits on credentials (each write is a KMS call).
    max_api_keys_per_user: int = Field(20, ge=1)
    max_webhook_endpoints_per_user: int = Field(10, ge=1)
    rate_limit_credential_writes: str = "20/minute"  # per user: API keys, provider keys, endpoints
    webhook_fanout_max: int = Field(20, ge=1, description="most endpoints one event is sent to")

    # Uploads and cleanup (functions/cleanup.py).
    upload_expiry_s: int = Field(600, ge=60, le=3600, description="Lifetime of a presigned upload form")
    pending_upload_max_age_s: int = Field(
        24 * 3600, ge=3600, description="Then a never-finished upload expires"
    )
    audit_retention_days: int = Field(365, ge=1)

    # Scaling (chalicelib/runtime/dispatcher.py): workers = ceil(queue depth / WORKER_CONCURRENCY), at
    # most MAX_WORKERS, started as ECS Fargate tasks ("ecs") or local processes ("local").
    dispatch_mode: Literal["ecs", "local"] | None = None  # default: local in the local stage
    dispatch_on_submit: bool = False  # also dispatch right after a submission (not only per minute)
    dispatcher_function: str = ""  # in AWS the API nudges by invoking this Lambda asynchronously
    max_workers: int = Field(10, ge=0, le=200)
    ecs_cluster: str = "media-local"
    worker_task_definition: str = "media-worker-local"
    worker_subnets: str = ""  # comma-separated subnet ids
    worker_security_group: str = ""
    local_dir: str = ""  # pid files and logs of local processes; default: <repo>/.local
    worker_idle_exit_s: float = Field(0, ge=0, description="exit after this long idle; 0 = never")
    # With idle exit on: a worker idle this long exits early when the queue is empty and it is
    # not the longest-lived worker (that one stays warm). 0 = off. See docs/capacity.md.
    worker_surplus_idle_s: float = Field(30, ge=0)
    nudge_debounce_ms: int = Field(5000, ge=0, description="at most one dispatch per this, on submit")

    # Providers (chalicelib/pipeline): per-step defaults, e.g. {"concept": "openai"} (a keyed
    # default applies only to users who stored that key), the OpenAI-compatible models, per-call
    # timeouts and retries, and the shared circuit breaker (N transient failures in a window).
    default_providers: dict[str, str] = Field(default_factory=dict)
    openai_chat_model: str = "gpt-4o-mini"
    openai_image_model: str = "gpt-image-1"
    openai_image_quality: str = "medium"  # gpt-image-1: low | medium | high; dall-e-3: standard | hd
    openai_speech_model: str = "gpt-4o-mini-tts"
    openai_voice: str = "alloy"
    openai_transcription_model: str = "whisper-1"  # word timestamps of network speech
    # Network speech: a line is decoded to at most this long (the longest video a default plan
    # makes), and sent for word timestamps only up to this size (OpenAI takes 25 MB).
    speech_max_s: float = Field(180.0, gt=0)
    # ElevenLabs speech (chalicelib/pipeline/remote/elevenlabs.py): the model, the default voice
    # (a voice id of the account; a job's `voice` may name another), scenes spoken at once, and
    # how long one call waits out 429s (ElevenLabs' "too many concurrent requests") before they
    # count as failed tries.
    elevenlabs_model: str = "eleven_multilingual_v2"
    elevenlabs_voice: str = Field("JBFqnCBsd6RMkjVDRZzb", pattern=r"^[A-Za-z0-9]{1,64}$")  # George
    elevenlabs_parallel_calls: int = Field(3, ge=1, le=16)
    elevenlabs_rate_limit_wait_s: float = Field(60.0, ge=0, le=600)
    # Replicate predictions (chalicelib/pipeline/remote/replicate.py): the image model, the
    # image-to-video model (AI motion), how many predictions a job runs at once, how long it
    # waits out 429s, and one prediction's deadline
    replicate_image_model: str = Field("black-forest-labs/flux-schnell", pattern=r"^[\w.-]+/[\w.-]+$")
    replicate_video_model: str = Field("kwaivgi/kling-v2.1", pattern=r"^[\w.-]+/[\w.-]+$")
    replicate_parallel_calls: int = Field(4, ge=1, le=16)
    replicate_rate_limit_wait_s: float = Field(120.0, ge=0, le=600)
    replicate_deadline_s: float = Field(600.0, ge=5, le=3600)
    replicate_max_output_bytes: int = Field(40 * MB, ge=1024)
    transcription_max_bytes: int = Field(25 * MB, ge=1024)
    provider_timeout_s: float = Field(60.0, gt=0, description="total deadline of one provider call")
    provider_max_response_bytes: int = Field(32 * MB, ge=1024, description="cap on a provider's answer")
    webhook_timeout_s: float = Field(10.0, gt=0, description="total deadline of one webhook delivery")
    image_max_pixels: int = Field(50_000_000, ge=1_000_000, description="largest image decoded")
    # Largest video frame any ffmpeg input or the clip probe decodes (`-max_pixels`): a 3840 px
    # square, the biggest clip a plan admits. Decoding a frame costs ~1.5 bytes a pixel per buffer.
    decode_max_pixels: int = Field(3840 * 3840, ge=1920 * 1920)
    step_max_s: float = Field(900.0, gt=0, description="a step running longer fails: step_timeout")
    provider_max_retries: int = Field(2, ge=0, le=5)
    provider_retry_after_max_s: float = Field(20.0, ge=0, description="longest Retry-After honoured")
    provider_breaker_failures: int = Field(3, ge=1)
    provider_breaker_window_s: int = Field(60, ge=1)
    provider_breaker_cooldown_s: int = Field(120, ge=1)
    # The pipeline every job runs (not the user's choice): "steps" (ours: concept, image, video,
    # upload) or "command" (a customer's orchestrator as the video step, docs/plugins.md).
    pipeline: str = "steps"  # a registered pipeline (chalicelib/pipeline/registry.py)
    pipeline_command: list[str] = Field(default_factory=list, description='e.g. ["python", "-m", "src.main"]')
    pipeline_command_cwd: str = ""  # where it runs; relative to the repository
    pipeline_command_timeout_s: float = Field(1800.0, gt=0)
    pipeline_command_grace_s: float = Field(10.0, ge=0, description="SIGTERM, then SIGKILL after this")
    pipeline_command_env: dict[str, str] = Field(default_factory=dict, description="extra environment")
    # Stock footage (chalicelib/pipeline/remote/pexels.py): Pexels' API (the operator's choice,
    # never a user's: their key cannot name another server), each downloaded file's size cap and deadline.
    pexels_api_url: str = "https://api.pexels.com"
    stock_max_bytes: int = Field(100 * MB, ge=1)
    stock_download_s: float = Field(60.0, gt=0)
    # Generative media on fal.ai's queue API (chalicelib/pipeline/remote/fal.py): the models
    # (settings, not code), how many generations run at once per job, one generation's deadline
    # (queue wait included), the longest pause between status polls, and each output's size cap.
    fal_image_model: str = "fal-ai/flux/schnell"
    fal_video_model: str = "fal-ai/kling-video/v2.1/standard/image-to-video"
    # 8, above the 6 scenes of a 30 s job: with 4, a 30 s job's clips (20-40 s each) ran in two
    # rounds and took twice as long (bench/generate.py). fal queues the requests beyond an
    # account's concurrency itself (IN_QUEUE), so asking for all scenes at once costs nothing.
    fal_parallel_calls: int = Field(8, ge=1, le=16)
    fal_max_wait_s: float = Field(600.0, gt=0)
    # 2 s: a 40 s clip seen done at most 2 s late (5 s added an eighth to a 30 s job's wait);
    # ~25 status polls a clip, which fal does not bill.
    fal_poll_max_s: float = Field(2.0, gt=0)
    fal_max_output_bytes: int = Field(50 * MB, ge=1024)

    # DATABASE_URL gives host/port/database; with a secret ARN (RDS-managed, rotating), the user
    # and password come from the secret at connect time instead.
    database_secret_arn: str | None = None
    # TLS to MySQL (on in AWS: Aurora requires it; off locally, where MariaDB serves none), the
    # server's certificate and name verified against DATABASE_CA_BUNDLE, by default the RDS CAs
    # shipped in the package (chalicelib/infra/rds-ca-bundle.pem).
    database_tls: bool = False
    database_ca_bundle: str | None = None

    # Observability (chalicelib/core/observability.py). Metrics default to on outside the local stage.
    service_name: str = Field("media-orchestrator", validation_alias="POWERTOOLS_SERVICE_NAME")
    metrics_namespace: str = "MediaOrchestrator"
    metrics_enabled: bool | None = None
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    @model_validator(mode="after")
    def _stage_rules(self) -> Self:
        if self.stage == "local" and self.aws_endpoint_url is None and not self.uses_localstack:
            self.aws_endpoint_url = "http://127.0.0.1:4566"
        if self.dispatch_mode is None:
            self.dispatch_mode = "local" if self.stage == "local" else "ecs"
        if self.metrics_enabled is None:
            self.metrics_enabled = self.stage != "local"
        if self.redis_cluster and not re.fullmatch(r"[^{}]*\{[^{}]+\}[^{}]*", self.queue_prefix):
            raise ValueError(
                f"QUEUE_PREFIX {self.queue_prefix!r} needs a hash tag like {{bull}} in cluster mode"
            )
        if self.jwt_secret is None and self.stage == "local":
            self.jwt_secret = SecretStr(LOCAL_JWT_SECRET)
        if self.stage != "local" and self.jwt_secret is not None:
            value = self.jwt_secret.get_secret_value()
            if value == LOCAL_JWT_SECRET:
                raise ValueError("JWT_SECRET is the local development value; set a real one")
            if len(value.encode()) < MIN_JWT_SECRET_BYTES:
                raise ValueError(
                    f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes outside the local stage"
                )
        return self

    @property
    def uses_localstack(self) -> bool:
        """LocalStack's conventions: USE_LOCALSTACK=1, or LOCALSTACK_HOSTNAME (set in its Lambdas)."""
        return os.environ.get("USE_LOCALSTACK", "").lower() in ("1", "true") or bool(
            os.environ.get("LOCALSTACK_HOSTNAME")
        )

    @property
    def worker_subnet_ids(self) -> list[str]:
        return [s.strip() for s in self.worker_subnets.split(",") if s.strip()]

    def mysql_params(self) -> dict:
        """pymysql.connect() keyword arguments parsed from DATABASE_URL."""
        url = urlparse(self.database_url)
        return {
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 3306,
            "user": unquote(url.username or "root"),
            "password": unquote(url.password or ""),
            "database": url.path.lstrip("/") or "media",
        }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
