"""The "elevenlabs" narration provider against a local fake of ElevenLabs' API over real HTTP:
speech with timestamps decoded to narration WAVs, words timed by the alignment, voices, 429s
waited out, rejected keys, and answers that are not what they claim."""

from __future__ import annotations

import logging
import wave

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media import words as words_mod
from chalicelib.pipeline.media.narration import SAMPLE_RATE
from chalicelib.pipeline.media.words import Timing
from chalicelib.pipeline.remote import elevenlabs
from chalicelib.pipeline.remote.elevenlabs import ElevenLabsClient
from tests.fakes.elevenlabs_server import SPEECH, FakeElevenLabs

KEY = "xi-test-fake-0123456789abcdef"
PROMPT = "A lighthouse keeper befriends a curious octopus"


@pytest.fixture
def fake():
    with FakeElevenLabs(api_key=KEY) as server:
        yield server


def client(fake, sleeps=None, **kwargs) -> ElevenLabsClient:
    return ElevenLabsClient(
        KEY, fake.base_url, sleep=(sleeps.append if sleeps is not None else lambda s: None), **kwargs
    )


def speak(api: ElevenLabsClient, tmp_path, voice=None, seconds=10, notes=None):
    concept = write_concept(PROMPT, seconds)
    paths = [tmp_path / f"n{s.index}.wav" for s in concept.scenes]
    narrations, usage = elevenlabs.synthesize_all(api, concept, voice, paths, notes=notes)
    return concept, narrations, usage


def aligned_words(alignment: dict) -> list[tuple[str, float, float]]:
    """Each space-separated word of what the fake aligned, from its first character's start to
    its last one's end (how ElevenLabs' per-character times read as words)."""
    found, word = [], []
    rows = zip(
        alignment["characters"],
        alignment["character_start_times_seconds"],
        alignment["character_end_times_seconds"],
    )
    for char, start, end in [*rows, (" ", 0, 0)]:
        if char == " ":
            if word:
                found.append(("".join(c for c, _, _ in word), word[0][1], word[-1][2]))
            word = []
        else:
            word.append((char, start, end))
    return found


def test_speech_with_timestamps_becomes_narration_timed_by_the_alignment(fake, tmp_path):
    concept, narrations, usage = speak(client(fake), tmp_path, voice="elevenlabs:rachel")
    by_text = {c["body"]["text"]: c for c in fake.answered()}
    assert len(by_text) == len(concept.scenes) == len(fake.calls())  # one call a scene
    for scene, item in zip(concept.scenes, narrations):
        with wave.open(str(item.path)) as wav:
            assert wav.getframerate() == SAMPLE_RATE and wav.getnchannels() == 1
        call = by_text[scene.narration]
        expected = aligned_words(call["alignment"])
        assert item.timing == Timing.ALIGNMENT and item.voice == "elevenlabs:rachel"
        assert [(w.text, w.start, w.end) for w in item.words] == [
            (text, pytest.approx(start, abs=1e-3), pytest.approx(end, abs=1e-3))
            for text, start, end in expected
        ]
        assert item.words[-1].end < item.duration_s  # the audio holds every word
    first = fake.calls()[0]
    assert first["voice_id"] == "21m00Tcm4TlvDq8ikWAM" and first["xi_api_key"] == KEY
    assert first["query"] == {"output_format": "mp3_44100_128"}
    assert first["body"]["model_id"] == get_settings().elevenlabs_model
    assert usage.provider == "elevenlabs" and usage.model == "eleven_multilingual_v2"
    assert usage.characters == sum(len(s.narration) for s in concept.scenes)
    assert usage.audio_s == pytest.approx(sum(n.duration_s for n in narrations), abs=1e-3)


def test_neighbouring_lines_are_sent_for_a_continuous_delivery(fake, tmp_path):
    concept, _, _ = speak(client(fake), tmp_path, seconds=10)
    by_text = {c["body"]["text"]: c["body"] for c in fake.calls()}
    lines = [s.narration for s in concept.scenes]
    assert "previous_text" not in by_text[lines[0]] and by_text[lines[0]]["next_text"] == lines[1]
    assert by_text[lines[-1]]["previous_text"] == lines[-2] and "next_text" not in by_text[lines[-1]]


@pytest.mark.parametrize(
    "voice, voice_id",
    [
        ("elevenlabs:george", "JBFqnCBsd6RMkjVDRZzb"),
        ("elevenlabs:AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"),  # the account's own voice
        (None, get_settings().elevenlabs_voice),
        ("nova", get_settings().elevenlabs_voice),  # another provider's voice: ours by default
    ],
)
def test_the_voice_is_a_premade_one_an_account_voice_or_the_default(fake, tmp_path, voice, voice_id):
    fake.voices["AbCdEfGhIjKlMnOpQrSt"] = "My clone"
    speak(client(fake), tmp_path, voice=voice, seconds=5)
    assert {c["voice_id"] for c in fake.calls()} == {voice_id}


def test_the_fake_lists_the_premade_voices_the_catalog_names(fake):
    from chalicelib.infra import outbound
    from chalicelib.pipeline import providers

    listed = outbound.request(
        "GET", f"{fake.base_url}/v1/voices", headers={"xi-api-key": KEY}, deadline_s=5, max_bytes=1 << 20
    ).json()["voices"]
    assert set(providers.ELEVENLABS_VOICES.values()) <= {v["voice_id"] for v in listed}


def test_a_429_storm_is_waited_out_without_spending_the_retries(fake, tmp_path):
    fake.script(SPEECH, *["429"] * 7)  # more than the retries of every scene together
    sleeps: list[float] = []
    api = client(fake, sleeps, max_retries=1)
    concept, narrations, _ = speak(api, tmp_path, notes=(notes := []))
    assert len(fake.calls()) == len(concept.scenes) + 7 and len(fake.answered()) == len(concept.scenes)
    assert sleeps == [1.0] * 7 and api.waited_s == 7.0  # Retry-After: 1, each
    assert all(n.timing == Timing.ALIGNMENT for n in narrations)
    assert notes == ["narration: waited 7 s for ElevenLabs' rate limit"]


def test_too_many_at_once_slows_down_to_what_the_account_allows(tmp_path):
    with FakeElevenLabs(api_key=KEY, latency=(0.2, 0.2), max_concurrent=1, retry_after="0.2") as crowded:
        api = ElevenLabsClient(KEY, crowded.base_url)  # real waits: the fake answers in its own time
        concept, narrations, _ = speak(api, tmp_path, seconds=10)
    assert len(crowded.answered()) == len(concept.scenes) and crowded.peak_in_flight == 1
    assert len(crowded.calls()) > len(concept.scenes) and api.waited_s > 0  # some were told to wait
    assert all(n.timing == Timing.ALIGNMENT for n in narrations)


def test_a_429_past_the_patience_is_a_failed_try(fake, tmp_path):
    fake.script(SPEECH, *["429"] * 10)  # every try of every scene
    with pytest.raises(ProviderError) as caught:
        speak(client(fake, rate_limit_patience_s=0.0, max_retries=1), tmp_path, seconds=5)
    assert caught.value.code == "provider_unavailable" and caught.value.transient


def test_a_rejected_key_is_permanent_and_never_shows(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeElevenLabs(api_key="xi-the-right-one-000") as picky, pytest.raises(ProviderError) as caught:
        picky.error_detail = f" (you sent {KEY})"
        speak(client(picky), tmp_path, seconds=5)
    assert caught.value.code == "provider_key_rejected" and not caught.value.transient
    assert KEY not in caught.value.message and KEY not in caught.value.detail
    assert "[redacted]" in caught.value.detail and KEY not in caplog.text
    assert len(picky.calls()) == 3  # one a scene, none retried


def test_a_used_up_quota_is_not_a_rejected_key(fake, tmp_path):
    fake.script(SPEECH, "quota")
    with pytest.raises(ProviderError) as caught:
        speak(client(fake), tmp_path, seconds=5)
    assert caught.value.code == "provider_unavailable" and "characters left" in caught.value.message


@pytest.mark.parametrize("behaviour", ["malformed", "huge"])
def test_audio_that_is_not_audio_or_too_big_is_a_bad_output(fake, tmp_path, monkeypatch, behaviour):
    monkeypatch.setattr(get_settings(), "provider_max_response_bytes", 4 * 1024 * 1024)
    fake.script(SPEECH, behaviour)
    with pytest.raises(ProviderError) as caught:
        speak(client(fake), tmp_path, seconds=5)
    assert caught.value.code == "provider_bad_output"


def test_speech_longer_than_the_cap_is_refused(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "speech_max_s", 1.0)  # every line lasts longer
    with pytest.raises(ProviderError) as caught:
        speak(client(fake), tmp_path, seconds=5)
    assert caught.value.code == "provider_bad_output" and "lasts 1 s or more" in caught.value.message


@pytest.mark.parametrize("behaviour", ["no_alignment", "bad_alignment"])
def test_speech_without_a_usable_alignment_keeps_its_audio_with_estimated_words(fake, tmp_path, behaviour):
    fake.script(SPEECH, behaviour)
    concept, narrations, _ = speak(client(fake), tmp_path, seconds=5, notes=(notes := []))
    assert sorted(n.timing for n in narrations) == [Timing.ALIGNMENT] * 2 + [Timing.ESTIMATE]
    assert len(notes) == 1 and "no usable alignment" in notes[0]
    estimated = next(n for n in narrations if n.timing == Timing.ESTIMATE)
    assert estimated.words and estimated.words[-1].end == pytest.approx(estimated.duration_s, abs=1e-3)


def test_alignment_words_in_a_language_without_spaces():
    text = "灯塔很亮。"
    chars = list(text)
    starts = [0.1 * i for i in range(len(chars))]
    ends = [s + 0.08 for s in starts]
    tokens = words_mod.tokenize(text, "zh")
    timed = words_mod.from_alignment(tokens, chars, starts, ends, 1.0, "zh")
    assert [(w.text, w.start) for w in timed] == [
        ("灯", 0.0),
        ("塔", pytest.approx(0.1)),
        ("很", pytest.approx(0.2)),
        ("亮。", pytest.approx(0.3)),
    ]


@pytest.mark.parametrize(
    "starts, ends",
    [
        ([0.0, 0.1], [0.1, 0.2, 0.3]),  # lengths differ
        ([0.0, float("nan"), 0.2], [0.1, 0.2, 0.3]),  # not a time
        ([0.0, 0.1, 0.2], [0.1, 0.05, 0.3]),  # ends before it starts
    ],
)
def test_an_alignment_that_is_not_one_times_nothing(starts, ends):
    assert words_mod.from_alignment(["a", "b"], ["a", " ", "b"], starts, ends, 1.0) is None
