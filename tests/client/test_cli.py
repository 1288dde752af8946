"""The `mo` command line against the running API: Typer's runner in-process, and a real
subprocess where a terminal's Ctrl-C matters."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import stat
import subprocess
from pathlib import Path

from mo_client import Client

from tests.client.conftest import MO, PASSWORD, as_json, png
from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.mailbox import last_link


def test_signup_keeps_the_token_private_and_whoami_uses_it(cli, stack, tmp_path):
    email = f"cli-{secrets.token_hex(6)}@example.com"
    assert "Signed up" in cli("signup", "--email", email, stdin=f"{PASSWORD}\n{PASSWORD}\n").output
    stored = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())[stack.url]["email"] == email

    me = as_json(cli("whoami", "--json"))
    assert me["email"] == email and me["plan"]["name"] == "free"
    assert "jobs this period: 0 of 5" in cli("whoami").output

    cli("logout")
    assert "not logged in" in cli("whoami", code=1).output
    cli("login", "--email", email, "--password", PASSWORD)
    assert as_json(cli("whoami", "--json"))["email"] == email


def test_verify_and_reset_password_from_the_command_line(cli, tmp_path):
    email = f"cli-{secrets.token_hex(6)}@example.com"
    cli("signup", "--email", email, "--password", PASSWORD)
    assert "unverified" in cli("whoami").output
    _, token = last_link(email, "/verify-email")
    assert f"Verified {email}" in cli("verify", token).output
    assert as_json(cli("whoami", "--json"))["email_verified"] is True
    assert as_json(cli("verify", "--resend", "--json", code=3))["error"]["code"] == "already_verified"

    cli("reset-password", "--email", email)
    _, reset = last_link(email, "/reset-password")
    cli("reset-password", "--token", reset, stdin="another long password\nanother long password\n")
    assert as_json(cli("whoami", "--json"))["email"] == email  # the new session was stored
    cli("login", "--email", email, "--password", "another long password")


def test_an_api_key_works_from_the_environment_and_from_login(cli, signed_up, monkeypatch):
    created = as_json(cli("keys", "create", "ci", "--json"))
    assert [k["name"] for k in as_json(cli("keys", "list", "--json"))] == ["ci"]
    cli("logout")
    monkeypatch.setenv("MO_TOKEN", created["key"])
    assert as_json(cli("whoami", "--json"))["email"] == signed_up
    monkeypatch.delenv("MO_TOKEN")
    cli("login", "--api-key", created["key"])
    cli("keys", "delete", created["id"])
    refused = cli("whoami", "--json", code=3)
    assert as_json(refused)["error"]["code"] == "invalid_token"


def test_provider_keys_webhooks_audit_and_health(cli, signed_up):
    cli("provider-keys", "set", "openai", stdin="sk-cli-secret-9876\n")
    listed = as_json(cli("provider-keys", "list", "--json"))
    assert [(k["provider"], k["last4"]) for k in listed] == [("openai", "9876")]
    assert "sk-cli-secret" not in cli("provider-keys", "list").output
    assert "openai (key stored)" in cli("providers").output
    cli("provider-keys", "delete", "openai")
    assert as_json(cli("provider-keys", "list", "--json")) == []

    hook = as_json(cli("webhooks", "create", "http://127.0.0.1:9/hook", "--json"))
    assert hook["secret"].startswith("whsec_")
    cli("webhooks", "delete", hook["id"])
    assert as_json(cli("webhooks", "list", "--json")) == []
    actions = [e["action"] for e in as_json(cli("audit", "--json", "--limit", "100"))]
    assert "user.signup" in actions
    assert as_json(cli("health", "--json"))["status"] == "ok"
    assert {p["name"] for p in as_json(cli("plans", "--json"))} >= {"free", "pro", "business"}
    assert "business" in cli("plans").output
    refused = as_json(cli("upgrade", "pro", "--json", code=3))  # this stack sells no plan
    assert refused["error"]["code"] == "plan_not_purchasable"


def test_make_uploads_the_image_follows_the_job_and_downloads_here(cli, signed_up, tmp_path):
    png(tmp_path / "ref.png")
    made = cli(
        "make", "a paper boat sails to the moon", "--duration", "5", "--aspect", "1:1", "--image", "ref.png"
    )
    job_id = next(w for w in made.output.split() if w.startswith("job_"))
    assert f"done {job_id}" in made.output
    assert "step.succeeded video" in made.output  # the bars' milestones, as a log shows them
    assert re.search(r"step\.progress video scene \d of \d", made.output)  # which scene it makes
    assert re.search(r"\((about \d+ (s|min)|a few seconds) left\)", made.output)  # and the time left
    assert (tmp_path / f"{job_id}.mp4").read_bytes()[4:8] == b"ftyp"
    assert (tmp_path / f"{job_id}.srt").exists()

    job = as_json(cli("show", job_id, "--json"))
    assert job["status"] == "succeeded"
    assert job["request"]["inputs"]["reference_image_upload_id"].startswith("upl_")
    assert job_id in [j["id"] for j in as_json(cli("jobs", "--status", "succeeded", "--json"))]
    files = as_json(cli("download", job_id, "--out", "again", "--thumbnail", "--json"))
    assert Path(files["video"]) == Path("again") / f"{job_id}.mp4" and Path(files["thumbnail"]).exists()
    assert "succeeded" in cli("show", job_id).output


def test_make_from_your_own_scenes_uploads_their_media(cli, signed_up, tmp_path):
    png(tmp_path / "harbour.png")
    (tmp_path / "scenes.json").write_text(
        json.dumps(
            [
                {"text": "The harbour wakes before the sun.", "image": "harbour.png", "duration_s": 3},
                {"text": "Boats slip out one by one.", "visual": "fishing boats at dawn", "duration_s": 3},
            ]
        )
    )
    made = as_json(cli("make", "--script", "scenes.json", "--aspect", "1:1", "--json"))
    scenes = made["job"]["request"]["scenes"]
    assert scenes[0]["image_upload_id"].startswith("upl_") and "image" not in scenes[0]
    assert [s["text"] for s in scenes] == ["The harbour wakes before the sun.", "Boats slip out one by one."]
    assert Path(made["files"]["video"]).read_bytes()[4:8] == b"ftyp"
    assert "-->" in Path(made["files"]["captions"]).read_text()


def test_make_wants_a_prompt_or_a_script(cli, signed_up):
    assert "give a PROMPT" in cli("make", code=2).output


def test_a_failed_job_exits_non_zero_with_its_error_code(cli, signed_up, tmp_path):
    with FakeOpenAI(api_key="sk-the-right-key") as fake:
        cli("provider-keys", "set", "openai", "--api-key", "sk-a-wrong-key-1234", "--base-url", fake.base_url)
        failed = cli("make", "a broken key", "-d", "5", "--provider", "concept=openai", "--json", code=1)
    reply = as_json(failed)
    assert reply["error"]["code"] == "provider_key_rejected"
    assert reply["job"]["status"] == "failed"
    assert not list(tmp_path.glob("*.mp4"))


def test_refusals_are_one_line_with_their_code(cli, signed_up, stack):
    invalid = cli("make", "a square circle", "--aspect", "4:3", code=3)
    assert "validation_error" in invalid.output and "aspect" in invalid.output
    assert as_json(cli("show", "job_nope", "--json", code=3))["error"]["code"] == "not_found"
    gone = cli("--api-url", f"http://127.0.0.1:{free_port()}", "health", code=4)
    assert "unreachable" in gone.output


def test_show_tells_the_time_left_until_the_job_ends(cli, signed_up):
    job = as_json(cli("make", "a slow river of stars", "-d", "30", "--detach", "--json"))
    shown = cli("show", job["id"]).output
    assert re.search(r"(queued|running) \d+% \(attempt 1\), (about \d+ (s|min)|a few seconds) left:", shown)
    cli("cancel", job["id"])
    assert " left" not in cli("show", job["id"]).output  # a job that will not end has none


def test_cancel_and_retry_a_job(cli, signed_up):
    job = as_json(cli("make", "a slow sunrise", "-d", "5", "--detach", "--json"))
    assert as_json(cli("cancel", job["id"], "--json"))["status"] == "canceled"
    assert "invalid_state" in cli("cancel", job["id"], code=3).output
    assert as_json(cli("retry", job["id"], "--json"))["status"] == "queued"
    cli("cancel", job["id"])


def test_ctrl_c_during_make_asks_and_cancels_the_job(stack, signed_up, tmp_path):
    env = {**os.environ, "MO_CONFIG_DIR": str(tmp_path / "config"), "MO_API_URL": stack.url}
    env.pop("MO_TOKEN", None)
    proc = subprocess.Popen(
        [str(MO), "make", "a long walk home", "-d", "5"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        seen = [proc.stderr.readline()]
        while "job.queued" not in seen[-1]:  # following it now
            assert seen[-1], f"mo make ended early: {seen}"
            seen.append(proc.stderr.readline())
        job_id = next(line.split()[1] for line in seen if line.startswith("submitted"))
        proc.send_signal(signal.SIGINT)
        proc.stdin.write("y\n")
        proc.stdin.close()
        rest = proc.stderr.read()  # the same buffered reader, so nothing read ahead is lost
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, rest
    assert f"Cancel job {job_id}?" in rest and "Traceback" not in rest
    with Client(stack.url, os.environ.get("MO_TOKEN")) as mo:
        mo.login(signed_up, PASSWORD)
        assert mo.get_job(job_id).status == "canceled"


def test_make_estimate_prints_what_each_step_runs_on_and_costs_and_submits_nothing(cli, signed_up):
    with FakeOpenAI(api_key="sk-own-estimate-1234") as fake:
        cli(
            "provider-keys", "set", "openai", "--api-key", "sk-own-estimate-1234", "--base-url", fake.base_url
        )
        shown = cli("make", "a lighthouse at dusk", "-d", "5", "--estimate").output
        found = as_json(cli("make", "a lighthouse at dusk", "-d", "5", "--estimate", "--json"))
        assert fake.requests == []
    assert {s["purpose"]: s["account"] for s in found["steps"]} == {
        "concept": "own",
        "image": "own",
        "narration": "none",  # business speaks through ElevenLabs: no key of theirs, none of ours here
    }
    assert found["credits_micros"] == 0 and found["cost_micros"] > 0
    assert "your own key" in shown and "reserves $0 of your " in shown
    assert (
        "your plan includes for image: openai gpt-image-1 high (not set up on this server: offline)"
        in cli("providers").output
    )
    assert re.search(r"up to \$[\d.]+ more on your own keys; ready in about \d+ s", shown)
    assert as_json(cli("jobs", "--json")) == []


def test_show_prints_each_steps_cost_and_whoami_the_credits(cli, signed_up, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the steps' table on one line each
    with FakeOpenAI(api_key="sk-own-show-12345") as fake:
        cli("provider-keys", "set", "openai", "--api-key", "sk-own-show-12345", "--base-url", fake.base_url)
        made = as_json(cli("make", "a lighthouse at dusk", "-d", "5", "--json"))
    job = made["job"]
    assert job["status"] == "succeeded" and job["cost"]["own_micros"] > 0
    shown = cli("show", job["id"]).output
    assert "(your own key)" in shown
    assert "charged $0 of credits" in shown and "on your own keys (billed by the provider)" in shown
    me = as_json(cli("whoami", "--json"))
    assert me["credits"]["reserved_micros"] == 0
    assert re.search(
        r"credits: \$[\d.]+ available \(\$[\d.]+ left of \$[\d.]+ this period", cli("whoami").output
    )
    assert "business" in cli("plans").output and "$50.00" in cli("plans").output
