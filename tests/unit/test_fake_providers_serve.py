"""`make up FAKES=1`: the fake providers as one process (tests/fakes/serve.py) write their
accounts once all listen, refuse calls without their key, and stop on SIGTERM; scripts/stack.py
turns the accounts into the platform's (the init hook's variables and PLATFORM_PROVIDERS)."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.workers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _stack_module():
    spec = importlib.util.spec_from_file_location("stack_script", ROOT / "scripts" / "stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fakes_serve_their_protocols_with_their_keys_until_sigterm(tmp_path):
    out = tmp_path / "fakes.json"
    command = [sys.executable, "-m", "tests.fakes.serve", "--out", str(out), "--scale", "0.01"]
    proc = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: out.exists() or proc.poll() is not None, 30, "the fakes' accounts")
        accounts = json.loads(out.read_text())
        assert sorted(accounts) == ["elevenlabs", "fal", "openai", "replicate"]
        assert len({a["api_key"] for a in accounts.values()}) == 4
        voices = f"{accounts['elevenlabs']['base_url']}/v1/voices"
        assert httpx.get(voices, timeout=5).status_code == 401
        answer = httpx.get(voices, headers={"xi-api-key": accounts["elevenlabs"]["api_key"]}, timeout=5)
        assert answer.status_code == 200 and answer.json()["voices"]
        fal = accounts["fal"]
        queued = httpx.post(
            f"{fal['base_url']}/fal-ai/flux/schnell",
            json={"prompt": "a lighthouse"},
            headers={"Authorization": f"Key {fal['api_key']}"},
            timeout=5,
        )
        assert queued.status_code == 200 and queued.json()["status_url"].startswith(fal["base_url"])
        for name, path in (
            ("openai", "/chat/completions"),
            ("replicate", "/v1/models/black-forest-labs/flux-schnell/predictions"),
        ):
            assert httpx.post(accounts[name]["base_url"] + path, json={}, timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, proc.stderr.read() if proc.stderr else ""
    assert not out.exists()


def test_the_accounts_become_the_platforms():
    accounts = {
        "fal": {"api_key": "k1", "base_url": "http://127.0.0.1:1"},
        "elevenlabs": {"api_key": "k2", "base_url": "http://127.0.0.1:2"},
    }
    env = _stack_module().platform_env(accounts)
    assert json.loads(env["PLATFORM_PROVIDERS"]) == ["elevenlabs", "fal"]
    assert env["PLATFORM_FAL_API_KEY"] == "k1" and env["PLATFORM_ELEVENLABS_BASE_URL"] == "http://127.0.0.1:2"
