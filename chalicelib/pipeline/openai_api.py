"""A small client for OpenAI-compatible HTTP APIs (OpenAI, Ollama, vLLM, LM Studio).

Per-call timeouts; 429, 5xx, timeouts and connection errors are retried (bounded), honouring
`Retry-After`; what is left becomes a ProviderError with a clear code. The user's key never
appears in a message we raise or log: it is cut from any text a server sends back.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from chalicelib import urls
from chalicelib.config import get_settings
from chalicelib.pipeline.errors import ProviderError

log = logging.getLogger(__name__)

RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)  # when the server gives no Retry-After


@dataclass
class OpenAIClient:
    api_key: str = field(repr=False)
    base_url: str
    timeout_s: float | None = None
    max_retries: int | None = None
    sleep: Callable[[float], None] = time.sleep  # injectable: tests record the waits

    def __post_init__(self) -> None:
        settings = get_settings()
        self.base_url = self.base_url.rstrip("/")
        self.timeout_s = self.timeout_s if self.timeout_s is not None else settings.provider_timeout_s
        self.max_retries = (self.max_retries if self.max_retries is not None
                            else settings.provider_max_retries)
        self.retry_after_max_s = settings.provider_retry_after_max_s

    def post(self, path: str, body: dict, files: dict | None = None) -> httpx.Response:
        """POST JSON (or, with `files`, a multipart form of `body` and the files); the 2xx
        response, or ProviderError once retries are spent."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            urls.check_resolved(url)
        except urls.UnsafeDestination as exc:
            raise ProviderError("provider_url_blocked", str(exc), transient=False) from None
        headers = {"Authorization": f"Bearer {self.api_key}"}
        timeout = httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s))
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                payload: dict[str, Any] = {"data": body, "files": files} if files else {"json": body}
                response = httpx.post(url, headers=headers, timeout=timeout, **payload)
            except httpx.TimeoutException:
                problem, wait = f"no answer from {path} within {self.timeout_s:g} s", None
            except httpx.TransportError as exc:
                problem, wait = f"cannot reach {path}: {type(exc).__name__}", None
            else:
                if response.is_success:
                    return response
                self._raise_permanent(response, path)
                problem = f"{path} answered {response.status_code}: {self._text(response)}"
                wait = self._retry_after(response)
            if last:
                raise ProviderError("provider_unavailable", problem, transient=True)
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)] if wait is None else wait
            log.warning("provider call failed, retrying in %.1f s: %s", delay, problem)
            self.sleep(delay)
        raise AssertionError("unreachable")

    def _raise_permanent(self, response: httpx.Response, path: str) -> None:
        status = response.status_code
        if status in RETRYABLE:
            return
        detail = f"{path} answered {status}: {self._text(response)}"
        if status in (401, 403):
            raise ProviderError("provider_key_rejected", f"the provider rejected your key ({detail})",
                                transient=False)
        raise ProviderError("provider_bad_request", detail, transient=False)

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after", "")
        try:
            return min(max(0.0, float(value)), self.retry_after_max_s)
        except ValueError:
            return None  # absent, or an HTTP date: use our own backoff

    def _text(self, response: httpx.Response) -> str:
        """The server's error message, short, with the key cut out (some servers echo it)."""
        try:
            data = response.json()
            error = data.get("error") if isinstance(data, dict) else None
            text = str(error.get("message") if isinstance(error, dict) else error or data)
        except ValueError:
            text = response.text
        return text.replace(self.api_key, "[redacted]")[:300]
