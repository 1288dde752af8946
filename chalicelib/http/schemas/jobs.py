"""Schemas of jobs: the submission, a job and its steps, events, the provider catalog."""

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from chalicelib.core.model_base import Model
from chalicelib.http.schemas.common import (
    EventCursor,
    JobId,
    PageQuery,
    Strict,
    UploadId,
    WebhookUrl,
    _enum_of_providers,
)
from chalicelib.jobs.states import EventType, JobStatus, StepStatus


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
Motion = Literal["none", "ai"]
MAX_MOTION_SCENES = 60  # the most scenes a concept has (ConceptDraft)


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
    motion: Motion | Annotated[list[Motion], Field(max_length=MAX_MOTION_SCENES)] = Field(
        "none",
        description=(
            "none: stills move by slow zoom and crossfades; ai: each still becomes a generated clip "
            "(image-to-video, the `video` provider, e.g. fal), a moving still where one can't be made; "
            "or one value per scene, in order (scenes past the list: none)"
        ),
    )
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
    video_s: float = Field(0.0, description="seconds of video generated")
    variant: str | None = Field(
        None, description='what the price depends on besides the model, e.g. "1024x1536:medium"'
    )
    bytes: int = Field(0, description="size of what the provider produced")
    wall_s: float = 0.0
    account: Literal["platform", "own", "none"] = Field(
        "none",
        description="Whose account paid: the platform's (charged in credits), the user's own key, or none (offline)",
    )
    cost_micros: int = Field(0, ge=0, description="What the calls cost, in micro-dollars (USD / 1 000 000)")


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
    cost_micros: int = Field(
        0, description="What the step's provider calls cost, all accounts (micro-dollars)"
    )


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


class JobCost(Model):
    """Money in integer micro-dollars (1 USD = 1 000 000)."""

    estimate_micros: int = Field(0, description="The upper bound reserved from credits at submission")
    held_micros: int = Field(0, description="Credits the job holds now (0 once it ended)")
    charged_micros: int = Field(0, description="Credits charged for the platform's AI (settled when it ends)")
    platform_micros: int = Field(0, description="What the platform's accounts spent on it so far")
    own_micros: int = Field(0, description="What calls on your own keys cost (billed to you by the provider)")


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
    eta_s: float | None = Field(
        None,
        ge=0,
        description="Seconds left until the job ends, from its latest estimate (0 once it succeeded; "
        "null when it failed, was canceled, or has no estimate)",
    )
    eta_at: str | None = Field(None, description="When the job should end (its latest estimate)")
    cost: JobCost = Field(default_factory=JobCost, description="What the job's AI cost")


class StepEstimate(Model):
    purpose: Literal["concept", "image", "narration", "video"]
    provider: str
    account: Literal["platform", "own", "none"]
    model: str | None = None
    cost_micros: int = Field(description="Upper bound of what the purpose's calls cost")


class JobEstimate(Model):
    steps: list[StepEstimate]
    cost_micros: int = Field(description="Upper bound of the whole job, all accounts")
    credits_micros: int = Field(description="What submitting reserves from your credits (platform AI)")
    credits_available_micros: int
    fits: bool = Field(description="Your credits cover the reservation (else submitting answers 402)")
    wall_s: float = Field(description="Expected seconds from submission to the video")
    plan: str


class JobList(Model):
    items: list[Job]
    next_cursor: str | None


class Event(Model):
    id: str
    type: EventType
    step: str | None
    progress: int | None
    message: str | None
    at: str
    eta_s: float | None = Field(
        None,
        ge=0,
        description="Seconds left until the job ends, estimated as of this event (null: no estimate)",
    )
    eta_at: str | None = Field(None, description="When the job should end, as estimated at this event")


class EventPage(Model):
    events: list[Event]
    next: str = Field(description="Cursor to pass as `after` next time")
    status: JobStatus


class ProviderOption(Model):
    name: str
    needs_key: bool
    has_key: bool = Field(description="The caller stored the key this provider needs (never the key)")


class Included(Model):
    provider: str
    model: str | None = None
    quality: str | None = None
    available: bool = Field(description="The operator configured the platform's account for it")


class StepProviders(Model):
    step: Literal["concept", "image", "narration", "video"]
    default: str
    providers: list[ProviderOption]
    included: Included | None = Field(None, description="What your plan includes on the platform's account")


class VoiceOption(Model):
    name: str = Field(description="What to pass as the job's `voice`")
    provider: str = Field(description="The narration provider that speaks it")
    engine: str
    languages: list[str] = Field(description='Languages it speaks; ["*"]: the job\'s language')
    default: bool = Field(False, description="Spoken when a job names no voice (in its languages)")


class ProviderCatalog(Model):
    items: list[StepProviders]
    voices: list[VoiceOption] = Field(default_factory=list)


class StreamToken(Model):
    token: str = Field(description="Pass as ?stream_token= to this job's events endpoint")
    expires_in: int


class JobsQuery(PageQuery):
    status: JobStatus | None = Field(None, description="Only jobs in this status")
    cursor: JobId | None = Field(None, description="`next_cursor` of the previous page")


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
