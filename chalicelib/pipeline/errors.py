"""How a step (or a provider inside it) reports failure to the runner."""

from __future__ import annotations


class StepError(Exception):
    """A step failed. `transient` errors are retried; the others fail the job at once.

    `message` reaches the user (job error, notes, events): only our own words, never raw
    exception or provider response text. `detail` is for the logs only."""

    def __init__(
        self, code: str, message: str, *, transient: bool, step: str | None = None, detail: str | None = None
    ):
        super().__init__(message)
        self.code, self.message, self.transient, self.step = code, message, transient, step
        self.detail = detail


class ProviderError(StepError):
    """A provider failed after its own retries. Codes: `provider_key_missing` and
    `provider_key_rejected` (the user's key: their fault), `provider_bad_request` (400: the
    server rejects what we send, e.g. an unknown model), `provider_bad_output` (an answer we
    can't use), `provider_unavailable` (timeouts, 429 and 5xx after retries; circuit open)."""
