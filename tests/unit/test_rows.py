"""The typed rows of the SQL modules (each domain's repository): one frozen, slotted dataclass per table, all built from a
DictCursor row by the one constructor, db.Row.of. No services: the rows here are dicts."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from datetime import datetime
from decimal import Decimal

import pytest

import chalicelib  # noqa: E402  (the packages whose SQL modules define the row types)
from chalicelib.billing import usage
from chalicelib.infra import db
from chalicelib.jobs import repository as jobs
from chalicelib.jobs.states import JobStatus
from chalicelib.uploads import repository as uploads
from chalicelib.uploads.states import UploadStatus
from chalicelib.webhooks import repository as webhooks

MODULES = [
    importlib.import_module(m.name)
    for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib.")
    if not m.ispkg and not m.name.startswith(("chalicelib.pipeline", "chalicelib.runtime"))
]
ROW_TYPES = [
    value
    for module in MODULES
    for value in vars(module).values()
    if isinstance(value, type)
    and issubclass(value, db.Row)
    and value is not db.Row
    and value.__module__ == module.__name__
]
NOW = datetime(2026, 1, 2, 3, 4, 5)


def test_the_data_layer_has_its_row_types():
    names = {cls.__name__ for cls in ROW_TYPES}
    assert {"JobRow", "StepRow", "UserRow", "MembershipRow", "UploadRow", "ApiKeyRow"} <= names
    assert {"WebhookEndpointRow", "ProviderKeyRow", "AccountTokenRow", "AuditRow", "UsageTotal"} <= names


@pytest.mark.parametrize("cls", ROW_TYPES, ids=lambda cls: cls.__name__)
def test_every_row_type_is_a_frozen_slotted_dataclass(cls):
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert "__slots__" in vars(cls) and all(
        "__dict__" not in vars(k) for k in cls.__mro__
    )  # no instance dict


def test_a_row_keeps_the_columns_it_declares_and_decodes_its_json():
    row = webhooks.WebhookEndpointRow.of(
        {
            "id": "whe_1",
            "user_id": "usr_1",
            "url": "https://example.com/hook",
            "events": '["job.succeeded"]',
            "created_at": NOW,
            "added_by_a_later_migration": 1,
        }
    )
    assert row.events == ["job.succeeded"] and row.last_status is None
    assert row.encrypted_secret == b""  # only sealed() reads the secret
    assert webhooks.WebhookEndpointRow.maybe(None) is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.url = "https://elsewhere.example.com"


def test_a_row_types_its_columns():
    job = jobs.JobRow.of(
        {
            "id": "job_1",
            "user_id": "usr_1",
            "status": "running",
            "progress": 10,
            "attempt": 1,
            "request": '{"prompt": "p"}',
            "plan": "free",
            "created_at": NOW,
            "updated_at": NOW,
            "notes": None,
            "quota_reserved": 1,
        }
    )
    assert job.status is JobStatus.running and job.request == {"prompt": "p"}
    assert job.notes == [] and job.quota_reserved is True
    upload = uploads.UploadRow.of(
        {
            "id": "upl_1",
            "user_id": "usr_1",
            "status": "pending",
            "filename": "a.png",
            "content_type": "image/png",
            "size_bytes": 10,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )
    assert upload.status is UploadStatus.pending and upload.reason_code is None
    sums = {"tokens_in": Decimal(3), "tokens_out": Decimal(0), "characters": Decimal(5), "images": Decimal(1)}
    total = usage.UsageTotal.of(
        {"purpose": "concept", "provider": "openai", "calls": 2, "audio_ms": Decimal(1500)}
        | sums
        | {"bytes": Decimal(7), "wall_ms": Decimal(250)}
    )
    assert total.tokens_in == 3 and type(total.audio_ms) is int and total.purpose == "concept"
