"""A typed, synchronous client for every route of the media orchestrator API (/v1).

    from mo_client import Client
    with Client("http://127.0.0.1:8000", token="ak_...") as mo:
        job = mo.submit("a paper boat sails to the moon", duration_s=5)
        for event in mo.follow(job.id):
            print(event.type, event.progress)
        mo.download(job.id, ".")

Errors arrive as `mo_client.errors` exceptions. 429 and 503 answers are retried after the
server's Retry-After (or a short backoff), so are connections that could not be made.
"""

from __future__ import annotations

import mimetypes
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
from httpx_sse import SSEError, connect_sse
from pydantic import BaseModel

from mo_client import errors
from mo_client.models import (
    TERMINAL_STATUSES,
    Accepted,
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    AuditEntry,
    AuditPage,
    CheckoutCreate,
    CheckoutSession,
    Credentials,
    EmailVerified,
    Event,
    EventPage,
    Health,
    Job,
    JobCreate,
    JobEstimate,
    JobList,
    LinkToken,
    Me,
    PackCatalog,
    PasswordResetConfirm,
    PasswordResetRequest,
    PlanCatalog,
    ProviderCatalog,
    ProviderKey,
    ProviderKeyList,
    ProviderKeyPut,
    StreamToken,
    TokenReply,
    Upload,
    UploadCreate,
    UploadForm,
    UploadStatus,
    WebhookEndpoint,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
)

DEFAULT_API_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 503})
M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])


def route(method: str, path: str, body: type | None = None) -> Callable[[F], F]:
    """Marks the method that calls `method path` of the API (sending `body`). The drift test
    checks every route of the served document has one, and that the models match."""

    def mark(fn: F) -> F:
        fn.__route__ = (method, path, body)  # type: ignore[attr-defined]
        return fn

    return mark


def routes() -> dict[str, tuple[str, str, type | None]]:
    """Client method name -> (method, path, request body model)."""
    return {name: fn.__route__ for name, fn in vars(Client).items() if hasattr(fn, "__route__")}


class Downloaded(NamedTuple):
    video: Path
    captions: Path | None
    thumbnail: Path | None


class UploadRejected(errors.MoError):
    """The file reached storage but the server's checks refused it (size, type, content)."""

    code = "upload_rejected"

    def __init__(self, upload: Upload):
        super().__init__(f"upload {upload.id} {upload.status}: {upload.reason or 'no reason given'}")
        self.upload = upload


class Client:
    """One API base URL and one credential (access token or API key `ak_...`)."""

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        max_retry_wait: float = 60.0,
        user_agent: str = "mo-client/0.1",
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.max_retries, self.max_retry_wait = max_retries, max_retry_wait
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"User-Agent": user_agent},
            limits=httpx.Limits(max_connections=32),
        )
        # Presigned S3 URLs: another host, and our Authorization header must never reach it.
        self._storage = httpx.Client(timeout=httpx.Timeout(timeout, read=120.0))

    def close(self) -> None:
        self._http.close()
        self._storage.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing -------------------------------------------------------------------------
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def _backoff(self, attempt: int) -> float:
        return min(self.max_retry_wait, 0.5 * 2**attempt) * (0.5 + random.random() / 2)  # noqa: S311

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when this answer is final."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
            return None
        asked = errors.parse_retry_after(response.headers.get("retry-after"))
        wait = asked if asked is not None else self._backoff(attempt)
        return wait if wait <= self.max_retry_wait else None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """One API call with retries; raises the typed error for any status >= 400 but those
        in `accept` (which are not retried either)."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        # Safe to resend after a timeout: reads, PUT/DELETE, and submits carrying a key.
        resendable = method in ("GET", "PUT", "DELETE") or "Idempotency-Key" in (headers or {})
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers=self._headers(headers),
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= self.max_retries:
                    raise errors.ConnectionFailed(f"cannot reach {self.base_url}: {exc}") from None
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                if not resendable or attempt >= self.max_retries:
                    raise errors.ConnectionFailed(f"{method} {path} failed: {exc}") from None
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            wait = None if response.status_code in accept else self._retry_wait(response, attempt)
            if wait is None:
                break
            self._sleep(wait)
            attempt += 1
        if response.status_code >= 400 and response.status_code not in accept:
            raise errors.from_response(response)
        return response

    def _get(self, model: type[M], path: str, **params: Any) -> M:
        return model.model_validate(self.request("GET", path, params=params).json())

    def _send(self, model: type[M], method: str, path: str, body: BaseModel | None = None) -> M:
        payload = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        return model.model_validate(self.request(method, path, json=payload).json())

    @staticmethod
    def _pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            page = fetch(cursor)
            yield from page.items
            cursor = page.next_cursor
            if not cursor:
                return

    # ---- accounts ---------------------------------------------------------------------------
    @route("POST", "/v1/auth/signup", body=Credentials)
    def signup(self, email: str, password: str) -> TokenReply:
        """Create an account; the client then uses its access token."""
        reply = self._send(TokenReply, "POST", "/v1/auth/signup", Credentials(email=email, password=password))
        self.token = reply.access_token
        return reply

    @route("POST", "/v1/auth/login", body=Credentials)
    def login(self, email: str, password: str) -> TokenReply:
        """Get an access token; the client then uses it."""
        reply = self._send(TokenReply, "POST", "/v1/auth/login", Credentials(email=email, password=password))
        self.token = reply.access_token
        return reply

    @route("POST", "/v1/auth/verify-email", body=LinkToken)
    def verify_email(self, token: str) -> EmailVerified:
        """Confirm the address with the token of the mailed link (`...?token=`), signed in as its account."""
        return self._send(EmailVerified, "POST", "/v1/auth/verify-email", LinkToken(token=token))

    @route("POST", "/v1/auth/resend-verification")
    def resend_verification(self) -> Accepted:
        """Mail the caller a new verification link."""
        return self._send(Accepted, "POST", "/v1/auth/resend-verification")

    @route("POST", "/v1/auth/password-reset", body=PasswordResetRequest)
    def request_password_reset(self, email: str) -> Accepted:
        """Mail a reset link (answers the same whether or not the account exists)."""
        return self._send(Accepted, "POST", "/v1/auth/password-reset", PasswordResetRequest(email=email))

    @route("POST", "/v1/auth/password-reset/confirm", body=PasswordResetConfirm)
    def confirm_password_reset(self, token: str, password: str) -> TokenReply:
        """Set a new password with the mailed token; earlier sessions end, the client uses the new one."""
        reply = self._send(
            TokenReply,
            "POST",
            "/v1/auth/password-reset/confirm",
            PasswordResetConfirm(token=token, password=password),
        )
        self.token = reply.access_token
        return reply

    @route("GET", "/v1/me")
    def me(self) -> Me:
        return self._get(Me, "/v1/me")

    @route("POST", "/v1/api-keys", body=ApiKeyCreate)
    def create_api_key(self, name: str) -> ApiKeyCreated:
        return self._send(ApiKeyCreated, "POST", "/v1/api-keys", ApiKeyCreate(name=name))

    @route("GET", "/v1/api-keys")
    def list_api_keys(self, *, limit: int | None = None, cursor: str | None = None) -> ApiKeyList:
        return self._get(ApiKeyList, "/v1/api-keys", limit=limit, cursor=cursor)

    def iter_api_keys(self) -> Iterator[ApiKey]:
        return self._pages(lambda c: self.list_api_keys(limit=100, cursor=c))

    @route("DELETE", "/v1/api-keys/{key_id}")
    def delete_api_key(self, key_id: str) -> None:
        self.request("DELETE", f"/v1/api-keys/{key_id}")

    @route("PUT", "/v1/provider-keys/{provider}", body=ProviderKeyPut)
    def put_provider_key(self, provider: str, api_key: str, base_url: str | None = None) -> ProviderKey:
        return self._send(
            ProviderKey,
            "PUT",
            f"/v1/provider-keys/{provider}",
            ProviderKeyPut(api_key=api_key, base_url=base_url),
        )

    @route("GET", "/v1/provider-keys")
    def list_provider_keys(self) -> ProviderKeyList:
        return self._get(ProviderKeyList, "/v1/provider-keys")

    @route("DELETE", "/v1/provider-keys/{provider}")
    def delete_provider_key(self, provider: str) -> None:
        self.request("DELETE", f"/v1/provider-keys/{provider}")

    @route("GET", "/v1/providers")
    def providers(self) -> ProviderCatalog:
        return self._get(ProviderCatalog, "/v1/providers")

    @route("GET", "/v1/audit-log")
    def audit_log(self, *, limit: int | None = None, cursor: str | None = None) -> AuditPage:
        return self._get(AuditPage, "/v1/audit-log", limit=limit, cursor=cursor)

    def iter_audit_log(self) -> Iterator[AuditEntry]:
        return self._pages(lambda c: self.audit_log(limit=100, cursor=c))

    # ---- jobs -------------------------------------------------------------------------------
    @route("POST", "/v1/jobs", body=JobCreate)
    def submit(
        self, prompt: str | JobCreate | None = None, *, idempotency_key: str | None = None, **fields: Any
    ) -> Job:
        """Submit a job from a prompt, or from your own `script=` text or `scenes=[...]`.

        Every submit carries an Idempotency-Key (a fresh one unless given), so a retried request
        can never make a second job; `job.replayed` tells a replay apart. Fields the client does
        not model yet pass through to the server as given."""
        body = prompt if isinstance(prompt, JobCreate) else JobCreate(prompt=prompt, **fields)
        key = idempotency_key or f"mo-{uuid.uuid4()}"
        response = self.request(
            "POST",
            "/v1/jobs",
            json=body.model_dump(mode="json", exclude_none=True),
            headers={"Idempotency-Key": key},
        )
        job = Job.model_validate(response.json())
        job._replayed = response.headers.get("idempotent-replayed") == "true"
        return job

    @route("POST", "/v1/jobs/estimate", body=JobCreate)
    def estimate(self, prompt: str | JobCreate | None = None, **fields: Any) -> JobEstimate:
        """What submitting the same body would cost, reserve from your credits and take;
        nothing is created."""
        body = prompt if isinstance(prompt, JobCreate) else JobCreate(prompt=prompt, **fields)
        return self._send(JobEstimate, "POST", "/v1/jobs/estimate", body)

    @route("GET", "/v1/jobs")
    def list_jobs(
        self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> JobList:
        return self._get(JobList, "/v1/jobs", status=status, limit=limit, cursor=cursor)

    def iter_jobs(self, *, status: str | None = None) -> Iterator[Job]:
        return self._pages(lambda c: self.list_jobs(status=status, limit=100, cursor=c))

    @route("GET", "/v1/jobs/{job_id}")
    def get_job(self, job_id: str) -> Job:
        return self._get(Job, f"/v1/jobs/{job_id}")

    @route("POST", "/v1/jobs/{job_id}/cancel")
    def cancel(self, job_id: str) -> Job:
        return self._send(Job, "POST", f"/v1/jobs/{job_id}/cancel")

    @route("POST", "/v1/jobs/{job_id}/retry")
    def retry(self, job_id: str) -> Job:
        return self._send(Job, "POST", f"/v1/jobs/{job_id}/retry")

    @route("POST", "/v1/jobs/{job_id}/stream-token")
    def stream_token(self, job_id: str) -> StreamToken:
        """A short-lived token for one job's events, for a browser's EventSource (no headers)."""
        return self._send(StreamToken, "POST", f"/v1/jobs/{job_id}/stream-token")

    @route("GET", "/v1/jobs/{job_id}/events")
    def events(self, job_id: str, *, after: str | None = None, wait: int = 0) -> EventPage:
        """One page of events after `after` (JSON long-poll: answers at the first event)."""
        return EventPage.model_validate(
            self.request(
                "GET", f"/v1/jobs/{job_id}/events", params={"after": after, "wait": wait}, timeout=wait + 15.0
            ).json()
        )

    @route("GET", "/v1/jobs/{job_id}/events")
    def follow(self, job_id: str, *, after: str | None = None, wait: int = 15) -> Iterator[Event]:
        """Every event of the job after `after`, until it ends (the terminal event is the last).

        Reads Server-Sent-Events frames and reconnects with `Last-Event-ID`. The API can't stream
        (Chalice), so each response ends at its first batch of events (or after `wait` quiet
        seconds) and the next one opens at once: the bars move as the worker reports. When a response brings nothing, one JSON page also says whether the job
        ended without a final event left in the stream (e.g. its events expired)."""
        cursor, attempt = after, 0
        while True:
            got_any = False
            headers = self._headers({"Last-Event-ID": cursor} if cursor else None)
            try:
                with connect_sse(
                    self._http,
                    "GET",
                    f"/v1/jobs/{job_id}/events",
                    params={"wait": wait},
                    headers=headers,
                    timeout=httpx.Timeout(10.0, read=wait + 15.0),
                ) as source:
                    response = source.response
                    if response.status_code >= 400:
                        response.read()
                        pause = self._retry_wait(response, attempt)
                        if pause is None:
                            raise errors.from_response(response)
                        self._sleep(pause)
                        attempt += 1
                        continue
                    for frame in source.iter_sse():
                        if not frame.data:  # e.g. the `retry:` preamble
                            continue
                        event = Event.model_validate_json(frame.data)
                        cursor, got_any = frame.id or event.id, True
                        yield event
                        if event.terminal:
                            return
                attempt = 0
            except (httpx.TransportError, SSEError) as exc:
                if attempt >= self.max_retries:
                    raise errors.ConnectionFailed(f"following {job_id} failed: {exc}") from None
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            if not got_any:
                page = self.events(job_id, after=cursor)
                for event in page.events:
                    cursor = event.id
                    yield event
                    if event.terminal:
                        return
                if page.status in TERMINAL_STATUSES:
                    return

    def wait(self, job_id: str, *, on_event: Callable[[Event], None] | None = None) -> Job:
        """Follow the job until it ends and return it as it ended."""
        for event in self.follow(job_id):
            if on_event is not None:
                on_event(event)
        return self.get_job(job_id)

    def download(
        self, job: str | Job, directory: str | Path = ".", *, captions: bool = True, thumbnail: bool = False
    ) -> Downloaded:
        """Save a succeeded job's MP4 (and SRT captions, and the thumbnail if asked) as
        `<job id>.mp4` etc. in `directory`; URLs are fetched fresh, so they are never stale."""
        job_id = job if isinstance(job, str) else job.id
        current = self.get_job(job_id)
        if current.outputs is None:
            raise errors.MoError(f"job {job_id} has no outputs (status {current.status})")
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        video = self._fetch(current.outputs.video_url, folder / f"{job_id}.mp4")
        srt = self._fetch(current.outputs.captions_url, folder / f"{job_id}.srt") if captions else None
        jpg = self._fetch(current.outputs.thumbnail_url, folder / f"{job_id}.jpg") if thumbnail else None
        return Downloaded(video, srt, jpg)

    def _fetch(self, url: str, path: Path) -> Path:
        partial = path.with_name(path.name + ".part")
        try:
            with self._storage.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise errors.from_response(response)
                with open(partial, "wb") as fh:
                    for chunk in response.iter_bytes():
                        fh.write(chunk)
        except httpx.TransportError as exc:
            partial.unlink(missing_ok=True)
            raise errors.ConnectionFailed(f"download of {path.name} failed: {exc}") from None
        partial.replace(path)
        return path

    # ---- uploads ------------------------------------------------------------------------------
    @route("POST", "/v1/uploads", body=UploadCreate)
    def create_upload(self, filename: str, content_type: str, size_bytes: int) -> UploadForm:
        return self._send(
            UploadForm,
            "POST",
            "/v1/uploads",
            UploadCreate(filename=filename, content_type=content_type, size_bytes=size_bytes),
        )

    @route("GET", "/v1/uploads/{upload_id}")
    def get_upload(self, upload_id: str) -> Upload:
        return self._get(Upload, f"/v1/uploads/{upload_id}")

    def upload_file(self, path: str | Path, content_type: str | None = None) -> Upload:
        """Upload a local file through a presigned POST and return it once the server checked it."""
        path = Path(path)
        content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        form = self.create_upload(path.name, content_type, path.stat().st_size)
        try:
            with open(path, "rb") as fh:
                response = self._storage.post(
                    form.url, data=form.fields, files={"file": (path.name, fh, content_type)}
                )
        except httpx.TransportError as exc:
            raise errors.ConnectionFailed(f"upload of {path.name} failed: {exc}") from None
        if response.status_code >= 400:
            raise errors.ApiError(
                response.status_code, "storage_refused", response.text[:300] or "storage refused the upload"
            )
        upload = self.get_upload(form.id)
        if upload.status != UploadStatus.uploaded:
            raise UploadRejected(upload)
        return upload

    # ---- outgoing webhooks --------------------------------------------------------------------
    @route("POST", "/v1/webhook-endpoints", body=WebhookEndpointCreate)
    def create_webhook_endpoint(self, url: str, events: list[str] | None = None) -> WebhookEndpointCreated:
        return self._send(
            WebhookEndpointCreated,
            "POST",
            "/v1/webhook-endpoints",
            WebhookEndpointCreate(url=url, events=events),
        )

    @route("GET", "/v1/webhook-endpoints")
    def list_webhook_endpoints(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> WebhookEndpointList:
        return self._get(WebhookEndpointList, "/v1/webhook-endpoints", limit=limit, cursor=cursor)

    def iter_webhook_endpoints(self) -> Iterator[WebhookEndpoint]:
        return self._pages(lambda c: self.list_webhook_endpoints(limit=100, cursor=c))

    @route("DELETE", "/v1/webhook-endpoints/{endpoint_id}")
    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        self.request("DELETE", f"/v1/webhook-endpoints/{endpoint_id}")

    # ---- plans and billing --------------------------------------------------------------------
    @route("GET", "/v1/plans")
    def plans(self) -> PlanCatalog:
        """The plans, their limits, and which can be bought."""
        return self._get(PlanCatalog, "/v1/plans")

    @route("GET", "/v1/billing/packs")
    def packs(self) -> PackCatalog:
        """The credit packs on sale: credits added and price."""
        return self._get(PackCatalog, "/v1/billing/packs")

    @route("POST", "/v1/billing/checkout", body=CheckoutCreate)
    def checkout(self, plan: str | None = None, *, pack: str | None = None) -> CheckoutSession:
        """Start a Whop checkout for `plan` or a credit `pack`; the buyer goes to the session's `url`."""
        body = CheckoutCreate(plan=plan, pack=pack)
        return self._send(CheckoutSession, "POST", "/v1/billing/checkout", body)

    # ---- operations ---------------------------------------------------------------------------
    @route("GET", "/v1/health")
    def health(self) -> Health:
        """The API's dependency report; a degraded one (503) is returned, not raised."""
        return Health.model_validate(self.request("GET", "/v1/health", accept=frozenset({503})).json())

    @route("GET", "/v1/openapi.json")
    def openapi(self) -> dict[str, Any]:
        """The served OpenAPI document, the contract this client is tested against."""
        return self.request("GET", "/v1/openapi.json").json()
