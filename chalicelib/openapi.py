"""The OpenAPI 3.1 document, built from the Chalice routes and the pydantic models they name.

Paths come from `app.routes` and models from each view's `@doc(...)`, so the document can't
drift from what the app serves: a route without `@doc` fails the contract test.
"""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.models import ErrorReply

_STATUS_TEXT = {400: "Malformed request", 401: "Missing or bad credentials", 402: "Quota exhausted",
                403: "Forbidden", 404: "Not found", 409: "Conflict", 413: "Too large",
                415: "Wrong content type", 422: "Validation failed", 429: "Rate limited",
                502: "An upstream service (e.g. Whop) failed", 503: "A dependency is down"}


def build(app: Any, title: str = "Media orchestrator API", version: str = "1.0.0") -> dict:
    operations = []
    models: set[type[BaseModel]] = {ErrorReply}
    for path, methods in sorted(app.routes.items()):
        for method, entry in sorted(methods.items()):
            meta = getattr(entry.view_function, "__openapi__", None)
            if meta is None:
                raise ValueError(f"{method} {path} has no @doc")
            operations.append((path, method, entry, meta))
            models.update(m for m in (meta["body"], meta["reply"]) if m is not None)
    refs, schema = models_json_schema([(m, "serialization") for m in models] +
                                      [(m, "validation") for m in models],
                                      ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel], mode: str) -> dict:
        return refs[(model, mode)]  # type: ignore[index]

    paths: dict[str, dict] = {}
    for path, method, entry, meta in operations:
        op: dict[str, Any] = {"summary": meta["summary"], "operationId": entry.view_name,
                              "responses": {}}
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{(\w+)}", path)]
        params += [{"name": name, "in": "query", "required": False, "schema": {"type": "string"},
                    "description": text} for name, text in meta["query"].items()]
        if params:
            op["parameters"] = params
        if meta["body"] is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": ref(meta["body"], "validation")}}}
        ok: dict[str, Any] = {"description": "OK"}
        if meta["reply"] is not None:
            ok["content"] = {"application/json": {"schema": ref(meta["reply"], "serialization")}}
        op["responses"][str(meta["status"])] = ok
        errors = set(meta["errors"]) | ({401} if meta["auth"] else set()) \
            | ({400, 415, 422} if meta["body"] is not None else set())
        for status in sorted(errors):
            op["responses"][str(status)] = {"description": _STATUS_TEXT[status], "content": {
                "application/json": {"schema": ref(ErrorReply, "serialization")}}}
        if meta["auth"]:
            op["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Access token or API key (ak_...)"}},
        },
    }
