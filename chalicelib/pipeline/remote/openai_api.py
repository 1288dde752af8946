"""A small client for OpenAI-compatible HTTP APIs (OpenAI, Ollama, vLLM, LM Studio), and the
base of other JSON provider APIs (ElevenLabs: remote/elevenlabs.py), which differ in how they
take the key (`auth_headers`) and how patient they are with 429s (`rate_limit_patience_s`).

Each call goes through `chalicelib.infra.outbound`: to the checked address, within a total deadline
(PROVIDER_TIMEOUT_S) and with the answer capped (PROVIDER_MAX_RESPONSE_BYTES). 429, 5xx,
timeouts and connection errors are retried (bounded), honouring `Retry-After`; what is left
becomes a ProviderError with a clear code. A 429 pauses every call of the client, not only the
one it answered: until its Retry-After has passed no call of the client is sent (a job's
parallel scenes share one client, and the server's limit is the account's, not the call's).
The user's key never appears in a message we raise or log: it is cut from any text a server
sends back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.settings import get_settings
from chalicelib.infra import outbound
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media.ffmpeg import RenderCanceled

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)  # when the server gives no Retry-After
STOP_CHECK_S = 0.25  # how often a wait looks at the job's cancel


@dataclass
class OpenAIClient:
    api_key: str = field(repr=False)
    base_url: str
    timeout_s: float = field(default_factory=lambda: get_settings().provider_timeout_s)
    max_retries: int = field(default_factory=lambda: get_settings().provider_max_retries)
    sleep: Callable[[float], None] = time.sleep  # injectable: tests record the waits
    # Waiting out 429s that spends no retry, per call, up to this long in total: for servers
    # whose 429 means "too many at once", not "broken" (OpenAI's counts as a failed try).
    rate_limit_patience_s: float = 0.0
    waited_s: float = 0.0  # time spent in that patience, all calls together (for a job note)
    # The job's cancel (provider_chain gives the task's): once it is true no call is sent and
    # every wait ends (RenderCanceled), looked at every STOP_CHECK_S. None: waits are one sleep.
    should_stop: Callable[[], bool] | None = None

    def __post_init__(self) -> None:
        settings = get_settings()
        self.base_url = self.base_url.rstrip("/")
        self.retry_after_max_s = settings.provider_retry_after_max_s
        self.max_bytes = settings.provider_max_response_bytes
        self._waits = threading.Lock()
        self._not_before = 0.0  # monotonic: no call is sent before this (the last 429's Retry-After)
        self._waited = threading.local()  # per thread: the end of the pause it last waited out

    def auth_headers(self) -> dict[str, str]:
        """How the API takes the key: OpenAI's is a bearer token."""
        return {"Authorization": f"Bearer {self.api_key}"}

    def post(
        self, path: str, body: dict, files: dict | None = None, idempotency_key: str | None = None
    ) -> outbound.Reply:
        """POST JSON (or, with `files`, a multipart form of `body` and the files); the 2xx
        answer, or ProviderError once retries are spent. Every try of one call carries the same
        `Idempotency-Key` (call_cache.py), so a server that honours it bills a retry once."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.exchange("POST", path, body, files, headers)

    def get(self, path: str) -> outbound.Reply:
        """GET under the base URL, with the same bounds and retries as `post`."""
        return self.exchange("GET", path, None)

    def exchange(
        self,
        method: str,
        path: str,
        body: dict | None,
        files: dict | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> outbound.Reply:
        url = f"{self.base_url}/{path.lstrip('/')}"
        headers = {**self.auth_headers(), **(extra_headers or {})}
        attempt, patience, waits = 0, self.rate_limit_patience_s, 0
        while True:
            self._hold_back()
            self._check_stop()  # a canceled job sends no more calls
            last = attempt == self.max_retries
            try:
                payload: dict[str, Any] = {"data": body, "files": files} if files else {"json": body}
                response = outbound.request(
                    method,
                    url,
                    headers=headers,
                    deadline_s=self.timeout_s,
                    max_bytes=self.max_bytes,
                    **payload,
                )
            except outbound.OutboundError as exc:
                if exc.kind == "blocked":
                    raise ProviderError("provider_url_blocked", exc.message, transient=False) from None
                if exc.kind == "too_large":
                    raise ProviderError(
                        "provider_bad_output", f"{path}: {exc.message}", transient=False
                    ) from None
                problem, said, wait = f"{path}: {exc.message}", "", None
            else:
                if response.is_success:
                    return response
                self._raise_permanent(response, path)
                problem, said = f"{path} answered {response.status}", self._text(response)
                wait = self._retry_after(response)
                pause = BACKOFF_S[min(waits, len(BACKOFF_S) - 1)] if wait is None else wait
                if response.status == 429:
                    self._pause_all(pause)
                if response.status == 429 and pause <= patience:
                    patience, waits = patience - pause, waits + 1
                    log.info("provider rate limit, waiting %.1f s: %s (%s)", pause, problem, said)
                    with self._waits:
                        self.waited_s += pause
                    self._rest(pause)
                    continue  # not a failed try
            if last:
                raise ProviderError("provider_unavailable", problem, transient=True, detail=said)
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] if wait is None else wait
            log.warning("provider call failed, retrying in %.1f s: %s (%s)", delay, problem, said)
            self._rest(delay)
            attempt += 1

    def _check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise RenderCanceled()

    def _rest(self, seconds: float) -> None:
        """Wait `seconds` (the injectable `sleep`), in slices that look at the job's cancel."""
        if self.should_stop is None:
            self.sleep(seconds)
            return
        while seconds > 0:
            self._check_stop()
            step = min(STOP_CHECK_S, seconds)
            self.sleep(step)
            seconds -= step

    def _pause_all(self, seconds: float) -> None:
        """A 429: no call of this client is sent for `seconds`. The call that got it waits it
        out itself (its retry's delay); a later end set by another call's 429 it still waits."""
        end = time.monotonic() + seconds
        with self._waits:
            self._not_before = max(self._not_before, end)
        self._waited.until = end

    def _hold_back(self) -> None:
        """Before a call is sent: wait out the pause of another call's 429, once per pause and
        thread (the thread remembers the end it waited for)."""
        while True:
            with self._waits:
                until = self._not_before
            left = until - time.monotonic()
            if left <= 0 or until == getattr(self._waited, "until", None):
                return
            log.info("provider rate limit (another call's 429), waiting %.1f s", left)
            with self._waits:
                self.waited_s += left
            self._rest(left)
            self._waited.until = until

    def _raise_permanent(self, response: outbound.Reply, path: str) -> None:
        status = response.status
        if status in RETRYABLE:
            return
        said = self._text(response)  # the server's words: logs only, never the user's job
        if status in (401, 403):
            raise ProviderError(
                "provider_key_rejected",
                f"the provider rejected your key ({path} answered {status})",
                transient=False,
                detail=said,
            )
        raise ProviderError("provider_bad_request", f"{path} answered {status}", transient=False, detail=said)

    def _retry_after(self, response: outbound.Reply) -> float | None:
        value = response.headers.get("retry-after", "")
        try:
            return min(max(0.0, float(value)), self.retry_after_max_s)
        except ValueError:
            return None  # absent, or an HTTP date: use our own backoff

    def _text(self, response: outbound.Reply) -> str:
        """The server's error message, short, with the key cut out (some servers echo it)."""
        try:
            data = response.json()
            error = (
                (data.get("error") or data.get("detail")) if isinstance(data, dict) else None
            )  # detail: ElevenLabs'

            text = str(error.get("message") if isinstance(error, dict) else error or data)
        except ValueError:
            text = response.content.decode("utf-8", "replace")
        return text.replace(self.api_key, "[redacted]")[:300]
