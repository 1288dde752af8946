"""`mo`: make videos from a terminal. Accounts and keys here; jobs in `jobs.py`, batches in
`batch.py`. Every command takes `--json`; exit codes are in `common.py` and the README."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mo_client.cli import batch, jobs
from mo_client.cli.common import (
    Json,
    State,
    dollars,
    emit_json,
    handled,
    out,
    save_credentials,
    state,
)

app = typer.Typer(
    name="mo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Make narrated, captioned videos from prompts with the media orchestrator API.",
)
keys_app = typer.Typer(no_args_is_help=True, help="API keys (ak_...) for scripts and CI.")
provider_keys_app = typer.Typer(no_args_is_help=True, help="Your own provider keys (BYOK), stored encrypted.")
webhooks_app = typer.Typer(no_args_is_help=True, help="Endpoints that receive your jobs' events.")
app.add_typer(keys_app, name="keys")
app.add_typer(provider_keys_app, name="provider-keys")
app.add_typer(webhooks_app, name="webhooks")
jobs.register(app)
batch.register(app)


@app.callback()
def root(
    ctx: typer.Context,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url", help="The API's base URL (default: MO_API_URL, else http://127.0.0.1:8000)."
        ),
    ] = None,
) -> None:
    ctx.obj = State(api_url)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    app()


# ---- account ----------------------------------------------------------------------------
Email = Annotated[str | None, typer.Option("--email", help="Prompted for when left out.")]
Password = Annotated[str | None, typer.Option("--password", help="Prompted for (hidden) when left out.")]


def _store(st: State, token: str, email: str, as_json: bool, verb: str) -> None:
    path = save_credentials(st.api_url, {"token": token, "email": email})
    if as_json:
        emit_json({"email": email, "api_url": st.api_url, "credentials": str(path)})
    else:
        out.print(f"{verb} [bold]{email}[/bold] at {st.api_url}; token saved to {path}")


@app.command()
@handled
def signup(ctx: typer.Context, email: Email = None, password: Password = None, as_json: Json = False) -> None:
    """Create an account and stay logged in."""
    st = state(ctx)
    email = email or typer.prompt("Email")
    password = password or typer.prompt(
        "Password (10+ characters)", hide_input=True, confirmation_prompt=True
    )
    reply = st.client(auth=False).signup(email, password)
    _store(st, reply.access_token, reply.user.email, as_json, "Signed up")


@app.command()
@handled
def login(
    ctx: typer.Context,
    email: Email = None,
    password: Password = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="Store this API key (ak_...) instead of logging in with a password."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Log in (the token is kept in your config folder, readable only by you)."""
    st = state(ctx)
    client = st.client(auth=False)
    if api_key:
        client.token = api_key
        _store(st, api_key, client.me().email, as_json, "Using an API key of")
        return
    email = email or typer.prompt("Email")
    password = password or typer.prompt("Password", hide_input=True)
    reply = client.login(email, password)
    _store(st, reply.access_token, reply.user.email, as_json, "Logged in as")


@app.command()
@handled
def verify(
    ctx: typer.Context,
    token: Annotated[str | None, typer.Argument(help="The token of the mailed link (?token=...).")] = None,
    resend: Annotated[bool, typer.Option("--resend", help="Mail me a new link instead.")] = False,
    as_json: Json = False,
) -> None:
    """Confirm your email address with the mailed link's token (or --resend the link)."""
    st = state(ctx)
    if resend or token is None:
        accepted = st.client().resend_verification()
        emit_json(accepted) if as_json else out.print(accepted.message)
        return
    verified = st.client().verify_email(token)  # signed in: the link alone verifies nothing
    emit_json(verified) if as_json else out.print(f"Verified {verified.user.email}")


@app.command("reset-password")
@handled
def reset_password(
    ctx: typer.Context,
    email: Email = None,
    token: Annotated[
        str | None, typer.Option("--token", help="The mailed link's token: set the new password now.")
    ] = None,
    password: Password = None,
    as_json: Json = False,
) -> None:
    """Mail a reset link (--email), then set a new password with its token (--token)."""
    st = state(ctx)
    client = st.client(auth=False)
    if token is None:
        accepted = client.request_password_reset(email or typer.prompt("Email"))
        emit_json(accepted) if as_json else out.print(accepted.message)
        return
    password = password or typer.prompt(
        "New password (10+ characters)", hide_input=True, confirmation_prompt=True
    )
    reply = client.confirm_password_reset(token, password)
    _store(st, reply.access_token, reply.user.email, as_json, "New password set for")


@app.command()
@handled
def logout(ctx: typer.Context, as_json: Json = False) -> None:
    """Forget the stored token for this API."""
    st = state(ctx)
    save_credentials(st.api_url, None)
    emit_json({"logged_out": st.api_url}) if as_json else out.print(f"Logged out of {st.api_url}")


@app.command()
@handled
def whoami(ctx: typer.Context, as_json: Json = False) -> None:
    """Who you are, your plan, this period's usage and your credits."""
    me = state(ctx).client().me()
    if as_json:
        emit_json(me)
        return
    plan, usage = me.plan, me.usage
    unverified = "" if me.email_verified else " (unverified: `mo verify --resend`)"
    out.print(
        f"[bold]{me.email}[/bold]{unverified} ({me.id}) on the [bold]{plan.name}[/bold] plan"
        + (f", membership {me.membership.status}" if me.membership else "")
    )
    out.print(
        f"jobs this period: {usage.jobs_used} of {plan.monthly_jobs} "
        f"({usage.period_start[:10]} to {usage.period_end[:10]}), running now: {usage.running}"
    )
    out.print(
        f"limits: {plan.max_duration_s} s per video, {plan.max_concurrency} at once, "
        f"kept {plan.retention_days} days"
    )
    if me.credits:
        c = me.credits
        out.print(
            f"credits: {dollars(c.available_micros)} available ({dollars(c.allowance_micros)} left of"
            f" {dollars(c.monthly_micros)} this period, {dollars(c.topup_micros)} in packs,"
            f" {dollars(c.reserved_micros)} held by running jobs)"
        )
    for total in usage.providers:
        cost = f", {dollars(total.cost_micros)}" if total.cost_micros else ""
        charged = f" ({dollars(total.platform_micros)} from credits)" if total.platform_micros else ""
        out.print(f"  {total.purpose:<9} {total.provider:<10} {total.calls} calls{cost}{charged}")


# ---- API keys ---------------------------------------------------------------------------
@keys_app.command("list")
@handled
def keys_list(ctx: typer.Context, as_json: Json = False) -> None:
    """Your API keys (never the keys themselves)."""
    keys = list(state(ctx).client().iter_api_keys())
    if as_json:
        emit_json(keys)
        return
    table = Table("id", "name", "prefix", "created", "last used")
    for key in keys:
        table.add_row(key.id, key.name, key.prefix, key.created_at, key.last_used_at or "-")
    out.print(table)


@keys_app.command("create")
@handled
def keys_create(ctx: typer.Context, name: str, as_json: Json = False) -> None:
    """Create an API key; it is shown only now."""
    created = state(ctx).client().create_api_key(name)
    if as_json:
        emit_json(created)
    else:
        out.print(
            f"{created.key}\n[dim]{created.id} ({created.name}); shown only now. "
            "Use it as MO_TOKEN or `mo login --api-key`.[/dim]"
        )


@keys_app.command("delete")
@handled
def keys_delete(ctx: typer.Context, key_id: str, as_json: Json = False) -> None:
    """Revoke an API key at once."""
    state(ctx).client().delete_api_key(key_id)
    emit_json({"deleted": key_id}) if as_json else out.print(f"Revoked {key_id}")


# ---- provider keys ----------------------------------------------------------------------
@provider_keys_app.command("list")
@handled
def provider_keys_list(ctx: typer.Context, as_json: Json = False) -> None:
    """Stored provider keys (only their last four characters)."""
    items = state(ctx).client().list_provider_keys().items
    if as_json:
        emit_json(items)
        return
    table = Table("provider", "key", "base url", "updated")
    for item in items:
        table.add_row(item.provider, f"...{item.last4}", item.base_url or "-", item.updated_at)
    out.print(table)


@provider_keys_app.command("set")
@handled
def provider_keys_set(
    ctx: typer.Context,
    provider: str,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Prompted for (hidden) when left out.")
    ] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="An OpenAI-compatible server.")] = None,
    as_json: Json = False,
) -> None:
    """Store your key for a provider (e.g. openai)."""
    api_key = api_key or typer.prompt(f"{provider} API key", hide_input=True)
    stored = state(ctx).client().put_provider_key(provider, api_key, base_url)
    emit_json(stored) if as_json else out.print(f"Stored {stored.provider} key ...{stored.last4}")


@provider_keys_app.command("delete")
@handled
def provider_keys_delete(ctx: typer.Context, provider: str, as_json: Json = False) -> None:
    """Remove your key for a provider."""
    state(ctx).client().delete_provider_key(provider)
    emit_json({"deleted": provider}) if as_json else out.print(f"Removed the {provider} key")


@app.command()
@handled
def providers(ctx: typer.Context, as_json: Json = False) -> None:
    """Providers per step, which need your own key, whether you stored it, what your plan includes."""
    catalog = state(ctx).client().providers()
    if as_json:
        emit_json(catalog)
        return
    table = Table("step", "default", "providers")
    for step in catalog.items:
        names = ", ".join(
            p.name + ("" if not p.needs_key else " (key stored)" if p.has_key else " (needs key)")
            for p in step.providers
        )
        table.add_row(step.step, step.default, names)
    out.print(table)
    for step in catalog.items:
        if step.included:
            inc = step.included
            what = " ".join(filter(None, (inc.provider, inc.model, inc.quality)))
            out.print(
                f"your plan includes for {step.step}: {what}"
                + ("" if inc.available else " (not set up on this server: offline)")
            )


# ---- webhooks, audit, uploads, health ---------------------------------------------------
@webhooks_app.command("list")
@handled
def webhooks_list(ctx: typer.Context, as_json: Json = False) -> None:
    """Your webhook endpoints."""
    items = list(state(ctx).client().iter_webhook_endpoints())
    if as_json:
        emit_json(items)
        return
    table = Table("id", "url", "events", "last status")
    for item in items:
        table.add_row(item.id, item.url, ", ".join(item.events), str(item.last_status or "-"))
    out.print(table)


@webhooks_app.command("create")
@handled
def webhooks_create(
    ctx: typer.Context,
    url: str,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="An event type to deliver (repeat); default: all but step.progress."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Register an endpoint; its signing secret is shown only now."""
    created = state(ctx).client().create_webhook_endpoint(url, event or None)
    if as_json:
        emit_json(created)
    else:
        out.print(f"{created.id} -> {created.url}\nsigning secret (shown only now): {created.secret}")


@webhooks_app.command("delete")
@handled
def webhooks_delete(ctx: typer.Context, endpoint_id: str, as_json: Json = False) -> None:
    """Delete a webhook endpoint."""
    state(ctx).client().delete_webhook_endpoint(endpoint_id)
    emit_json({"deleted": endpoint_id}) if as_json else out.print(f"Deleted {endpoint_id}")


@app.command()
@handled
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many entries.")] = 20,
    as_json: Json = False,
) -> None:
    """Your account's audit log, newest first."""
    items = state(ctx).client().audit_log(limit=limit).items
    if as_json:
        emit_json(items)
        return
    table = Table("at", "action", "target", "ip")
    for item in items:
        table.add_row(item.at, item.action, item.target or "-", item.ip or "-")
    out.print(table)


@app.command()
@handled
def plans(ctx: typer.Context, as_json: Json = False) -> None:
    """The plans, their limits, the AI and credits they include, and which you can buy (`mo upgrade PLAN`)."""
    catalog = state(ctx).client().plans()
    if as_json:
        emit_json(catalog.items)
        return
    table = Table(
        "plan", "jobs / month", "max s", "at once", "kept days", "AI credits / month", "AI included", "buy"
    )
    for plan in catalog.items:
        table.add_row(
            plan.name,
            str(plan.monthly_jobs),
            str(plan.max_duration_s),
            str(plan.max_concurrency),
            str(plan.retention_days),
            dollars(plan.monthly_credits_micros),
            ", ".join(f"{purpose}: {ai.provider} {ai.model or ''}".strip() for purpose, ai in plan.ai.items())
            or "-",
            f"mo upgrade {plan.name}" if plan.purchasable else "-",
        )
    out.print(table)


@app.command()
@handled
def upgrade(ctx: typer.Context, plan: str, as_json: Json = False) -> None:
    """Start buying a plan through Whop: prints the checkout link to open."""
    session = state(ctx).client().checkout(plan)
    if as_json:
        emit_json(session)
    else:
        out.print(f"Open this link to buy {session.plan}:\n{session.url}")


@app.command()
@handled
def health(ctx: typer.Context, as_json: Json = False) -> None:
    """The API's health and its dependencies."""
    report = state(ctx).client(auth=False).health()
    if as_json:
        emit_json(report)
    else:
        out.print(f"{report.status}: " + ", ".join(f"{k} {v}" for k, v in report.checks.items()))
    if report.status != "ok":
        raise typer.Exit(1)
