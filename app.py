"""The HTTP API (Chalice): routes only. Each parses, calls chalicelib, and shapes the reply.

Contract: ../shared/API.md. Errors leave through `web.error_envelope` as `{"error": {...}}`.
"""
from chalice import Chalice, Response

from chalicelib import accounts, auth, health, jobs, openapi, sse, web
from chalicelib.models import (ApiKeyCreate, ApiKeyCreated, ApiKeyList, Credentials, EventPage,
                               Health, Job, JobCreate, JobList, Me, TokenReply)
from chalicelib.web import ANY_CONTENT, doc, reply

app = Chalice(app_name="media-orchestrator")
app.register_middleware(web.error_envelope, "http")
LIST_QUERY = {"limit": "1..100, default 20", "cursor": "next_cursor of the previous page"}


def caller() -> auth.Principal:
    return auth.authenticate(app.current_request.headers.get("authorization"))


def ip() -> str | None:
    return web.client_ip(app.current_request)


# ---- accounts -----------------------------------------------------------------------------
@app.route("/v1/auth/signup", methods=["POST"], content_types=ANY_CONTENT)
@doc("Create an account", body=Credentials, reply=TokenReply, status=201, auth=False, errors=(409,))
def signup():
    return reply(accounts.signup(web.parse(Credentials, app.current_request), ip()), 201)


@app.route("/v1/auth/login", methods=["POST"], content_types=ANY_CONTENT)
@doc("Get an access token", body=Credentials, reply=TokenReply, auth=False, errors=(401, 429))
def login():
    return reply(accounts.login(web.parse(Credentials, app.current_request), ip()))


@app.route("/v1/me", methods=["GET"])
@doc("The caller, their plan and this period's usage", reply=Me)
def me():
    return reply(accounts.me(caller()))


@app.route("/v1/api-keys", methods=["POST"], content_types=ANY_CONTENT)
@doc("Create an API key (the key is shown only here)", body=ApiKeyCreate, reply=ApiKeyCreated,
     status=201)
def create_api_key():
    principal = caller()
    body = web.parse(ApiKeyCreate, app.current_request)
    return reply(accounts.create_api_key(principal, body, ip()), 201)


@app.route("/v1/api-keys", methods=["GET"])
@doc("List API keys", reply=ApiKeyList, query=LIST_QUERY, errors=(422,))
def list_api_keys():
    request = app.current_request
    return reply(accounts.list_api_keys(caller(), web.query_int(request, "limit", 20, 1, 100),
                                        web.query_str(request, "cursor")))


@app.route("/v1/api-keys/{key_id}", methods=["DELETE"])
@doc("Revoke an API key at once", status=204, errors=(404,))
def delete_api_key(key_id):
    accounts.delete_api_key(caller(), key_id, ip())
    return reply(None, 204)


# ---- jobs ---------------------------------------------------------------------------------
@app.route("/v1/jobs", methods=["POST"], content_types=ANY_CONTENT)
@doc("Submit a job (Idempotency-Key header supported)", body=JobCreate, reply=Job, status=202,
     errors=(402, 409))
def submit_job():
    principal = caller()
    request = app.current_request
    body = web.parse(JobCreate, request)
    job, replayed = jobs.submit(principal, body, request.headers.get("idempotency-key"), ip())
    return reply(job, 202, {"Idempotent-Replayed": "true"} if replayed else None)


@app.route("/v1/jobs", methods=["GET"])
@doc("List jobs, newest first", reply=JobList, query={"status": "filter by status", **LIST_QUERY},
     errors=(422,))
def list_jobs():
    request = app.current_request
    return reply(jobs.list_jobs(caller(), web.query_str(request, "status"),
                                web.query_int(request, "limit", 20, 1, 100),
                                web.query_str(request, "cursor")))


@app.route("/v1/jobs/{job_id}", methods=["GET"])
@doc("A job, with fresh presigned output URLs (ETag / If-None-Match)", reply=Job, errors=(404,))
def get_job(job_id):
    job = jobs.get(caller(), job_id)
    tag = jobs.etag(job)
    if app.current_request.headers.get("if-none-match") == tag:
        return Response(body="", status_code=304, headers={"ETag": tag})
    return reply(job, headers={"ETag": tag, "Cache-Control": "no-cache"})


@app.route("/v1/jobs/{job_id}/events", methods=["GET"])
@doc("Events after a cursor, long-polling up to `wait` s; SSE with Accept: text/event-stream",
     reply=EventPage, query={"after": "event id cursor", "wait": "0..20 seconds"}, errors=(404, 422))
def job_events(job_id):
    request = app.current_request
    as_sse = sse.wanted(request.headers.get("accept"))
    after = web.query_str(request, "after") or (request.headers.get("last-event-id") if as_sse else None)
    page = jobs.events(caller(), job_id, after, web.query_int(request, "wait", 0, 0, 20),
                       until_wait_ends=as_sse)
    if as_sse:
        return Response(body=sse.frames(page), status_code=200, headers=sse.HEADERS)
    return reply(page)


# ---- operations ---------------------------------------------------------------------------
@app.route("/v1/health", methods=["GET"])
@doc("Dependency health", reply=Health, auth=False, errors=(503,))
def get_health():
    report, healthy = health.check()
    return reply(report, 200 if healthy else 503)


@app.route("/v1/openapi.json", methods=["GET"])
@doc("This API's OpenAPI 3.1 document", auth=False)
def openapi_document():
    return reply(openapi.build(app))
