"""The HTTP API (Chalice): routes only. Each parses, calls chalicelib, and shapes the reply.

Contract: ../shared/API.md. Errors leave through `plumbing.error_envelope` as `{"error": {...}}`.

Every entry point, and where it starts in chalicelib:
  API             this file -> chalicelib.<domain>.service (jobs, accounts, uploads, webhooks), billing
  worker          `python -m chalicelib.runtime.worker` (ECS task, local process) -> runtime.worker.serve,
                  chalicelib.pipeline.engine.run_job
  scheduled       functions/reaper.py (every minute) -> chalicelib.runtime.reaper.reconcile
                  functions/dispatcher.py (every minute) -> chalicelib.runtime.dispatcher.dispatch
                  functions/cleanup.py (hourly) -> chalicelib.runtime.cleanup.run
                  locally all three on those rates: `python -m chalicelib.runtime.scheduler` (`make up`)
  deploy          functions/migrate.py (CloudFormation custom resource) -> chalicelib.infra.migrate
  operators       `python -m chalicelib.runtime.ops` (dead letters, redrive, grant-operator),
                  `python -m chalicelib.infra.migrate`; in the console: /v1/admin -> chalicelib.admin.service,
                  each route behind chalicelib.admin.access.require_operator

Two hops from a route (route here -> first hop -> where it happens):
  cancel      cancel_job -> jobs.service.cancel -> jobs.lifecycle.cancel: state, quota back, the
              cancel flag, the queue entry, the event. Worker side: pipeline.engine runs each step
              with ctx.stop, set by pipeline.context.Context.should_stop (it reads the flag) or by
              runtime.worker._keep_lease when the lease is lost; the step's child process stops
  quota       submit_job -> jobs.service.submit -> jobs.lifecycle.submit: billing.quota.reserve in
              the job's transaction; refunded by jobs.lifecycle.cancel and .fail (jobs.lifecycle._refund
              -> billing.quota.give_back); retry_job reserves again (jobs.lifecycle.reopen)
  Whop plan   whop_webhook -> billing.whop.receive -> billing.plans.plan_for_whop (WHOP_PLAN_MAP:
              Whop plan id -> our plan; the plans table: billing.plans.plan_table); the other way,
              create_checkout -> billing.checkout.create (billing.checkout.whop_plan_id)
  progress    worker: pipeline.context.Context.report -> jobs.lifecycle.report_progress -> MySQL
              and jobs.progress.emit (a Redis stream per job). Browser: job_events ->
              jobs.service.events -> jobs.progress.read, framed by http.sse.frames for an
              EventSource (web/src/hooks/useJobProgress.ts follows it, stream-token first)
  job state   jobs.lifecycle is the only writer (its SQL in jobs.transitions, importable by it
              alone: tests/unit/test_layers.py); reads in jobs.repository
  queue       chalicelib.infra.queue (all of BullMQ); Redis connections: infra.redis_client
"""

from chalice import Chalice, Response

from chalicelib.accounts import auth, byok
from chalicelib.accounts import service as accounts
from chalicelib.admin import access
from chalicelib.admin import service as admin
from chalicelib.billing import checkout, whop
from chalicelib.core.observability import http_middleware
from chalicelib.http import health, openapi, origin, plumbing, security_headers, sse
from chalicelib.http.plumbing import ANY_CONTENT, doc, reply
from chalicelib.http.plumbing import current_request as request
from chalicelib.http.schemas.accounts import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeysQuery,
    AuditPage,
    AuditQuery,
    Credentials,
    EmailVerified,
    LinkToken,
    Me,
    PasswordResetConfirm,
    PasswordResetRequest,
    ProviderKey,
    ProviderKeyList,
    ProviderKeyPut,
    TokenReply,
)
from chalicelib.http.schemas.admin import (
    Customer,
    CustomerDetail,
    CustomerJobsQuery,
    CustomerList,
    CustomersQuery,
    DeadLetterList,
    DeadLettersQuery,
    JobInspection,
    Operator,
    OperatorGrant,
    OperatorList,
    Overview,
    OverviewQuery,
    RedriveReply,
    RedriveRequest,
    Spend,
    SpendQuery,
    Suspension,
)
from chalicelib.http.schemas.billing import (
    CheckoutCreate,
    CheckoutSession,
    PackCatalog,
    PlanCatalog,
    StandardWebhookHeaders,
    WebhookAck,
)
from chalicelib.http.schemas.common import Accepted, Health
from chalicelib.http.schemas.jobs import (
    EventPage,
    EventsHeaders,
    EventsQuery,
    Job,
    JobCreate,
    JobEstimate,
    JobHeaders,
    JobList,
    JobsQuery,
    ProviderCatalog,
    StreamToken,
    SubmitHeaders,
)
from chalicelib.http.schemas.uploads import Upload, UploadCreate, UploadForm
from chalicelib.http.schemas.webhooks import (
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointsQuery,
)
from chalicelib.jobs import service as jobs
from chalicelib.uploads import service as uploads
from chalicelib.webhooks import service as outgoing_webhooks

app = Chalice(app_name="media-orchestrator")
app.register_middleware(http_middleware, "http")  # outermost: logs the final status
app.register_middleware(security_headers.middleware, "http")  # on every reply, errors included
app.register_middleware(plumbing.error_envelope, "http")
app.register_middleware(origin.middleware, "http")  # CloudFront only, when it has a secret
# Refusals several routes share (each route's @doc names the ones it can meet).
AUTH_RATE = "`rate_limited`: more than RATE_LIMIT_AUTH requests to /v1/auth from this IP"
CREDENTIAL_RATE = (
    "`rate_limited`: more than RATE_LIMIT_CREDENTIAL_WRITES writes of API keys, "
    "provider keys and webhook endpoints by this user"
)
UNKNOWN_LINK = "`invalid_link`: no link with this token was ever sent"
SPENT_LINK = "`invalid_link`: the link was already used, has expired, or its address changed"
CREDENTIAL_WRITER = (
    "`email_unverified`: the account's address is not verified yet (open the mailed link, signed "
    "in); `insufficient_scope`: an API key whose scope is not `full`"
)


def caller() -> auth.Principal:
    return auth.authenticate(request().headers.get("authorization"))


def ip() -> str | None:
    return origin.client_ip(request())


# ---- accounts -----------------------------------------------------------------------------
@app.route("/v1/auth/signup", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Create an account",
    body=Credentials,
    reply=TokenReply,
    status=201,
    auth=False,
    errors={
        409: "`email_taken`: an account with this email exists (its owner is mailed a note)",
        429: AUTH_RATE + ", or more than RATE_LIMIT_EMAIL mails to this address",
    },
)
def signup():
    return reply(accounts.signup(plumbing.parse(Credentials, request()), ip()), 201)


@app.route("/v1/auth/login", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Get an access token",
    body=Credentials,
    reply=TokenReply,
    auth=False,
    errors={
        401: "`invalid_credentials`: no account with this email and password",
        429: AUTH_RATE + ", or more than LOGIN_FAILURES_ALLOWED failed logins for this account in 15 minutes",
    },
)
def login():
    return reply(accounts.login(plumbing.parse(Credentials, request()), ip()))


@app.route("/v1/auth/verify-email", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Confirm your email address with the token of the mailed link (/verify-email?token=...), signed in",
    body=LinkToken,
    reply=EmailVerified,
    errors={
        403: "`invalid_link`: the link was sent for another account than the caller's",
        404: UNKNOWN_LINK,
        410: SPENT_LINK,
        429: AUTH_RATE,
    },
    description="The first verification deletes every API key, webhook endpoint and provider key "
    "made before it (someone who signed up with the address first may have left them).",
)
def verify_email():
    principal = caller()
    return reply(accounts.verify_email(principal, plumbing.parse(LinkToken, request()), ip()))


@app.route("/v1/auth/resend-verification", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Mail a new verification link to the caller's address",
    reply=Accepted,
    status=202,
    errors={
        404: "`not_found`: the account behind a still valid token is gone",
        409: "`already_verified`: the address is verified already",
        429: "`rate_limited`: more than RATE_LIMIT_EMAIL mails to this account",
        503: "`email_unavailable`: the mail could not be sent; try again later",
    },
)
def resend_verification():
    return reply(accounts.resend_verification(caller(), ip()), 202)


@app.route("/v1/auth/password-reset", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Mail a password reset link (always 202: says nothing about whether the account exists)",
    body=PasswordResetRequest,
    reply=Accepted,
    status=202,
    auth=False,
    errors={429: AUTH_RATE + ", or more than RATE_LIMIT_EMAIL mails to this address"},
)
def request_password_reset():
    return reply(accounts.request_password_reset(plumbing.parse(PasswordResetRequest, request()), ip()), 202)


@app.route("/v1/auth/password-reset/confirm", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Set a new password with the token of the mailed link; earlier access tokens, API keys, "
    "webhook endpoints and provider keys stop working",
    body=PasswordResetConfirm,
    reply=TokenReply,
    auth=False,
    errors={404: UNKNOWN_LINK, 410: SPENT_LINK, 429: AUTH_RATE},
)
def confirm_password_reset():
    return reply(accounts.confirm_password_reset(plumbing.parse(PasswordResetConfirm, request()), ip()))


@app.route("/v1/me", methods=["GET"])
@doc(
    "The caller, their plan and this period's usage",
    reply=Me,
    errors={404: "`not_found`: the account behind a still valid token is gone"},
)
def me():
    return reply(accounts.me(caller()))


@app.route("/v1/api-keys", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Create an API key (the key is shown only here)",
    body=ApiKeyCreate,
    reply=ApiKeyCreated,
    status=201,
    errors={
        403: CREDENTIAL_WRITER,
        409: "`api_key_limit_reached`: you have MAX_API_KEYS_PER_USER keys",
        429: CREDENTIAL_RATE,
    },
    description="The owner is mailed about every new key. `scope: jobs` makes a key that cannot "
    "create credentials.",
)
def create_api_key():
    principal = caller()
    return reply(accounts.create_api_key(principal, plumbing.parse(ApiKeyCreate, request()), ip()), 201)


@app.route("/v1/api-keys", methods=["GET"])
@doc("List API keys", query=ApiKeysQuery, reply=ApiKeyList)
def list_api_keys():
    principal = caller()
    q = plumbing.query(ApiKeysQuery, request())
    return reply(accounts.list_api_keys(principal, q.limit, q.cursor))


@app.route("/v1/api-keys/{key_id}", methods=["DELETE"])
@doc("Revoke an API key at once", status=204, errors={429: CREDENTIAL_RATE})
def delete_api_key(key_id):
    accounts.delete_api_key(caller(), key_id, ip())
    return reply(None, 204)


@app.route("/v1/provider-keys/{provider}", methods=["PUT"], content_types=ANY_CONTENT)
@doc(
    "Store your own key for a provider (encrypted; only last4 is ever shown)",
    body=ProviderKeyPut,
    reply=ProviderKey,
    errors={
        403: CREDENTIAL_WRITER,
        422: "`validation_error`: base_url is not https, names a link-local (or, outside "
        "the local stage, a private or loopback) address, or is given for a provider that "
        "calls only its own API (pexels)",
        429: CREDENTIAL_RATE,
    },
)
def put_provider_key(provider):
    principal = caller()
    body = plumbing.parse(ProviderKeyPut, request())
    return reply(byok.put(principal, provider, body, ip()))


@app.route("/v1/provider-keys", methods=["GET"])
@doc("List your provider keys (never the keys)", reply=ProviderKeyList)
def list_provider_keys():
    return reply(byok.list_keys(caller()))


@app.route("/v1/provider-keys/{provider}", methods=["DELETE"])
@doc("Remove a provider key", status=204, errors={429: CREDENTIAL_RATE})
def delete_provider_key(provider):
    byok.delete(caller(), provider, ip())
    return reply(None, 204)


@app.route("/v1/providers", methods=["GET"])
@doc("Providers per step, which need your own key, and whether you stored it", reply=ProviderCatalog)
def list_providers():
    return reply(byok.catalog(caller()))


@app.route("/v1/audit-log", methods=["GET"])
@doc("Your account's audit log, newest first", query=AuditQuery, reply=AuditPage)
def audit_log():
    principal = caller()
    q = plumbing.query(AuditQuery, request())
    return reply(accounts.audit_log(principal, q.limit, q.cursor))


# ---- jobs ---------------------------------------------------------------------------------
@app.route("/v1/jobs", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Submit a job",
    body=JobCreate,
    headers=SubmitHeaders,
    reply=Job,
    status=202,
    reply_headers={"Idempotent-Replayed": "`true` when this is the job an earlier request made"},
    errors={
        402: "`quota_exceeded`: this period's jobs of your plan are used (`details.resets_at`); "
        "`credits_exhausted`: the job's platform AI needs more credits than are left "
        "(`details.needed`, `details.available`, micro-dollars)",
        409: "`idempotency_key_reused`: the Idempotency-Key came before with another body",
        422: "`unknown_provider` / `provider_key_missing`: a provider you named does not "
        "exist or needs your key first; `invalid_upload`: the reference image (a scene's "
        "image_upload_id, the music_upload_id) is not an uploaded image (clip, MP3 or "
        "WAV) of yours; "
        "`validation_error`: duration_s (or the script's length) is over your plan's "
        "limit, the script has no sentence or more than 30, or webhook_url is not one "
        "of your webhook endpoints",
        429: "`rate_limited`: more than RATE_LIMIT_JOBS submissions a minute",
    },
)
def submit_job():
    principal = caller()
    key = plumbing.headers(SubmitHeaders, request()).idempotency_key
    body = plumbing.parse(JobCreate, request())
    job, replayed = jobs.submit(principal, body, key, ip())
    return reply(job, 202, {"Idempotent-Replayed": "true"} if replayed else None)


@app.route("/v1/jobs/estimate", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "What a job would cost, reserve from your credits and take, without creating anything",
    body=JobCreate,
    reply=JobEstimate,
    errors={422: "the same checks as POST /v1/jobs"},
)
def estimate_job():
    principal = caller()
    return reply(jobs.estimate(principal, plumbing.parse(JobCreate, request())))


@app.route("/v1/jobs", methods=["GET"])
@doc("List jobs, newest first", query=JobsQuery, reply=JobList)
def list_jobs():
    principal = caller()
    q = plumbing.query(JobsQuery, request())
    return reply(jobs.list_jobs(principal, q.status, q.limit, q.cursor))


@app.route("/v1/jobs/{job_id}", methods=["GET"])
@doc(
    "A job, with fresh presigned output URLs",
    headers=JobHeaders,
    reply=Job,
    reply_headers={"ETag": "The job's state; send it as If-None-Match"},
    errors={304: "If-None-Match is the job's current ETag"},
)
def get_job(job_id):
    principal = caller()
    seen = plumbing.headers(JobHeaders, request()).if_none_match
    job = jobs.get(principal, job_id)
    tag = jobs.etag(job)
    if seen == tag:
        return Response(body="", status_code=304, headers={"ETag": tag})
    return reply(job, headers={"ETag": tag, "Cache-Control": "no-cache"})


@app.route("/v1/jobs/{job_id}/cancel", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Cancel a job; a running step stops within seconds",
    reply=Job,
    status=202,
    errors={409: "`invalid_state`: the job has already ended"},
)
def cancel_job(job_id):
    return reply(jobs.cancel(caller(), job_id, ip()), 202)


@app.route("/v1/jobs/{job_id}/retry", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Resume a failed or canceled job from the step that stopped",
    reply=Job,
    status=202,
    errors={
        402: "`quota_exceeded`: this period's jobs of your plan are used",
        409: "`invalid_state`: the job is not failed or canceled",
    },
)
def retry_job(job_id):
    return reply(jobs.retry(caller(), job_id, ip()), 202)


@app.route("/v1/jobs/{job_id}/events", methods=["GET"])
@doc(
    "Events after a cursor, long-polling up to `wait` s",
    query=EventsQuery,
    headers=EventsHeaders,
    reply=EventPage,
    media={"text/event-stream": {"type": "string"}},
    description="With `Accept: text/event-stream` the same events come as Server-Sent Events "
    "frames: the window ends at the first batch (or when `wait` is over) with a short `retry:`, "
    "so an EventSource reconnects at once with Last-Event-ID.",
    errors={429: "`too_many_long_polls`: you hold LONG_POLLS_PER_USER polls with `wait` open"},
)
def job_events(job_id):
    req = request()
    q = plumbing.query(EventsQuery, req)  # first: it may carry the credentials (stream_token)
    principal = (
        auth.authenticate_stream(q.stream_token, job_id)
        if q.stream_token and not req.headers.get("authorization")
        else caller()
    )
    as_sse = sse.wanted(req.headers.get("accept"))
    last_seen = plumbing.headers(EventsHeaders, req).last_event_id
    # An EventSource's reconnect sends Last-Event-ID with its first URL (and `after`) unchanged.
    after = (last_seen if as_sse else None) or q.after
    page = jobs.events(principal, job_id, after, q.wait)
    if as_sse:
        return Response(body=sse.frames(page, waited=q.wait > 0), status_code=200, headers=sse.HEADERS)
    return reply(page)


@app.route("/v1/jobs/{job_id}/stream-token", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "A short-lived token for this job's events, for a browser's EventSource (no headers)",
    reply=StreamToken,
    status=201,
)
def job_stream_token(job_id):
    return reply(jobs.stream_token(caller(), job_id), 201)


# ---- uploads ------------------------------------------------------------------------------
@app.route("/v1/uploads", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Start an upload: a presigned S3 POST form for one file",
    body=UploadCreate,
    reply=UploadForm,
    status=201,
    errors={
        413: "`payload_too_large`: size_bytes is over your plan's upload limit",
        429: "`rate_limited`: more than RATE_LIMIT_UPLOADS uploads a minute",
    },
)
def create_upload():
    principal = caller()
    return reply(uploads.create(principal, plumbing.parse(UploadCreate, request()), ip()), 201)


@app.route("/v1/uploads/{upload_id}", methods=["GET"])
@doc("An upload; checked (size, type, content) once its file is in S3", reply=Upload)
def get_upload(upload_id):
    return reply(uploads.get(caller(), upload_id))


# ---- outgoing webhooks --------------------------------------------------------------------
@app.route("/v1/webhook-endpoints", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Register a webhook endpoint (its signing secret is shown only here; the owner is mailed)",
    body=WebhookEndpointCreate,
    reply=WebhookEndpointCreated,
    status=201,
    errors={
        403: CREDENTIAL_WRITER,
        409: "`webhook_endpoint_limit_reached`: you have MAX_WEBHOOK_ENDPOINTS_PER_USER endpoints",
        422: "`validation_error`: url is not https, or names a link-local (or, outside the "
        "local stage, a private or loopback) address",
        429: CREDENTIAL_RATE,
    },
)
def create_webhook_endpoint():
    principal = caller()
    body = plumbing.parse(WebhookEndpointCreate, request())
    return reply(outgoing_webhooks.register(principal, body, ip()), 201)


@app.route("/v1/webhook-endpoints", methods=["GET"])
@doc("List webhook endpoints", query=WebhookEndpointsQuery, reply=WebhookEndpointList)
def list_webhook_endpoints():
    principal = caller()
    q = plumbing.query(WebhookEndpointsQuery, request())
    return reply(outgoing_webhooks.list_endpoints(principal, q.limit, q.cursor))


@app.route("/v1/webhook-endpoints/{endpoint_id}", methods=["DELETE"])
@doc("Delete a webhook endpoint", status=204, errors={429: CREDENTIAL_RATE})
def delete_webhook_endpoint(endpoint_id):
    outgoing_webhooks.delete(caller(), endpoint_id, ip())
    return reply(None, 204)


# ---- billing ------------------------------------------------------------------------------
@app.route("/v1/plans", methods=["GET"])
@doc("The plans, their limits, and which can be bought through Whop checkout", reply=PlanCatalog)
def list_plans():
    caller()
    return reply(checkout.catalog())


@app.route("/v1/billing/packs", methods=["GET"])
@doc("The credit packs on sale through Whop checkout: credits added and price", reply=PackCatalog)
def list_credit_packs():
    caller()
    return reply(checkout.pack_catalog())


@app.route("/v1/billing/checkout", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Start a Whop checkout for a plan or a credit pack (exactly one); send the buyer to `url`",
    body=CheckoutCreate,
    reply=CheckoutSession,
    status=201,
    errors={
        422: "`validation_error`: neither or both of `plan` and `pack`, or an unknown one",
        409: "`plan_not_purchasable`: no Whop plan is mapped to it (WHOP_PLAN_MAP); "
        "`email_not_verified`: verify your email first; `checkout_not_configured`: "
        "this server has no Whop API key",
        502: "`whop_unavailable`: Whop could not be reached or refused the checkout",
    },
)
def create_checkout():
    principal = caller()
    body = plumbing.parse(CheckoutCreate, request())
    return reply(checkout.create(principal, body, ip()), 201)


@app.route("/v1/webhooks/whop", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Whop webhooks (Standard Webhooks signature over the raw body)",
    headers=StandardWebhookHeaders,
    reply=WebhookAck,
    auth=False,
    errors={
        400: "`malformed_json` / `invalid_payload`: a signed body that is not a Whop event",
        401: "`invalid_signature`: the signature is missing or wrong, or the timestamp is "
        "more than 5 minutes off",
    },
)
def whop_webhook():
    req = request()
    return reply(whop.receive(req.raw_body or b"", dict(req.headers)))  # type: ignore[arg-type]


# ---- the operator's console (/v1/admin) ----------------------------------------------------
OPERATORS_ONLY = "`forbidden`: the caller's access token does not carry the operator role (API keys never do)"


def operator() -> auth.Principal:
    return access.require_operator(caller())


@app.route("/v1/admin/overview", methods=["GET"])
@doc(
    "Operators: jobs by status now and per day, the queue, wait p50/p95, failures by code and step",
    query=OverviewQuery,
    reply=Overview,
    errors={403: OPERATORS_ONLY},
)
def admin_overview():
    operator()
    return reply(admin.overview(plumbing.query(OverviewQuery, request()).days))


@app.route("/v1/admin/customers", methods=["GET"])
@doc(
    "Operators: customers, newest first, by the start of their email",
    query=CustomersQuery,
    reply=CustomerList,
    errors={403: OPERATORS_ONLY},
)
def admin_customers():
    operator()
    q = plumbing.query(CustomersQuery, request())
    return reply(admin.search_customers(q.email, q.limit, q.cursor))


@app.route("/v1/admin/customers/{user_id}", methods=["GET"])
@doc(
    "Operators: a customer's plan, membership, usage and recent jobs",
    query=CustomerJobsQuery,
    reply=CustomerDetail,
    errors={403: OPERATORS_ONLY},
)
def admin_customer(user_id):
    operator()
    q = plumbing.query(CustomerJobsQuery, request())
    return reply(admin.customer(user_id, q.status, q.limit))


@app.route("/v1/admin/customers/{user_id}/suspend", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Operators: suspend an account (its tokens and keys stop; queued and running jobs are "
    "canceled with their quota back)",
    reply=Suspension,
    errors={403: OPERATORS_ONLY, 409: "`is_operator`: revoke the account's operator role first"},
)
def admin_suspend(user_id):
    return reply(admin.suspend(operator(), user_id, ip()))


@app.route("/v1/admin/customers/{user_id}/reinstate", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Operators: reinstate a suspended account (its keys work again; its users log in again)",
    reply=Customer,
    errors={403: OPERATORS_ONLY},
)
def admin_reinstate(user_id):
    return reply(admin.reinstate(operator(), user_id, ip()))


@app.route("/v1/admin/jobs/{job_id}", methods=["GET"])
@doc(
    "Operators: any job as its owner sees it, with its owner and internal error detail",
    reply=JobInspection,
    errors={403: OPERATORS_ONLY},
)
def admin_job(job_id):
    operator()
    return reply(admin.inspect_job(job_id))


@app.route("/v1/admin/dead-letters", methods=["GET"])
@doc(
    "Operators: failed jobs, newest first",
    query=DeadLettersQuery,
    reply=DeadLetterList,
    errors={403: OPERATORS_ONLY},
)
def admin_dead_letters():
    operator()
    q = plumbing.query(DeadLettersQuery, request())
    return reply(admin.dead_letters(q.code, q.limit, q.cursor))


@app.route("/v1/admin/dead-letters/redrive", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Operators: requeue failed jobs from their failed step, not charged again (as `ops redrive`)",
    body=RedriveRequest,
    reply=RedriveReply,
    errors={403: OPERATORS_ONLY},
)
def admin_redrive():
    principal = operator()
    return reply(admin.redrive(principal, plumbing.parse(RedriveRequest, request()).job_ids, ip()))


@app.route("/v1/admin/spend", methods=["GET"])
@doc(
    "Operators: provider usage per day, provider and purpose, and the top customers",
    query=SpendQuery,
    reply=Spend,
    errors={403: OPERATORS_ONLY},
)
def admin_spend():
    operator()
    return reply(admin.spend(plumbing.query(SpendQuery, request()).days))


@app.route("/v1/admin/operators", methods=["GET"])
@doc("Operators: who holds the operator role", reply=OperatorList, errors={403: OPERATORS_ONLY})
def admin_operators():
    operator()
    return reply(admin.operators())


@app.route("/v1/admin/operators", methods=["POST"], content_types=ANY_CONTENT)
@doc(
    "Operators: grant the operator role (it takes effect at that account's next login)",
    body=OperatorGrant,
    reply=Operator,
    status=201,
    errors={403: OPERATORS_ONLY, 404: "`not_found`: no account with this email"},
)
def admin_grant_operator():
    principal = operator()
    return reply(admin.grant_operator(principal, plumbing.parse(OperatorGrant, request()).email, ip()), 201)


@app.route("/v1/admin/operators/{user_id}", methods=["DELETE"])
@doc(
    "Operators: revoke an operator's role, at once",
    status=204,
    errors={403: OPERATORS_ONLY, 409: "`cannot_revoke_self`: operators can't revoke their own role"},
)
def admin_revoke_operator(user_id):
    admin.revoke_operator(operator(), user_id, ip())
    return reply(None, 204)


# ---- operations ---------------------------------------------------------------------------
@app.route("/v1/health", methods=["GET"])
@doc("Dependency health", reply=Health, auth=False, reply_also=(503,))
def get_health():
    report, healthy = health.check()
    return reply(report, 200 if healthy else 503)


@app.route("/v1/openapi.json", methods=["GET"])
@doc("This API's OpenAPI 3.1 document", auth=False)
def openapi_document():
    return reply(openapi.build(app))
