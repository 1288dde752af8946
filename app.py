"""The HTTP API (Chalice): routes only. Each parses, calls chalicelib, and shapes the reply.

Contract: ../shared/API.md. Errors leave through `web.error_envelope` as `{"error": {...}}`.

Every entry point, and where it starts in chalicelib:
  API             this file -> chalicelib.jobs, accounts, uploads, outgoing_webhooks, ...
  worker          `python -m chalicelib.worker` (ECS task, local process) -> worker.serve,
                  pipeline.runner.run_job
  scheduled       functions/reaper.py (every minute) -> chalicelib.reaper.reconcile
                  functions/dispatcher.py (every minute) -> chalicelib.dispatcher.dispatch
                  functions/cleanup.py (hourly) -> chalicelib.cleanup.run
                  locally all three on those rates: `python -m chalicelib.scheduler` (`make up`)
  deploy          functions/migrate.py (CloudFormation custom resource) -> chalicelib.db.migrate
  operators       `python -m chalicelib.ops` (dead letters, redrive), `python -m chalicelib.db.migrate`

Where the job domain lives:
  job and step state  chalicelib.lifecycle: the only writer (submit, start, cancel, fail, retry,
                      reopen, ...); cancel on the worker side: pipeline.runner's stop event
  quota               chalicelib.billing.quota (reserve, refund); plans and the Whop plan
                      mapping: chalicelib.billing.plans
  queue               chalicelib.queue (all of BullMQ); Redis connections: chalicelib.redis_client
  progress            chalicelib.progress (a Redis stream per job) -> GET /v1/jobs/{id}/events
"""
from chalice import Chalice, Response

from chalicelib import (
    accounts,
    auth,
    health,
    jobs,
    openapi,
    outgoing_webhooks,
    provider_keys,
    sse,
    uploads,
    web,
)
from chalicelib.billing import checkout, whop
from chalicelib.models import (
    Accepted,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    AuditPage,
    CheckoutCreate,
    CheckoutSession,
    Credentials,
    EmailVerified,
    EventPage,
    Health,
    Job,
    JobCreate,
    JobList,
    LinkToken,
    Me,
    PasswordResetConfirm,
    PasswordResetRequest,
    PlanCatalog,
    ProviderCatalog,
    ProviderKey,
    ProviderKeyList,
    ProviderKeyPut,
    StreamToken,
    TokenReply,
    Upload,
    UploadCreate,
    UploadForm,
    WebhookAck,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
)
from chalicelib.observability import http_middleware
from chalicelib.web import ANY_CONTENT, doc, reply
from chalicelib.web import current_request as request

app = Chalice(app_name="media-orchestrator")
app.register_middleware(http_middleware, "http")  # outermost: logs the final status
app.register_middleware(web.error_envelope, "http")
LIST_QUERY = {"limit": "1..100, default 20", "cursor": "next_cursor of the previous page"}


def caller() -> auth.Principal:
    return auth.authenticate(request().headers.get("authorization"))


def ip() -> str | None:
    return web.client_ip(request())


def page_args() -> tuple[int, str | None]:
    return web.query_int(request(), "limit", 20, 1, 100), web.query_str(request(), "cursor")


# ---- accounts -----------------------------------------------------------------------------
@app.route("/v1/auth/signup", methods=["POST"], content_types=ANY_CONTENT)
@doc("Create an account", body=Credentials, reply=TokenReply, status=201, auth=False, errors=(409, 429))
def signup():
    return reply(accounts.signup(web.parse(Credentials, request()), ip()), 201)


@app.route("/v1/auth/login", methods=["POST"], content_types=ANY_CONTENT)
@doc("Get an access token", body=Credentials, reply=TokenReply, auth=False, errors=(429,))
def login():
    return reply(accounts.login(web.parse(Credentials, request()), ip()))


@app.route("/v1/auth/verify-email", methods=["POST"], content_types=ANY_CONTENT)
@doc("Confirm an email address with the token of the mailed link (/verify-email?token=...)",
     body=LinkToken, reply=EmailVerified, auth=False, errors=(400, 429))
def verify_email():
    return reply(accounts.verify_email(web.parse(LinkToken, request()), ip()))


@app.route("/v1/auth/resend-verification", methods=["POST"], content_types=ANY_CONTENT)
@doc("Mail a new verification link to the caller's address", reply=Accepted, status=202,
     errors=(409, 429, 503))
def resend_verification():
    return reply(accounts.resend_verification(caller(), ip()), 202)


@app.route("/v1/auth/password-reset", methods=["POST"], content_types=ANY_CONTENT)
@doc("Mail a password reset link (always 202: says nothing about whether the account exists)",
     body=PasswordResetRequest, reply=Accepted, status=202, auth=False, errors=(429,))
def request_password_reset():
    return reply(accounts.request_password_reset(web.parse(PasswordResetRequest, request()), ip()), 202)


@app.route("/v1/auth/password-reset/confirm", methods=["POST"], content_types=ANY_CONTENT)
@doc("Set a new password with the token of the mailed link; earlier access tokens stop working",
     body=PasswordResetConfirm, reply=TokenReply, auth=False, errors=(400, 429))
def confirm_password_reset():
    return reply(accounts.confirm_password_reset(web.parse(PasswordResetConfirm, request()), ip()))


@app.route("/v1/me", methods=["GET"])
@doc("The caller, their plan and this period's usage", reply=Me)
def me():
    return reply(accounts.me(caller()))


@app.route("/v1/api-keys", methods=["POST"], content_types=ANY_CONTENT)
@doc("Create an API key (the key is shown only here)", body=ApiKeyCreate, reply=ApiKeyCreated,
     status=201)
def create_api_key():
    principal = caller()
    return reply(accounts.create_api_key(principal, web.parse(ApiKeyCreate, request()), ip()), 201)


@app.route("/v1/api-keys", methods=["GET"])
@doc("List API keys", reply=ApiKeyList, query=LIST_QUERY, errors=(422,))
def list_api_keys():
    return reply(accounts.list_api_keys(caller(), *page_args()))


@app.route("/v1/api-keys/{key_id}", methods=["DELETE"])
@doc("Revoke an API key at once", status=204, errors=(404,))
def delete_api_key(key_id):
    accounts.delete_api_key(caller(), key_id, ip())
    return reply(None, 204)


@app.route("/v1/provider-keys/{provider}", methods=["PUT"], content_types=ANY_CONTENT)
@doc("Store your own key for a provider (encrypted; only last4 is ever shown)",
     body=ProviderKeyPut, reply=ProviderKey, errors=(404,))
def put_provider_key(provider):
    principal = caller()
    body = web.parse(ProviderKeyPut, request())
    return reply(provider_keys.put(principal, provider, body, ip()))


@app.route("/v1/provider-keys", methods=["GET"])
@doc("List your provider keys (never the keys)", reply=ProviderKeyList)
def list_provider_keys():
    return reply(provider_keys.list_keys(caller()))


@app.route("/v1/provider-keys/{provider}", methods=["DELETE"])
@doc("Remove a provider key", status=204, errors=(404,))
def delete_provider_key(provider):
    provider_keys.delete(caller(), provider, ip())
    return reply(None, 204)


@app.route("/v1/providers", methods=["GET"])
@doc("Providers per step, which need your own key, and whether you stored it", reply=ProviderCatalog)
def list_providers():
    return reply(provider_keys.catalog(caller()))


@app.route("/v1/audit-log", methods=["GET"])
@doc("Your account's audit log, newest first", reply=AuditPage, query=LIST_QUERY, errors=(422,))
def audit_log():
    return reply(accounts.audit_log(caller(), *page_args()))


# ---- jobs ---------------------------------------------------------------------------------
@app.route("/v1/jobs", methods=["POST"], content_types=ANY_CONTENT)
@doc("Submit a job (Idempotency-Key header supported)", body=JobCreate, reply=Job, status=202,
     errors=(402, 409, 429))
def submit_job():
    principal = caller()
    body = web.parse(JobCreate, request())
    job, replayed = jobs.submit(principal, body, request().headers.get("idempotency-key"), ip())
    return reply(job, 202, {"Idempotent-Replayed": "true"} if replayed else None)


@app.route("/v1/jobs", methods=["GET"])
@doc("List jobs, newest first", reply=JobList, query={"status": "filter by status", **LIST_QUERY},
     errors=(422,))
def list_jobs():
    return reply(jobs.list_jobs(caller(), web.query_str(request(), "status"), *page_args()))


@app.route("/v1/jobs/{job_id}", methods=["GET"])
@doc("A job, with fresh presigned output URLs (ETag / If-None-Match)", reply=Job, errors=(404,))
def get_job(job_id):
    job = jobs.get(caller(), job_id)
    tag = jobs.etag(job)
    if request().headers.get("if-none-match") == tag:
        return Response(body="", status_code=304, headers={"ETag": tag})
    return reply(job, headers={"ETag": tag, "Cache-Control": "no-cache"})


@app.route("/v1/jobs/{job_id}/cancel", methods=["POST"], content_types=ANY_CONTENT)
@doc("Cancel a job; a running step stops within seconds", reply=Job, status=202, errors=(404, 409))
def cancel_job(job_id):
    return reply(jobs.cancel(caller(), job_id, ip()), 202)


@app.route("/v1/jobs/{job_id}/retry", methods=["POST"], content_types=ANY_CONTENT)
@doc("Resume a failed or canceled job from the step that stopped", reply=Job, status=202,
     errors=(402, 404, 409))
def retry_job(job_id):
    return reply(jobs.retry(caller(), job_id, ip()), 202)


@app.route("/v1/jobs/{job_id}/events", methods=["GET"])
@doc("Events after a cursor, long-polling up to `wait` s; SSE with Accept: text/event-stream",
     reply=EventPage, query={"after": "event id cursor (Last-Event-ID wins in SSE)",
                             "wait": "0..20 seconds",
                             "stream_token": "instead of Authorization (from .../stream-token)"},
     errors=(404, 422, 429))
def job_events(job_id):
    req = request()
    as_sse = sse.wanted(req.headers.get("accept"))
    # An EventSource's reconnect sends Last-Event-ID with its first URL (and `after`) unchanged.
    after = (req.headers.get("last-event-id") if as_sse else None) or web.query_str(req, "after")
    stream_token = web.query_str(req, "stream_token")
    principal = auth.authenticate_stream(stream_token, job_id) \
        if stream_token and not req.headers.get("authorization") else caller()
    page = jobs.events(principal, job_id, after, web.query_int(req, "wait", 0, 0, 20),
                       until_wait_ends=as_sse)
    if as_sse:
        return Response(body=sse.frames(page), status_code=200, headers=sse.HEADERS)
    return reply(page)


@app.route("/v1/jobs/{job_id}/stream-token", methods=["POST"], content_types=ANY_CONTENT)
@doc("A short-lived token for this job's events, for a browser's EventSource (no headers)",
     reply=StreamToken, status=201, errors=(404,))
def job_stream_token(job_id):
    return reply(jobs.stream_token(caller(), job_id), 201)


# ---- uploads ------------------------------------------------------------------------------
@app.route("/v1/uploads", methods=["POST"], content_types=ANY_CONTENT)
@doc("Start an upload: a presigned S3 POST form for one file", body=UploadCreate, reply=UploadForm,
     status=201, errors=(413, 429))
def create_upload():
    principal = caller()
    return reply(uploads.create(principal, web.parse(UploadCreate, request()), ip()), 201)


@app.route("/v1/uploads/{upload_id}", methods=["GET"])
@doc("An upload; checked (size, type, content) once its file is in S3", reply=Upload, errors=(404,))
def get_upload(upload_id):
    return reply(uploads.get(caller(), upload_id))


# ---- outgoing webhooks --------------------------------------------------------------------
@app.route("/v1/webhook-endpoints", methods=["POST"], content_types=ANY_CONTENT)
@doc("Register a webhook endpoint (its signing secret is shown only here)",
     body=WebhookEndpointCreate, reply=WebhookEndpointCreated, status=201)
def create_webhook_endpoint():
    principal = caller()
    body = web.parse(WebhookEndpointCreate, request())
    return reply(outgoing_webhooks.register(principal, body, ip()), 201)


@app.route("/v1/webhook-endpoints", methods=["GET"])
@doc("List webhook endpoints", reply=WebhookEndpointList, query=LIST_QUERY, errors=(422,))
def list_webhook_endpoints():
    return reply(outgoing_webhooks.list_endpoints(caller(), *page_args()))


@app.route("/v1/webhook-endpoints/{endpoint_id}", methods=["DELETE"])
@doc("Delete a webhook endpoint", status=204, errors=(404,))
def delete_webhook_endpoint(endpoint_id):
    outgoing_webhooks.delete(caller(), endpoint_id, ip())
    return reply(None, 204)


# ---- billing ------------------------------------------------------------------------------
@app.route("/v1/plans", methods=["GET"])
@doc("The plans, their limits, and which can be bought through Whop checkout", reply=PlanCatalog)
def list_plans():
    caller()
    return reply(checkout.catalog())


@app.route("/v1/billing/checkout", methods=["POST"], content_types=ANY_CONTENT)
@doc("Start a Whop checkout for a plan; send the buyer to `url`", body=CheckoutCreate,
     reply=CheckoutSession, status=201, errors=(409, 422, 502))  # 409: not verified or not sold
def create_checkout():
    principal = caller()
    body = web.parse(CheckoutCreate, request())
    return reply(checkout.create(principal, body, ip()), 201)


@app.route("/v1/webhooks/whop", methods=["POST"], content_types=ANY_CONTENT)
@doc("Whop webhooks (Standard Webhooks signature over the raw body)", reply=WebhookAck,
     auth=False, errors=(400, 401))
def whop_webhook():
    req = request()
    return reply(whop.receive(req.raw_body or b"", dict(req.headers)))  # type: ignore[arg-type]


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
