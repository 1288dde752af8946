"""HTTP plumbing shared by every route: body parsing, replies, the error envelope, route docs."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from chalice.app import Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib.errors import ApiError, BadRequest, UnsupportedMediaType, ValidationFailed

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

# Routes accept any content type so that a wrong one gets *our* 415 body, not Chalice's.
ANY_CONTENT = ["*/*"]

_CHALICE_CODES = {400: "bad_request", 403: "not_found", 404: "not_found",
                  405: "method_not_allowed", 413: "payload_too_large",
                  415: "unsupported_media_type"}


# The request being handled. Chalice's `app.current_request` is one attribute on a shared
# object, which `chalice local`'s threads overwrite under each other; this is per thread.
_request: ContextVar[Request] = ContextVar("request")


def current_request() -> Request:
    return _request.get()


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    return Response(body={"error": {"code": code, "message": message, "details": details}},
                    status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def error_envelope(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice middleware: every error leaves as `{"error": {code, message, details}}`."""
    token = _request.set(event)
    try:
        response = get_response(event)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except Exception:  # a bug, not the client's fault; logged with its traceback
        log.exception("unhandled error")
        return error_response(500, "internal_error", "An internal error occurred")
    finally:
        _request.reset(token)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        # Chalice's own rejections (unsupported media type, method not allowed, its 500s).
        status = response.status_code
        code = _CHALICE_CODES.get(status, "internal_error")
        message = "Not found" if status == 403 else str(body.get("Message", "Error"))
        return error_response(404 if status == 403 else status, code, message,
                              headers={k: str(v) for k, v in response.headers.items()
                                       if k.lower() == "allow"})
    return response


def parse(model: type[M], request: Request) -> M:
    """The request's JSON body as `model`, or 415 / 400 / 422 with the failing fields."""
    content_type = (request.headers.get("content-type") or "application/json").lower()
    if not content_type.split(";")[0].strip() == "application/json":
        raise UnsupportedMediaType("Send the body as application/json")
    raw = request.raw_body or b""
    try:
        data = json.loads(raw) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"Malformed JSON: {exc}", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object", code="malformed_json")
    return validate(model, data)


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed("The request is not valid", details=field_errors(exc)) from None


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"],
             "type": err["type"]} for err in exc.errors(include_url=False, include_input=False)]


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    params: Any = request.query_params or {}
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ValidationFailed(f"`{name}` must be an integer from {low} to {high}",
                               details=[{"field": name, "message": f"must be {low}..{high}",
                                         "type": "range"}])
    return value


def query_str(request: Request, name: str) -> str | None:
    params: Any = request.query_params or {}
    return params.get(name) or None


def client_ip(request: Request) -> str | None:
    return (request.context or {}).get("identity", {}).get("sourceIp")


def reply(model: BaseModel | dict | None, status: int = 200,
          headers: dict[str, str] | None = None) -> Response:
    body = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    sent: dict[str, str | list[str]] = {**(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/json"
    return Response(body=body if body is not None else "", status_code=status, headers=sent)


def doc(summary: str, *, reply: type[BaseModel] | None = None, status: int = 200,
        body: type[BaseModel] | None = None, auth: bool = True,
        query: dict[str, str] | None = None, errors: tuple[int, ...] = ()) -> Callable:
    """Attach the OpenAPI facts of a route to its view function (read by chalicelib.openapi)."""
    def mark(func: Callable) -> Callable:
        func.__openapi__ = {"summary": summary, "reply": reply,  # type: ignore[attr-defined]
                            "status": status, "body": body,
                            "auth": auth, "query": query or {}, "errors": errors}
        return func
    return mark
