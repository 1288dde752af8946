"""Bring-your-own-key: users' provider API keys, sealed at rest, opened only in the worker."""

from __future__ import annotations

from chalicelib.accounts import notices
from chalicelib.accounts import provider_keys as keys_db
from chalicelib.accounts.auth import Principal, require_credential_writer
from chalicelib.billing.plans import AITier, entitlement
from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.ids import iso, utcnow
from chalicelib.core.settings import get_settings
from chalicelib.http.schemas.accounts import ProviderKey, ProviderKeyList, ProviderKeyPut
from chalicelib.http.schemas.jobs import (
    Included,
    ProviderCatalog,
    ProviderOption,
    StepProviders,
    VoiceOption,
)
from chalicelib.infra import audit, crypto, ratelimit, url_guard
from chalicelib.pipeline import providers, registry


def _owner(user_id: str, provider: str) -> dict[str, str]:
    return {"user_id": user_id, "provider": provider}


def _check_provider(provider: str) -> None:
    keyed = providers.KEYED_PROVIDERS
    if provider not in keyed:
        raise ValidationFailed(
            "Unknown provider",
            code="unknown_provider",
            details=[
                {
                    "field": "provider",
                    "type": "unknown_provider",
                    "message": f"one of {', '.join(sorted(keyed))}",
                }
            ],
        )


def _public(row: keys_db.ProviderKeyRow) -> ProviderKey:
    return ProviderKey(
        provider=row.provider,
        last4=row.last4,
        base_url=row.base_url,
        updated_at=iso(row.updated_at),
    )


def put(principal: Principal, provider: str, body: ProviderKeyPut, ip: str | None) -> ProviderKey:
    _check_provider(provider)
    require_credential_writer(principal)
    ratelimit.credential_write(principal.user_id)  # each write is a KMS call
    base_url = str(body.base_url).rstrip("/") if body.base_url else None
    if base_url and not registry.keyed_provider(provider).user_base_url:
        raise ValidationFailed(
            f"A {provider} key calls {provider}'s own API; base_url is not accepted",
            details=[
                {"field": "base_url", "type": "not_allowed", "message": f"not allowed for {provider} keys"}
            ],
        )
    if base_url:
        url_guard.check_outbound(base_url, "base_url")
    sealed = crypto.seal(body.api_key, _owner(principal.user_id, provider))
    row = keys_db.upsert(
        principal.user_id,
        provider,
        sealed.ciphertext,
        sealed.wrapped_key,
        sealed.kms_key_id,
        body.api_key[-4:],
        base_url,
    )
    audit.record("provider_key.set", user_id=principal.user_id, ip=ip, target=provider)
    where = f", calling {base_url}" if base_url else ""
    notices.credential_created(principal.user_id, "provider key", f"{provider}, ...{row.last4}{where}", ip)
    return _public(row)


def list_keys(principal: Principal) -> ProviderKeyList:
    return ProviderKeyList(items=[_public(r) for r in keys_db.public(principal.user_id)])


def delete(principal: Principal, provider: str, ip: str | None) -> None:
    ratelimit.credential_write(principal.user_id)
    if not keys_db.delete(principal.user_id, provider):
        raise NotFound("No key stored for this provider")
    audit.record("provider_key.removed", user_id=principal.user_id, ip=ip, target=provider)


def stored(user_id: str) -> set[str]:
    """The providers the user stored a key for (nothing is decrypted)."""
    return {row.provider for row in keys_db.public(user_id)}


def _included(tier: AITier | None, platform: list[str]) -> Included | None:
    if tier is None:
        return None
    return Included(
        provider=tier.provider, model=tier.model, quality=tier.quality, available=tier.provider in platform
    )


def catalog(principal: Principal) -> ProviderCatalog:
    """Per step, the providers a job may name, whether the caller holds each one's key, and what
    the caller's plan includes on the platform's account (available once the operator set it up)."""
    have, default, keyed = stored(principal.user_id), providers.defaults(), providers.KEYED_PROVIDERS
    tiers, platform = entitlement(principal.user_id, utcnow()).plan.ai, get_settings().platform_providers
    return ProviderCatalog(
        items=[
            StepProviders(
                step=step,
                default=default[step],
                providers=[
                    ProviderOption(
                        name=name, needs_key=name in keyed, has_key=name not in keyed or name in have
                    )
                    for name in names
                ],
                included=_included(tiers.get(step), platform),
            )
            for step, names in providers.AVAILABLE.items()
        ],
        voices=[
            VoiceOption(
                name=name,
                provider=provider,
                engine=engine,
                languages=list(languages),
                default=name == providers.DEFAULT_VOICE,
            )
            for name, (provider, engine, languages) in providers.VOICES.items()
        ],
    )


def open_key(user_id: str, provider: str) -> tuple[str, str | None] | None:
    """(api key, base_url) for the worker, or None when the user stored none."""
    row = keys_db.sealed(user_id, provider)
    if row is None:
        return None
    key = crypto.open_sealed(bytes(row.encrypted_key), bytes(row.wrapped_dek), _owner(user_id, provider))
    return key, row.base_url
