"""The "openai" providers against a local fake OpenAI server over real HTTP: success, 429 then
success (Retry-After honoured), 401 permanent, timeouts, 400, malformed answers."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from chalicelib.billing import estimate
from chalicelib.core.settings import get_settings
from chalicelib.pipeline.concept.offline import write_concept
from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media import ffmpeg
from chalicelib.pipeline.media.images import ASPECTS
from chalicelib.pipeline.media.narration import SAMPLE_RATE
from chalicelib.pipeline.media.probe import probe
from chalicelib.pipeline.media.video import compose_video
from chalicelib.pipeline.remote import openai_steps
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from tests.fakes.openai_server import FakeOpenAI

KEY = "sk-test-fake-0123456789abcdef"
REQUEST = {
    "prompt": "A lighthouse keeper befriends a curious octopus",
    "duration_s": 15,
    "aspect": "9:16",
    "language": "en",
}


@pytest.fixture
def fake():
    with FakeOpenAI(api_key=KEY) as server:
        yield server


def client(fake, sleeps=None, **kwargs) -> OpenAIClient:
    return OpenAIClient(
        KEY, fake.base_url, sleep=(sleeps.append if sleeps is not None else lambda s: None), **kwargs
    )


def test_concept_from_chat_completions_in_json_mode(fake):
    concept, usage = openai_steps.write_concept(client(fake), REQUEST)
    assert len(concept.scenes) == 3 and [s.index for s in concept.scenes] == [0, 1, 2]
    assert sum(s.duration_s for s in concept.scenes) == pytest.approx(15, abs=1e-9)
    assert "octopus" in concept.scenes[0].narration and concept.hashtags == ["#fake", "#test"]
    (call,) = fake.calls("chat/completions")
    assert call["authorization"] == f"Bearer {KEY}"
    assert call["body"]["response_format"] == {"type": "json_object"}
    assert usage.provider == "openai" and usage.tokens_in > 0 and usage.tokens_out > 0


def test_429_is_retried_after_the_servers_retry_after(fake):
    fake.script("chat/completions", "429", "500")
    sleeps: list[float] = []
    concept, _ = openai_steps.write_concept(client(fake, sleeps), REQUEST)
    assert len(fake.calls("chat/completions")) == 3 and concept.scenes
    assert sleeps == [1.0, 2.0]  # Retry-After: 1, then our own backoff for the 500


def test_a_cancel_ends_the_wait_after_a_429_and_sends_no_more_calls(fake):
    fake.script("chat/completions", "429", "429")
    sleeps: list[float] = []
    canceled = lambda: len(sleeps) >= 2  # noqa: E731 - the job is canceled half a second into the wait
    with pytest.raises(ffmpeg.RenderCanceled):
        openai_steps.write_concept(client(fake, sleeps, should_stop=canceled), REQUEST)
    assert sleeps == [0.25, 0.25]  # Retry-After: 1, cut short by the cancel
    assert len(fake.calls("chat/completions")) == 1  # nothing was sent after it


def test_401_is_permanent_and_the_key_never_shows(fake):
    with FakeOpenAI(api_key="sk-the-right-one") as picky, pytest.raises(ProviderError) as caught:
        openai_steps.write_concept(client(picky), REQUEST)
    assert caught.value.code == "provider_key_rejected" and not caught.value.transient
    assert KEY not in caught.value.message and KEY not in caught.value.detail
    assert "[redacted]" in caught.value.detail  # the server echoed it: cut even from the logs
    assert len(picky.calls("chat/completions")) == 1  # not retried


@pytest.mark.parametrize(
    "behaviour, code, transient",
    [
        ("400", "provider_bad_request", False),  # permanent: asking again changes nothing
        ("malformed", "provider_bad_output", True),  # a 200 whose image is not an image
    ],
)
def test_unusable_image_answers_have_clear_codes(fake, tmp_path, behaviour, code, transient):
    fake.script("images/generations", behaviour)
    concept = write_concept(REQUEST["prompt"], 5)
    with pytest.raises(ProviderError) as caught:
        openai_steps.render_images(
            client(fake), concept, "1:1", None, [tmp_path / f"{i}.png" for i in range(3)]
        )
    assert (caught.value.code, caught.value.transient) == (code, transient)


def test_timeouts_are_transient_after_the_retries(fake):
    fake.script("chat/completions", "slow", "slow")
    sleeps: list[float] = []
    with pytest.raises(ProviderError) as caught:
        openai_steps.write_concept(client(fake, sleeps, timeout_s=0.3, max_retries=1), REQUEST)
    assert caught.value.code == "provider_unavailable" and caught.value.transient
    assert len(fake.calls("chat/completions")) == 2 and sleeps == [1.0]


def test_malformed_concept_is_asked_again_with_the_error(fake):
    fake.script("chat/completions", "malformed")
    concept, usage = openai_steps.write_concept(client(fake), REQUEST)
    first, second = fake.calls("chat/completions")
    assert "not valid" in second["body"]["messages"][-1]["content"]
    assert len(concept.scenes) == 3 and usage.tokens_in > 0


def test_malformed_twice_is_a_clear_error(fake):
    fake.script("chat/completions", "malformed", "malformed")
    with pytest.raises(ProviderError) as caught:
        openai_steps.write_concept(client(fake), REQUEST)
    assert caught.value.code == "provider_bad_output" and caught.value.transient


@pytest.mark.parametrize("aspect", sorted(ASPECTS))
def test_generated_images_are_fitted_to_the_aspect(fake, tmp_path, aspect):
    concept = write_concept(REQUEST["prompt"], 5)
    paths = [tmp_path / f"{s.index}.png" for s in concept.scenes]
    usage = openai_steps.render_images(client(fake), concept, aspect, "comic", paths)
    assert all(Image.open(p).size == ASPECTS[aspect] for p in paths)
    assert usage.images == 3 and usage.bytes > 0
    assert "comic" in fake.calls("images/generations")[0]["body"]["prompt"]


def test_speech_becomes_narration_wavs(fake, tmp_path):
    concept = write_concept(REQUEST["prompt"], 5)
    paths = [tmp_path / f"n{s.index}.wav" for s in concept.scenes]
    narrations, (usage, heard) = openai_steps.synthesize_all(client(fake), concept, "nova", paths)
    for item in narrations:
        with wave.open(str(item.path)) as wav:
            assert wav.getframerate() == SAMPLE_RATE and wav.getnchannels() == 1
        assert not item.silent and item.duration_s > 0.3
    assert usage.characters == sum(len(s.narration) for s in concept.scenes)
    assert heard.model == "whisper-1" and heard.audio_s == usage.audio_s > 0  # the word timings' call
    assert {c["body"]["voice"] for c in fake.calls("audio/speech")} == {"nova"}


def test_speech_longer_than_the_cost_bound_is_not_transcribed(fake, tmp_path):
    """On the platform's account the transcription's bound (billing.estimate: TRANSCRIBED_SHARE
    x the scene) holds even when the speech runs far longer than its scene: that scene's word
    timings are estimated, and only what was heard is counted."""
    concept = write_concept(REQUEST["prompt"], 15)  # ~10 characters a second: heard
    short = concept.scenes[0].model_copy(update={"duration_s": 0.1})  # the fake speaks >= 0.3 s
    concept = concept.model_copy(update={"scenes": [short, *concept.scenes[1:]]})
    paths = [tmp_path / f"n{s.index}.wav" for s in concept.scenes]
    narrations, (usage, heard) = openai_steps.synthesize_all(
        client(fake), concept, "nova", paths, heard_share=estimate.TRANSCRIBED_SHARE
    )
    assert len(fake.calls("audio/transcriptions")) == len(concept.scenes) - 1
    assert narrations[0].timing == "estimate" and narrations[1].timing == "transcription"
    assert heard.audio_s == pytest.approx(sum(n.duration_s for n in narrations[1:]), abs=1e-3)
    assert heard.audio_s < usage.audio_s


def test_network_artifacts_render_a_video_with_ordered_captions(fake, tmp_path):
    api = client(fake)
    concept, _ = openai_steps.write_concept(api, {**REQUEST, "duration_s": 6})
    stills = [tmp_path / f"scene-{s.index}.png" for s in concept.scenes]
    openai_steps.render_images(api, concept, "16:9", None, stills)
    narrations, _ = openai_steps.synthesize_all(api, concept, None, [p.with_suffix(".wav") for p in stills])
    result = compose_video(concept, stills, "16:9", tmp_path / "render", narrations=narrations)
    info = probe(result.video)
    assert (info["width"], info["height"]) == ASPECTS["16:9"] and info["audio_codec"] == "aac"
    assert info["duration_s"] == pytest.approx(6, rel=0.1)
    blocks = result.captions.read_text().strip().split("\n\n")  # a cue per phrase, in order
    assert len(blocks) >= len(concept.scenes)
    times = [b.split("\n")[1] for b in blocks]
    assert times == sorted(times)
    assert " ".join(b.split("\n")[2] for b in blocks) == " ".join(s.narration for s in concept.scenes)


def _low_bitrate_mp3(path: Path, seconds: float) -> bytes:
    """Speech-server audio at 8 kbps: about 44 times smaller than the WAV it decodes to."""
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=220:sample_rate=8000:duration={seconds}",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "8k",
            str(path),
        ],
        check=True,
        timeout=120,
    )
    return path.read_bytes()


def test_a_speech_answer_is_decoded_within_the_cap_and_refused_at_it(tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "speech_max_s", 20.0)
    mp3 = _low_bitrate_mp3(tmp_path / "long.mp3", 600)  # 10 minutes in ~600 KB
    written: list[int] = []
    real_run = ffmpeg.run

    def run(argv, **kwargs):  # the size ffmpeg left before to_wav judged it
        done = real_run(argv, **kwargs)
        written.append(Path(argv[-1]).stat().st_size)
        return done

    monkeypatch.setattr(ffmpeg, "run", run)
    with pytest.raises(ProviderError) as refused:
        openai_steps.to_wav(mp3, tmp_path / "out.wav")
    assert refused.value.code == "provider_bad_output" and "20 s" in refused.value.message
    assert written[0] <= openai_steps.wav_bytes(20.0) < len(mp3) * 2  # not the ~21 MB of 600 s
    assert not (tmp_path / "out.wav").exists()
    openai_steps.to_wav(_low_bitrate_mp3(tmp_path / "short.mp3", 3), tmp_path / "ok.wav")
    with wave.open(str(tmp_path / "ok.wav")) as wav:
        assert wav.getnframes() / wav.getframerate() == pytest.approx(3.0, abs=0.1)


def test_network_speech_over_the_cap_fails_the_provider(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(get_settings(), "speech_max_s", 0.5)  # the fake speaks 60 ms a character
    concept = write_concept(REQUEST["prompt"], 5)
    with pytest.raises(ProviderError) as refused:
        openai_steps.synthesize_all(client(fake), concept, "nova", [tmp_path / f"n{i}.wav" for i in range(2)])
    assert refused.value.code == "provider_bad_output"


def test_the_transcription_upload_streams_from_the_file_within_a_cap(fake, tmp_path, monkeypatch):
    wav_path = tmp_path / "line.wav"
    openai_steps.to_wav(_low_bitrate_mp3(tmp_path / "line.mp3", 2), wav_path)

    def never(self):
        raise AssertionError(f"{self.name} was read whole into memory")

    monkeypatch.setattr(Path, "read_bytes", never)
    words, timing = openai_steps.word_times(client(fake), wav_path, "one two three", "en", 2.0)
    (call,) = fake.calls("audio/transcriptions")
    assert timing == "transcription" and [w.text for w in words] == ["one", "two", "three"]
    monkeypatch.undo()
    assert call["body"]["file"] == wav_path.read_bytes()  # all of it arrived
    monkeypatch.setattr(get_settings(), "transcription_max_bytes", wav_path.stat().st_size - 1)
    _, timing = openai_steps.word_times(client(fake), wav_path, "one two three", "en", 2.0)
    assert timing == "estimate" and len(fake.calls("audio/transcriptions")) == 1  # not sent
