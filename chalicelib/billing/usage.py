"""SQL for provider usage: one row per provider a step used, summed per user and period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.infra import db

_SUMS = (
    "COUNT(*) AS calls, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out,"
    " SUM(characters) AS characters, SUM(images) AS images, SUM(audio_ms) AS audio_ms,"
    " SUM(bytes) AS bytes, SUM(wall_ms) AS wall_ms, SUM(cost_micros) AS cost_micros,"
    " SUM(IF(account = 'platform', cost_micros, 0)) AS platform_micros"
)


@dataclass(frozen=True, slots=True)
class UsageTotal(db.Row):
    """The sums of `provider_usage` rows for one (purpose, provider)."""

    purpose: str
    provider: str
    calls: int
    tokens_in: int
    tokens_out: int
    characters: int
    images: int
    audio_ms: int
    bytes: int
    wall_ms: int
    cost_micros: int = 0
    platform_micros: int = 0

    @classmethod
    def _decode(cls, values: dict[str, Any]) -> dict[str, Any]:
        # SUM() comes back as a Decimal
        return {
            name: value if name in ("purpose", "provider") else int(value) for name, value in values.items()
        }


def record(cur, job_id: str, step: str, records: list[dict], at) -> None:
    """Inside the transaction that marks the step succeeded: counted once per successful run."""
    if records:
        cur.executemany(
            "INSERT INTO provider_usage (user_id, plan, job_id, step, purpose, provider, model, tokens_in,"
            " tokens_out, characters, images, audio_ms, bytes, wall_ms, cost_micros, account, created_at)"
            " SELECT user_id, plan, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM jobs WHERE id = %s",
            [
                (
                    job_id,
                    step,
                    r["purpose"],
                    r["provider"],
                    r["model"],
                    r["tokens_in"],
                    r["tokens_out"],
                    r["characters"],
                    r["images"],
                    round(r["audio_s"] * 1000),
                    r["bytes"],
                    round(r["wall_s"] * 1000),
                    r.get("cost_micros", 0),
                    r.get("account", "none"),
                    at,
                    job_id,
                )
                for r in records
            ],
        )


def totals(user_id: str, start, end) -> list[UsageTotal]:
    """Per (purpose, provider), the sums of [start, end)."""
    return [
        UsageTotal.of(row)
        for row in db.fetch_all(
            # B608: only the constant column sums _SUMS are formatted in; values are parameters
            f"SELECT purpose, provider, {_SUMS} FROM provider_usage"  # nosec B608
            " WHERE user_id = %s AND created_at >= %s AND created_at < %s"
            " GROUP BY purpose, provider ORDER BY purpose, provider",
            (user_id, start, end),
        )
    ]
