"""Structured logs and metrics (AWS Lambda Powertools), the same in the API, functions and worker.

- Logs: JSON lines with the service name; `job_id` (also as `correlation_id`) on every line
  logged while a job is bound (`bind_job`), threads included; known-sensitive keys and bearer
  credentials are redacted. `setup()` is called by each entry point (API middleware, function
  handlers, worker) and configures the `chalicelib` and `functions` loggers.
- Metrics: CloudWatch EMF lines on stdout, flushed per call (jobs submitted / finished, step
  durations). Off in the local stage (logged at debug instead); METRICS_ENABLED overrides.

Powertools costs ~50 ms to import, so it is imported on first use, never by `import app`.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import IO, Any, cast

from chalicelib.core.settings import get_settings

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(
    r"passw(or)?d|secret|token|api[-_]?key|authorization|cookie|"
    r"credential|private[-_]?key|signature",
    re.IGNORECASE,
)
CREDENTIAL_IN_TEXT = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
LOGGED_PACKAGES = ("chalicelib", "functions")

_job_id: ContextVar[str | None] = ContextVar("job_id", default=None)
_setup_lock = threading.Lock()
_ready = False
_cold_start = True


def redact(value: Any) -> Any:
    """A copy with sensitive keys' values replaced, at any depth, and credentials cut from text."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and SENSITIVE_KEY.search(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return CREDENTIAL_IN_TEXT.sub(lambda m: f"{m.group(1)} {REDACTED}", value)
    return value


def bind_job(job_id: str | None) -> None:
    """Tag this task's (and its threads') log lines with the job id. asyncio tasks and
    `asyncio.to_thread` copy the context, so one job's binding never leaks into another's."""
    _job_id.set(job_id)


class _Stdout:
    """sys.stdout looked up at each write (test runners and daemons swap it)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class _JobIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        job_id = getattr(record, "job_id", None) or _job_id.get()
        if job_id:
            record.job_id = record.correlation_id = job_id
        return True


def setup() -> None:
    """JSON logging for our packages; idempotent and cheap after the first call."""
    global _ready
    if _ready:
        return
    with _setup_lock:
        if _ready:
            return
        from aws_lambda_powertools import Logger
        from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

        class RedactingFormatter(LambdaPowertoolsFormatter):
            def serialize(self, log: dict) -> str:  # type: ignore[override]
                return super().serialize(redact(log))

        settings = get_settings()
        logger = Logger(
            service=settings.service_name,
            level=settings.log_level,
            logger_formatter=RedactingFormatter(use_rfc3339=True),
            stream=cast(IO[str], _Stdout()),
        )
        handler = logger.registered_handler
        handler.addFilter(_JobIdFilter())
        for name in LOGGED_PACKAGES:
            package_logger = logging.getLogger(name)
            package_logger.handlers = [handler]
            package_logger.setLevel(settings.log_level)
            package_logger.propagate = False  # Lambda's root handler would print it twice
        _ready = True


def http_middleware(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware: one JSON line per request (method, path, status, duration)."""
    global _cold_start
    setup()
    started = time.perf_counter()
    response = get_response(event)
    cold, _cold_start = _cold_start, False
    log.info(
        "request",
        extra={
            "method": event.method,
            "path": event.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "cold_start": cold,
            "request_id": (event.context or {}).get("requestId"),
        },
    )
    return response


# ---- metrics ------------------------------------------------------------------------------------
_metrics_lock = threading.Lock()


def _emit(name: str, unit: str, value: float, dimensions: dict[str, str] | None = None) -> None:
    settings = get_settings()
    if not settings.metrics_enabled:
        log.debug("metric %s=%s %s %s", name, value, unit, dimensions or {})
        return
    from aws_lambda_powertools import Metrics

    with _metrics_lock:  # Powertools keeps one metric set per process; worker threads share it
        metrics = Metrics(namespace=settings.metrics_namespace, service=settings.service_name)
        for key, dim in (dimensions or {}).items():
            metrics.add_dimension(name=key, value=dim)
        metrics.add_metric(name=name, unit=unit, value=value)
        metrics.flush_metrics()


def metric_job_submitted() -> None:
    _emit("JobsSubmitted", "Count", 1)


def metric_job_finished(status: str) -> None:
    """status: succeeded | failed | canceled -> JobsSucceeded, JobsFailed, JobsCanceled."""
    _emit(f"Jobs{status.capitalize()}", "Count", 1)


def metric_step_duration(step: str, seconds: float) -> None:
    _emit("StepDuration", "Seconds", seconds, {"step": step})


def metric_platform_spend(provider: str, micros: int) -> None:
    """What the platform's own provider accounts spent, per provider (micro-dollars)."""
    _emit("PlatformSpendMicros", "Count", micros, {"provider": provider})


def metric_spend_ceiling(scope: str, provider: str) -> None:
    """A platform call refused by a daily spend ceiling (scope: platform | user)."""
    _emit("SpendCeilingReached", "Count", 1, {"scope": scope, "provider": provider})
