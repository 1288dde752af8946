"""Never buy the same generation twice: each paid provider call's result is kept in S3 the moment
it returns, under its job (`jobs/{job_id}/calls/{key}`, deleted with the job's media) and a key
derived from what was asked, so a job resumed after a crash, a retry or a redrive asks the
provider only for what it does not have yet. The call's usage is kept with the result (one PUT:
object and metadata), so a reused result counts exactly as the fresh one would have: once, in
the step that finally succeeds. See README "When things go wrong".
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.http.schemas.jobs import StepUsage
from chalicelib.infra import storage

log = logging.getLogger(__name__)

FOLDER = "calls"  # jobs/{job_id}/calls/: beside the steps' folders
USAGE = "usage"  # the object's metadata entry holding the call's usage numbers
Ask = Callable[[str | None], tuple[bytes, dict[str, float]]]  # idempotency key -> (result, usage)


@dataclass(frozen=True)
class Call:
    """What was asked: provider, model, endpoint and the request fields that decide the answer.
    Credentials are headers, never part of it; a file sent along is named by its `digest_file`."""

    provider: str
    model: str
    endpoint: str
    request: Mapping[str, Any]

    def key(self) -> str:
        """sha256 of the canonical JSON (sorted keys, no spaces): the same ask, the same key."""
        canonical = json.dumps(
            {
                "provider": self.provider,
                "model": self.model,
                "endpoint": self.endpoint,
                "request": self.request,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def digest_file(path: Path) -> str:
    """Stands for a file in a Call's request (e.g. the audio a transcription hears), read in
    chunks: the file need not sit in memory for it."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def idempotency_key(job_id: str, call: Call) -> str:
    """The provider's Idempotency-Key: the same on every attempt of this job's call, different
    across jobs (a provider honouring it must not hand one job's answer to another that asks
    the same)."""
    return hashlib.sha256(f"{job_id}:{call.key()}".encode()).hexdigest()


@dataclass(frozen=True)
class Paid:
    content: bytes  # the provider's result, as the step reads it
    usage: dict[str, float]  # what the provider billed for it, named as StepUsage's fields
    reused: bool = False  # kept from an earlier attempt: not bought now

    def add_to(self, usage: StepUsage) -> None:
        for name, value in self.usage.items():
            if name in StepUsage.model_fields:
                setattr(usage, name, getattr(usage, name) + value)


@dataclass(frozen=True)
class CallCache:
    """One job's paid results. `job_id` "" keeps nothing: a call outside a job (tests, benches)."""

    job_id: str

    def remember(self, call: Call, ask: Ask) -> Paid:
        """The kept result of `call`, else `ask`'s (given the idempotency key), kept at once."""
        if not self.job_id:
            return Paid(*ask(None))
        key = self._object_key(call)
        found = storage.get_if_exists(key)  # an S3 error propagates: unsure is not "missing"
        if found is not None:
            content, metadata = found
            log.info("reused a paid %s result", call.endpoint, extra={"job_id": self.job_id})
            return Paid(content, json.loads(metadata.get(USAGE) or "{}"), reused=True)
        content, usage = ask(idempotency_key(self.job_id, call))
        try:
            storage.put_bytes(content, key, "application/octet-stream", {USAGE: json.dumps(usage)})
        except Exception:  # the result is paid for: use it, even if it could not be kept
            log.warning("could not keep a paid %s result", call.endpoint, extra={"job_id": self.job_id})
        return Paid(content, usage)

    def forget(self, call: Call) -> None:
        """A result the step could not use: the next attempt asks again."""
        if self.job_id:
            storage.delete(self._object_key(call))

    def _object_key(self, call: Call) -> str:
        return storage.artifact_key(self.job_id, FOLDER, call.key())


NO_CACHE = CallCache("")


def discard(job_id: str) -> int:
    """Drop a finished job's kept results (nothing runs it again); -> how many there were."""
    return storage.delete_prefix(storage.artifact_key(job_id, FOLDER, ""))
