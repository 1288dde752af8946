"""HTTP plumbing shared by every route: body parsing, replies, the error envelope, route docs."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from chalice.app import Request, Response
from pydantic import BaseModel, ValidationError

from chalicelib.core.errors import ApiError, BadRequest, UnsupportedMediaType, ValidationFailed
from chalicelib.infra import outage

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

# Routes accept any content type so that a wrong one gets *our* 415 body, not Chalice's.
ANY_CONTENT = ["*/*"]

_CHALICE_CODES = {
    400: "bad_request",
    403: "not_found",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


# The request being handled. Chalice's `app.current_request` is one attribute on a shared
# object, which `chalice local`'s threads overwrite under each other; this is per thread.
_request: ContextVar[Request] = ContextVar("request")


def current_request() -> Request:
    return _request.get()


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        body={"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_envelope(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice middleware: every error leaves as `{"error": {code, message, details}}`."""
    token = _request.set(event)
    try:
        response = get_response(event)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except Exception as exc:
        unavailable = store_outage(exc)
        if unavailable is not None:
            return error_response(
                503, unavailable.code, unavailable.message, unavailable.details, unavailable.headers
            )
        log.exception("unhandled error")  # a bug, not the client's fault; logged with its traceback
        return error_response(500, "internal_error", "An internal error occurred")
    finally:
        _request.reset(token)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        # Chalice's own rejections (unsupported media type, method not allowed, its 500s).
        status = response.status_code
        code = _CHALICE_CODES.get(status, "internal_error")
        message = "Not found" if status == 403 else str(body.get("Message", "Error"))
        return error_response(
            404 if status == 403 else status,
            code,
            message,
            headers={k: str(v) for k, v in response.headers.items() if k.lower() == "allow"},
        )
    return response


def store_outage(exc: BaseException) -> ApiError | None:
    """The 503 for an error that is a store outage (logged once per outage), else None: a bug."""
    store = outage.store_of(exc)
    if store is None:
        return None
    outage.report(store, exc, "api")
    return outage.unavailable(store)


def parse(model: type[M], request: Request) -> M:
    """The request's JSON body as `model`, or 415 / 400 / 422 with the failing fields."""
    _check_declared("body", model)
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
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "body", "message": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def query(model: type[M], request: Request) -> M:
    """The query string as the route's declared `query` model, or 422 with the failing fields.
    Unknown parameters are ignored (cache busters, tracking); a repeated one counts once."""
    _check_declared("query", model)
    return validate(model, dict(request.query_params or {}))


def headers(model: type[M], request: Request) -> M:
    """The request headers named by the route's declared `headers` model (by alias), or 422."""
    _check_declared("headers", model)
    present = {k.lower(): v for k, v in (request.headers or {}).items()}
    data = {}
    for name, field in model.model_fields.items():
        value = present.get((field.alias or name).lower())
        if value is not None:
            data[field.alias or name] = value
    return validate(model, data)


def reply(
    model: BaseModel | dict | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    sent: dict[str, str | list[str]] = {**(headers or {})}
    if body is not None:
        sent["Content-Type"] = "application/json"
    return Response(body=body if body is not None else "", status_code=status, headers=sent)


# The declaration of the route being handled, so parsing can check it reads what it declares.
_declared: ContextVar[dict] = ContextVar("declared")


def _check_declared(kind: str, model: type[BaseModel]) -> None:
    meta = _declared.get(None)
    if meta is not None and meta[kind] is not model:
        raise TypeError(
            f"the route reads {model.__name__} as its {kind} but its @doc declares "
            f"{getattr(meta[kind], '__name__', None)}: declare what you parse"
        )


def doc(
    summary: str,
    *,
    reply: type[BaseModel] | None = None,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    headers: type[BaseModel] | None = None,
    auth: bool = True,
    errors: Mapping[int, str] | None = None,
    reply_also: Iterable[int] = (),
    media: Mapping[str, dict] | None = None,
    reply_headers: Mapping[str, str] | None = None,
    description: str | None = None,
) -> Callable:
    """Declare a route's contract in one place; `chalicelib.http.openapi` builds the document from it.

    body / query / headers: pydantic models the view reads with `parse` / `query` / `headers`
        (the same models validate the request and give the document its schemas; reading a model
        the route did not declare is a bug that fails loudly).
    reply, status: the success reply; `reply_also`: other statuses answering the same model
        (health's 503); `media`: other media types of the success reply (e.g. SSE);
        `reply_headers`: headers of the success reply, name -> description.
    errors: the refusals a well-formed request can meet, status -> the condition (with its error
        code), e.g. {402: "`quota_exceeded`: this period's jobs are used up"}; they go into the
        operation's description. A status below 400 (304) is a reply without a body. 400/415/422
        (body), 422 (query, headers), 401 (auth) and 404 (path ids) are added by themselves.
    """
    if not isinstance(errors or {}, Mapping):
        raise TypeError(f"@doc({summary!r}): errors= maps each status to when it happens")
    refusals = dict(errors or {})
    vague = sorted(code for code, condition in refusals.items() if not condition)
    if vague:  # at import, so a route can't be merged without saying when it refuses
        raise TypeError(
            f"@doc({summary!r}): errors= maps each status to when it happens, e.g. "
            f"{{409: '`email_taken`: an account with this email exists'}}; say it for {vague}"
        )
    for kind, model in (("body", body), ("query", query), ("headers", headers), ("reply", reply)):
        if model is not None and not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(
                f"@doc({summary!r}): {kind}= takes a pydantic model "
                f"(e.g. models.JobsQuery for a query string), not {model!r}"
            )

    def mark(func: Callable) -> Callable:
        meta = {
            "summary": summary,
            "reply": reply,
            "status": status,
            "body": body,
            "query": query,
            "headers": headers,
            "auth": auth,
            "errors": refusals,
            "reply_also": tuple(reply_also),
            "media": dict(media or {}),
            "reply_headers": dict(reply_headers or {}),
            "description": description,
        }

        @functools.wraps(func)
        def view(*args: Any, **kwargs: Any) -> Any:
            token = _declared.set(meta)
            try:
                return func(*args, **kwargs)
            except ApiError:
                raise
            except Exception as exc:
                # Chalice turns anything but an ApiError into its own 500 before the envelope
                # sees it: a store outage becomes our 503 here, on every route (auth included).
                unavailable = store_outage(exc)
                if unavailable is None:
                    raise
                raise unavailable from None
            finally:
                _declared.reset(token)

        view.__openapi__ = meta  # type: ignore[attr-defined]
        return view

    return mark
