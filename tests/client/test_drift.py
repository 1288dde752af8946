"""The client can't drift from the API: its routes and models are held to the served OpenAPI
document (GET /v1/openapi.json of the running API).

What is checked is what the client relies on, so the server may add optional fields freely:
- every route of the document has a client method (`@route` in mo_client/client.py), and every
  client method calls a route that exists, sending and reading the documented schemas;
- every field a client model declares exists in its component with a compatible JSON type; a
  field the client requires is one the server always sends; a request body's fields are all
  accepted by the server and the server's required ones are all there;
- the enums the client acts on (job status, event type, upload status) list the same values.

When this fails after you added a route or a field the client needs: add the method to
`mo_client.client.Client` (with `@route`) or the field to `mo_client.models`.
"""

from __future__ import annotations

import typing

import pytest
from mo_client import models
from mo_client.client import Client, routes

# Routes no API client calls, and why.
NOT_FOR_CLIENTS = {("post", "/v1/webhooks/whop"): "called by Whop, signed with the app's secret"}
SUFFIXES = ("-Output", "-Input")


def component(document: dict, name: str) -> dict:
    schemas = document["components"]["schemas"]
    for candidate in (name, *(name + s for s in SUFFIXES)):
        if candidate in schemas:
            return schemas[candidate]
    raise AssertionError(f"the document has no component {name!r} (the client's models.{name})")


def ref_name(schema: dict) -> str:
    name = schema["$ref"].rsplit("/", 1)[-1]
    for suffix in SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def kinds(schema: dict, defs: dict) -> frozenset[str]:
    """A JSON schema reduced to the JSON types it allows; objects named by their component."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        if "properties" in target:
            return frozenset({f"object:{ref_name(schema)}"})
        return kinds(target, defs)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return frozenset().union(*(kinds(s, defs) for s in schema[combinator]))
    if "const" in schema:
        return frozenset({type(schema["const"]).__name__.replace("str", "string")})
    kind = schema.get("type")
    if kind is None:
        return frozenset({"any"})
    if isinstance(kind, list):
        return frozenset().union(*(kinds({**schema, "type": k}, defs) for k in kind))
    if kind == "array":
        return frozenset({f"array[{','.join(sorted(kinds(schema.get('items', {}), defs)))}]"})
    if kind == "object" and "properties" not in schema:
        values = schema.get("additionalProperties", True)
        inner = ",".join(sorted(kinds(values, defs))) if isinstance(values, dict) else "any"
        return frozenset({f"map[{inner}]"})
    return frozenset({kind})


def client_schema(model: type) -> tuple[dict, dict]:
    schema = model.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    return schema, schema.get("$defs", {})


@pytest.mark.parametrize("model", models.ALL_MODELS, ids=lambda m: m.__name__)
def test_each_client_model_matches_its_component(document, model):
    server = component(document, model.component)
    server_defs = document["components"]["schemas"]
    mine, my_defs = client_schema(model)
    is_body = issubclass(model, models.Body)
    server_props, server_required = server.get("properties", {}), set(server.get("required", []))

    for name, field in model.model_fields.items():
        assert name in server_props, f"{model.component}.{name} is not in the API's document"
        theirs = kinds(server_props[name], server_defs)
        ours = kinds(mine["properties"][name], my_defs)
        if is_body:  # optional body fields are left out when None (exclude_none)
            ours = ours - {"null"} if not field.is_required() else ours
            assert ours <= theirs, (
                f"{model.component}.{name}: client sends {set(ours)}, API takes {set(theirs)}"
            )
        else:
            assert theirs <= ours | {"any"} or "any" in ours, (
                f"{model.component}.{name}: API sends {set(theirs)}, client reads {set(ours)}"
            )
            if field.is_required():
                assert name in server_required, (
                    f"{model.component}.{name}: the client requires it, the API may leave it out"
                )
    if is_body:
        missing = server_required - set(model.model_fields)
        assert not missing, f"{model.component}: the API requires {missing}, the client can't send them"
        insisted = {n for n, f in model.model_fields.items() if f.is_required()} - server_required
        assert not insisted, f"{model.component}: the client requires {insisted}, the API doesn't"


@pytest.mark.parametrize(
    "enum", [models.JobStatus, models.EventType, models.UploadStatus], ids=lambda e: e.__name__
)
def test_the_enums_the_client_acts_on_list_the_same_values(document, enum):
    assert {m.value for m in enum} == set(component(document, enum.__name__)["enum"])


def test_every_route_of_the_document_has_a_client_method(document):
    served = {(method, path) for path, ops in document["paths"].items() for method in ops}
    called = {(method.lower(), path) for method, path, _ in routes().values()}
    # The operator's routes serve the operator's console (a session with the role), not customers.
    operator = {(method, path) for method, path in served if path.startswith("/v1/admin/")}
    missing = served - called - set(NOT_FOR_CLIENTS) - operator
    assert not missing, f"routes without a client method (add one with @route): {sorted(missing)}"
    gone = called - served
    assert not gone, f"client methods for routes the API no longer serves: {sorted(gone)}"


@pytest.mark.parametrize("name", sorted(routes()))
def test_each_client_method_sends_and_reads_the_documented_schemas(document, name):
    method, path, body = routes()[name]
    operation = document["paths"][path][method.lower()]
    if body is not None:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert ref_name(schema) == body.component
    returns = typing.get_type_hints(getattr(Client, name)).get("return")
    success = {int(s): r for s, r in operation["responses"].items() if s.isdigit() and int(s) < 300}
    if isinstance(returns, type) and issubclass(returns, models.Model):
        schemas = [r["content"]["application/json"]["schema"] for r in success.values() if "content" in r]
        assert [ref_name(s) for s in schemas] == [returns.component], (
            f"{name} reads {returns.component}, the API answers {schemas}"
        )
    elif returns is type(None):
        assert 204 in success, f"{name} expects no body, the API answers {sorted(success)}"
