"""The client's pure parts, no server needed: batch files and their keys, the error envelope."""

from __future__ import annotations

import httpx
import pytest
from mo_client import errors
from mo_client.cli.batch import read_lines
from mo_client.cli.jobs import script_fields

from tests.client.conftest import png


def test_a_lines_key_follows_its_content_not_its_position(tmp_path):
    png(tmp_path / "a.png")
    (tmp_path / "one.csv").write_text("prompt,duration,image\nboats,5,a.png\nkites,5,\nboats,5,a.png\n")
    (tmp_path / "two.csv").write_text("prompt,duration,image\nnew line,5,\nkites,5,\nboats,5,a.png\n")
    one, two = read_lines(tmp_path / "one.csv"), read_lines(tmp_path / "two.csv")

    assert one[0].fields == {"prompt": "boats", "duration_s": 5} and one[0].image == tmp_path / "a.png"
    assert one[0].key != one[2].key  # the same line twice is two jobs
    assert two[1].key == one[1].key and two[2].key == one[0].key  # moved lines keep their job
    (tmp_path / "a.png").write_bytes((tmp_path / "a.png").read_bytes() + b"\0")
    assert read_lines(tmp_path / "one.csv")[0].key != one[0].key  # another image, another job


def test_json_lines_and_what_makes_a_line_invalid(tmp_path):
    (tmp_path / "b.jsonl").write_text(
        '{"prompt": "x", "providers": {"concept": "openai"}}\n\n[1]\n{oops\n{"prompt": ""}\n'
        '{"prompt": "y", "image": "missing.png"}\n'
    )
    lines = read_lines(tmp_path / "b.jsonl")
    assert [line.number for line in lines] == [1, 2, 3, 4, 5]
    assert lines[0].fields == {"prompt": "x", "providers": {"concept": "openai"}} and not lines[0].problem
    assert [line.problem.split(":")[0] for line in lines[1:]] == [
        "not a JSON object",
        "not JSON",
        "no prompt, script or scenes",
        "image not found",
    ]


def test_a_script_is_a_line_of_its_own_and_a_text_file_is_a_script(tmp_path):
    (tmp_path / "s.csv").write_text('script,aspect\n"One line. Another line.",1:1\n')
    (line,) = read_lines(tmp_path / "s.csv")
    assert line.problem is None and line.fields["script"] == "One line. Another line."
    (tmp_path / "story.txt").write_text("It rained.\n\nThen the sun came out.\n")
    assert script_fields(None, tmp_path / "story.txt") == {"script": "It rained.\n\nThen the sun came out.\n"}


def test_csv_columns_with_dots_nest(tmp_path):
    (tmp_path / "c.csv").write_text("prompt,providers.concept,providers.image\nx,openai,\n")
    assert read_lines(tmp_path / "c.csv")[0].fields == {"prompt": "x", "providers": {"concept": "openai"}}


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (402, "quota_exceeded", errors.QuotaExceeded),
        (404, "not_found", errors.NotFound),
        (409, "idempotency_key_reused", errors.IdempotencyKeyReused),
        (409, "email_taken", errors.Conflict),
        (422, "validation_error", errors.ValidationFailed),
        (429, "rate_limited", errors.RateLimited),
        (503, "unavailable", errors.ServiceUnavailable),
        (500, "internal_error", errors.ServerError),
        (418, "teapot", errors.ApiError),
    ],
)
def test_the_error_envelope_becomes_a_typed_exception(status, code, expected):
    response = httpx.Response(
        status,
        headers={"Retry-After": "7"},
        json={"error": {"code": code, "message": "m", "details": [{"field": "aspect", "message": "bad"}]}},
    )
    error = errors.from_response(response)
    assert type(error) is expected and (error.status, error.code, error.message) == (status, code, "m")
    if isinstance(error, errors.RateLimited):
        assert error.retry_after == 7
    if isinstance(error, errors.ValidationFailed):
        assert error.fields == {"aspect": "bad"}


def test_a_reply_without_the_envelope_still_maps_by_status():
    error = errors.from_response(httpx.Response(502, text="<html>bad gateway</html>"))
    assert isinstance(error, errors.ServerError) and error.code == "http_502"
    assert errors.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert errors.parse_retry_after("soon") is None


def test_money_reads_as_dollars_and_a_credits_refusal_says_needed_and_available(capsys):
    from mo_client.cli.common import EXIT_REFUSED, dollars, fail

    assert [dollars(m) for m in (0, 42, 1_260, 50_000, 63_000, 189_000, 10_000_000)] == [
        "$0",
        "<$0.0001",
        "$0.0013",
        "$0.05",
        "$0.0630",
        "$0.19",
        "$10.00",
    ]
    reply = httpx.Response(
        402,
        json={
            "error": {
                "code": "credits_exhausted",
                "message": "Not enough credits",
                "details": {"needed": 190_000, "available": 1_000},
            }
        },
    )
    error = errors.from_response(reply)
    assert isinstance(error, errors.CreditsExhausted) and isinstance(error, errors.QuotaExceeded)
    assert (error.needed, error.available) == (190_000, 1_000)
    fail(error.code, error.message, False, EXIT_REFUSED, error.details)
    assert "this video needs $0.19 of credits; $0.0010 available" in capsys.readouterr().err
