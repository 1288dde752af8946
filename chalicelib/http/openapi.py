"""The OpenAPI 3.1 document, built from the Chalice routes and what each declares with `@doc`.

Paths come from `app.routes`; schemas, parameters and refusals from each view's `@doc(...)`
(`chalicelib.http.plumbing.doc`), whose pydantic models are also what validates the requests. So the
document can't drift from what the app serves: a route without `@doc` fails the build.

What a client generator gets: an `operationId` per operation (the view's name, kept stable:
tests pin them), tags by resource, every parameter with its schema, every status an operation
answers with its body, and links from each create to the operations on what it created.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from chalicelib.http.schemas.common import PATH_PARAMETERS, ErrorReply

_STATUS_TEXT = {
    304: "Not modified",
    400: "Malformed request (`malformed_json`)",
    401: "Missing or bad credentials",
    402: "Quota exhausted",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    415: "Wrong content type (`unsupported_media_type`)",
    422: "Validation failed (`validation_error`: `details` lists the fields)",
    429: "Rate limited",
    502: "An upstream service (e.g. Whop) failed",
    503: "A dependency is down",
}
# Set on the responses a route declares: a request the schema allows can still get them,
# depending on state (quota, rates, what exists). schemathesis.toml reads it.
BUSINESS_REFUSAL = "x-business-refusal"


def build(app: Any, title: str = "Media orchestrator API", version: str = "1.0.0") -> dict:
    operations = []
    models: set[type[BaseModel]] = {ErrorReply}
    parameter_models: set[type[BaseModel]] = set()
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            meta = getattr(entry.view_function, "__openapi__", None)
            if meta is None:
                raise ValueError(f"{method} {path} has no @doc")
            operations.append((path, method, entry, meta))
            models.update(m for m in (meta["body"], meta["reply"]) if m is not None)
            parameter_models.update(m for m in (meta["query"], meta["headers"]) if m is not None)
    refs, schema = models_json_schema(
        [(m, "serialization") for m in models]
        + [(m, "validation") for m in models]
        + [(m, "validation") for m in parameter_models],
        ref_template="#/components/schemas/{model}",
    )
    components = schema.get("$defs", {})

    def ref(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict:
        return refs[(model, mode)]

    def parameters(model: type[BaseModel], where: str) -> list[dict]:
        name = ref(model, "validation")["$ref"].rsplit("/", 1)[1]
        definition = components[name]
        required = set(definition.get("required", ()))
        return [
            _parameter(field, where, field in required, _not_null(field_schema))
            for field, field_schema in definition.get("properties", {}).items()
        ]

    paths: dict[str, dict] = {}
    ids: dict[tuple[str, str], str] = {}
    for path, method, entry, meta in operations:
        path_names = re.findall(r"{(\w+)}", path)
        unknown = [name for name in path_names if name not in PATH_PARAMETERS]
        if unknown:
            raise ValueError(f"{method} {path}: add {unknown} to models.PATH_PARAMETERS")
        params = [
            _parameter(name, "path", True, TypeAdapter(PATH_PARAMETERS[name]).json_schema())
            for name in path_names
        ]
        params += parameters(meta["query"], "query") if meta["query"] else []
        params += parameters(meta["headers"], "header") if meta["headers"] else []
        op: dict[str, Any] = {
            "operationId": entry.view_name,
            "summary": meta["summary"],
            "tags": [_tag(path)],
            "responses": {},
        }
        if params:
            op["parameters"] = params
        if meta["body"] is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(meta["body"], "validation")}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        content = (
            {"application/json": {"schema": ref(meta["reply"], "serialization")}}
            if meta["reply"] is not None
            else {}
        )
        content.update({media: {"schema": s} for media, s in meta["media"].items()})
        if content:
            ok["content"] = content
        if meta["reply_headers"]:
            ok["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in meta["reply_headers"].items()
            }
        op["responses"][str(meta["status"])] = ok
        for status in meta["reply_also"]:
            op["responses"][str(status)] = {**ok, "description": _STATUS_TEXT[status]}
        automatic = (
            {503}  # every route, while a store is down (chalicelib.infra.outage)
            | ({401} if meta["auth"] else set())
            | ({404} if path_names else set())
            | ({400, 415, 422} if meta["body"] is not None else set())
            | ({422} if meta["query"] or meta["headers"] else set())
        )
        for status in sorted(automatic | set(meta["errors"])):
            op["responses"][str(status)] = _refusal(
                status, meta["errors"], status in automatic, ref(ErrorReply, "serialization")
            )
        conditions = [f"- **{status}** {text}" for status, text in sorted(meta["errors"].items()) if text]
        description = "\n\n".join(
            part
            for part in (
                meta["description"],
                "Refusals a well-formed request can meet:\n" + "\n".join(conditions) if conditions else None,
            )
            if part
        )
        if description:
            op["description"] = description
        if meta["auth"]:
            op["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method.lower()] = op
        ids[(path, method.lower())] = entry.view_name
    _link_creates(paths, components)
    for model in parameter_models:  # shown as parameters, not as schemas of their own
        components.pop(ref(model, "validation")["$ref"].rsplit("/", 1)[1], None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                'Errors are `{"error": {"code", "message", "details"}}`. Responses marked '
                f"`{BUSINESS_REFUSAL}` can answer a request the schema allows (quota, rate, state)."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Access token or API key (ak_...)",
                }
            },
        },
    }


def _tag(path: str) -> str:
    """The resource: `/v1/jobs/{job_id}/events` -> `jobs`."""
    parts = [p for p in path.split("/") if p]
    return parts[1] if parts[0] == "v1" and len(parts) > 1 else parts[0]


def _parameter(name: str, where: str, required: bool, schema: dict) -> dict:
    param = {"name": name, "in": where, "required": required, "schema": schema}
    if schema.get("description"):
        param["description"] = schema["description"]
    return param


def _not_null(schema: dict) -> dict:
    """An optional parameter is one left out: `X | None` shows as X, without `default: null`."""
    schema = {k: v for k, v in schema.items() if not (k == "default" and v is None)}
    options = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
    if "anyOf" in schema and len(options) == 1:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**options[0], **rest}
    return schema


def _refusal(status: int, declared: dict[int, str | None], automatic: bool, error_schema: dict) -> dict:
    condition = declared.get(status)
    text = f"{_STATUS_TEXT[status]}; or {condition}" if automatic and condition else condition
    response: dict[str, Any] = {"description": text or _STATUS_TEXT[status]}
    if status >= 400:
        response["content"] = {"application/json": {"schema": error_schema}}
    if status in declared and status >= 400:
        response[BUSINESS_REFUSAL] = True
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait",
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            }
        }
    return response


def _link_creates(paths: dict[str, dict], components: dict) -> None:
    """From each create (POST, or PUT on a named resource) to the operations on what it made:
    path parameters the create's path has come from its request, the new one from the reply's
    `id` (or the field of the same name)."""
    for path, ops in paths.items():
        for method in ("post", "put"):
            create = ops.get(method)
            if create is None or not _created(create):
                continue
            fields = _reply_fields(create, components)
            known = set(re.findall(r"{(\w+)}", path))
            links = {}
            for target_path, target_ops in paths.items():
                related = target_path == path if method == "put" else target_path.startswith(path + "/{")
                if not related:
                    continue
                for target_method, target in target_ops.items():
                    if (target_path, target_method) == (path, method):
                        continue
                    values = {}
                    for name in re.findall(r"{(\w+)}", target_path):
                        if name in known:
                            values[name] = f"$request.path.{name}"
                        elif name in fields or "id" in fields:
                            values[name] = f"$response.body#/{name if name in fields else 'id'}"
                    if len(values) == len(re.findall(r"{(\w+)}", target_path)):
                        links[target["operationId"]] = {
                            "operationId": target["operationId"],
                            "parameters": values,
                        }
            if links:
                create["responses"][_success(create)]["links"] = links


def _created(op: dict) -> bool:
    return any(code in op["responses"] for code in ("200", "201", "202"))


def _success(op: dict) -> str:
    return next(code for code in ("201", "202", "200") if code in op["responses"])


def _reply_fields(op: dict, components: dict) -> set[str]:
    schema = op["responses"][_success(op)].get("content", {}).get("application/json", {}).get("schema", {})
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    return set(components.get(name, {}).get("properties", {}))
