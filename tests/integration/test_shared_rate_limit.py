"""A 429 pauses all of a client's parallel calls, not only the one it answered (issue 26): for
Replicate, ElevenLabs and OpenAI (one base client, remote/openai_api.py), against their local
fakes. One call gets a 429 with `Retry-After: 1`; the other calls start only once the client
has it (its first pause); the fakes' recorded times show that no request reached the server
between that 429's answer and the end of its Retry-After. Ordering, not timing: the times are
the fake's own records of when each request arrived."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.pipeline.remote.elevenlabs import ElevenLabsClient
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from chalicelib.pipeline.remote.replicate import ReplicateClient
from tests.fakes.elevenlabs_server import SPEECH, FakeElevenLabs
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replicate_server import CREATE, FakeReplicate

RETRY_AFTER_S = 1.0


@dataclass
class Case:
    fake: Any
    client: OpenAIClient
    call: Callable[[int], object]  # the i-th parallel call


@contextmanager
def replicate() -> Iterator[Case]:
    token = f"r8_{secrets.token_hex(8)}"
    with FakeReplicate(api_token=token, retry_after="1") as fake:
        fake.script(CREATE, "429")
        client = ReplicateClient(token, fake.base_url)
        yield Case(
            fake, client, lambda i: client.create("black-forest-labs/flux-schnell", {"prompt": f"p{i}"})
        )


@contextmanager
def elevenlabs() -> Iterator[Case]:
    key = secrets.token_hex(16)
    with FakeElevenLabs(api_key=key, retry_after="1") as fake:
        fake.script(SPEECH, "429")
        client = ElevenLabsClient(key, fake.base_url)
        path = "v1/text-to-speech/9BWtsMINqrJLrRacOk9x/with-timestamps?output_format=mp3_44100_128"
        yield Case(fake, client, lambda i: client.post(path, {"text": f"Line {i}.", "model_id": "eleven_v3"}))


@contextmanager
def openai() -> Iterator[Case]:
    key = f"sk-{secrets.token_hex(8)}"
    with FakeOpenAI(api_key=key) as fake:  # its 429 says Retry-After: 1
        fake.script("chat/completions", "429")
        client = OpenAIClient(key, fake.base_url)
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        yield Case(fake, client, lambda i: client.post("chat/completions", body))


@pytest.mark.parametrize("provider", [replicate, elevenlabs, openai], ids=lambda p: p.__name__)
def test_a_429_pauses_every_parallel_call_of_the_client(provider):
    with provider() as case:
        throttled = threading.Event()

        def sleep(seconds: float) -> None:  # the client's own pauses, really slept
            throttled.set()
            time.sleep(seconds)

        case.client.sleep = sleep
        errors: list[BaseException] = []

        def run(i: int) -> None:
            try:
                case.call(i)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        first = threading.Thread(target=run, args=(0,))
        first.start()
        assert throttled.wait(30), "the first call never got its 429"
        others = [threading.Thread(target=run, args=(i,)) for i in (1, 2, 3)]
        for thread in others:
            thread.start()
        for thread in [first, *others]:
            thread.join(60)
        assert not errors, errors

        records = [r for r in case.fake.requests if "at" in r]
        (limited,) = [r for r in records if r.get("status") == 429]
        rest = [r for r in records if r is not limited]
        assert len(rest) == 4 and all(200 <= r.get("status", 0) < 300 for r in rest)  # the retry and 3
        pause_end = limited["answered_at"] + RETRY_AFTER_S
        early = [round(pause_end - r["at"], 3) for r in rest if r["at"] < pause_end]
        assert early == [], f"requests reached the server during the 429's Retry-After ({early} s early)"
