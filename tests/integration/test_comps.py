"""Comps (billing/comps.py): an operator grants a plan without Whop from the ops command; it
gives the plan and a credits period at once, sits beside a Whop membership, ends when its days
are over or when revoked, and every grant and revoke is audited."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.billing import comps
from chalicelib.core.ids import utcnow
from chalicelib.infra import db
from chalicelib.runtime import ops
from tests.conftest import grant_plan


def _plan(api, user: dict) -> str:
    return api.call("GET", "/v1/me", token=user["token"]).json["plan"]["name"]


def test_a_comp_gives_the_plan_at_once_and_its_revoke_takes_it_back(api, user, capsys):
    assert ops.main(["grant-plan", user["email"], "pro", "--days", "7"]) == 0
    assert '"plan": "pro"' in capsys.readouterr().out
    me = api.call("GET", "/v1/me", token=user["token"]).json
    assert me["plan"]["name"] == "pro" and me["credits"]["allowance_micros"] == 10_000_000
    assert ops.main(["grant-plan", user["email"], "business"]) == 0  # granting again replaces it
    assert _plan(api, user) == "business"
    assert ops.main(["revoke-plan", user["email"]]) == 0
    assert _plan(api, user) == "free"
    actions = db.fetch_all(
        "SELECT action FROM audit_log WHERE target = %s AND action LIKE 'plan.%%' ORDER BY id",
        (user["user"]["id"],),
    )
    assert [a["action"] for a in actions] == ["plan.comped", "plan.comped", "plan.comp_revoked"]


def test_a_comp_ends_with_its_days(api, user):
    comps.grant(user["user"]["id"], "pro", 1)
    db.execute(
        "UPDATE memberships SET renewal_period_start = %s, renewal_period_end = %s WHERE id = %s",
        (utcnow() - timedelta(days=2), utcnow() - timedelta(seconds=1), f"comp_{user['user']['id']}"),
    )
    assert _plan(api, user) == "free"


def test_a_comp_sits_beside_a_whop_membership_and_the_better_plan_wins(api, user):
    grant_plan(user["user"]["id"], "business")
    comps.grant(user["user"]["id"], "pro", 30)
    assert _plan(api, user) == "business"
    assert comps.revoke(user["user"]["id"]) is True
    assert _plan(api, user) == "business"  # the Whop membership is untouched
    assert comps.revoke(user["user"]["id"]) is False


def test_bad_input_is_refused_and_changes_nothing(api, user, capsys):
    assert ops.main(["grant-plan", user["email"], "platinum"]) == 2
    assert "unknown plan" in capsys.readouterr().err
    assert ops.main(["grant-plan", user["email"], "pro", "--days", "0"]) == 2
    assert ops.main(["grant-plan", "nobody-here@example.com", "pro"]) == 1
    assert _plan(api, user) == "free"
