"""The offline concept writer over the shapes prompts come in (issue 27): phrase titles, no
stage directions in the lines, no doubled or dangling words."""

from __future__ import annotations

import re

import pytest

from chalicelib.pipeline.concept import script
from chalicelib.pipeline.concept.offline import SHOTS, write_concept
from chalicelib.pipeline.concept.storyboard import key_words, phrase_title

PROMPTS = [
    ("Why octopuses are the smartest animals in the ocean", "en"),
    ("How to make sourdough bread at home", "en"),
    ("Explain how volcanoes form", "en"),
    ("What is a black hole", "en"),
    ("Can dogs see colors", "en"),
    ("Plant a tree this weekend", "en"),
    ("The history of the bicycle", "en"),
    ("Top 5 facts about Mars", "en"),
    ("Make your morning coffee better", "en"),
    ("Make a video about the rings of Saturn", "en"),
    ("A lighthouse keeper discovers the stars can talk, on a stormy night by the sea", "en"),
    ("Pourquoi les chats dorment autant", "fr"),
    ("Por qué el cielo es azul", "es"),
    ("Wie Bienen Honig machen", "de"),
]
DANGLING = ("the", "a", "an", "of", "and", "to", "at", "in", "on", "with")


@pytest.mark.parametrize(("prompt", "language"), PROMPTS)
def test_lines_read_as_sentences_without_stage_directions(prompt, language):
    concept = write_concept(prompt, 30, language=language)
    stage = {shot.split("{k}")[0].strip() for shot in SHOTS if shot.split("{k}")[0].strip()}
    for scene in concept.scenes:
        line = scene.narration
        assert line[0].isupper() or line[0] in "¿", line
        assert line.endswith((".", "?")), line
        assert not any(s in line.lower() for s in stage), line
        words = re.findall(r"[\w']+", line.lower())
        assert all(a != b for a, b in zip(words, words[1:])), line  # no doubled word
        assert not re.search(r"\b(why|how|what) [a-z]+ (matters|in motion)", line.lower()), line
    assert len({s.narration for s in concept.scenes}) >= len(concept.scenes) - 1


@pytest.mark.parametrize(("prompt", "language"), PROMPTS)
def test_titles_are_a_phrase_of_the_prompt(prompt, language):
    title = write_concept(prompt, 30, language=language).title
    assert title.split()[-1].lower() not in DANGLING
    assert " ".join(title.lower().split()) in " ".join(prompt.lower().replace(",", "").split())


def test_english_forms_get_their_own_grammar():
    lines = lambda p: [s.narration for s in write_concept(p, 30).scenes]  # noqa: E731
    assert (
        lines("Why octopuses are the smartest animals")[0]
        == "Here is why octopuses are the smartest animals."
    )
    assert lines("How to make sourdough bread")[-1] == "Now you know how to make sourdough bread."
    assert lines("What is a black hole")[0] == "Here is what a black hole is."
    assert lines("Plant a tree this weekend")[-1] == "So go on: plant a tree this weekend."
    assert "Look closer at Why" not in " ".join(lines("Why octopuses are the smartest animals"))
    # "make" is an imperative unless a video is what is made
    assert lines("Make your morning coffee better")[-1] == "So go on: make your morning coffee better."
    assert lines("Make a video about the rings of Saturn")[0] == "The rings of Saturn."
    top = lines("Top 5 facts about Mars")  # a count is a noun phrase, not a verb ("facts about")
    assert "Look closer at the top 5 facts." in top and top[-1].startswith("That's it for the top 5 facts.")


def test_a_german_question_keeps_its_question_word_where_its_verb_comes_last():
    lines = [s.narration for s in write_concept("Warum der Himmel blau ist", 30, language="de").scenes]
    assert "Merk dir: warum der Himmel blau ist." in lines
    assert not any(line.endswith(": der Himmel blau ist.") for line in lines)
    french = [
        s.narration for s in write_concept("Pourquoi les chats dorment autant", 30, language="fr").scenes
    ]
    assert "Retenez ceci : les chats dorment autant." in french  # a statement in French


def test_key_words_skip_interrogatives_and_each_languages_stop_words():
    assert key_words("Why octopuses are the smartest animals") == ["octopuses", "smartest", "animals"]
    assert "pourquoi" not in key_words("Pourquoi les chats dorment", language="fr")
    assert "les" not in key_words("Pourquoi les chats dorment", language="fr")


def test_a_long_title_is_cut_before_a_phrase_boundary():
    title = phrase_title("The lighthouse keeper collects lost letters from the sea every winter morning")
    assert title == "The Lighthouse Keeper Collects Lost Letters"
    concept = script.to_concept({"script": "Every winter the keeper collects lost letters. Some are old."})
    assert concept.title == "Every Winter the Keeper Collects Lost Letters"


def test_a_silent_script_keeps_its_scenes_as_estimated():
    request = {
        "scenes": [{"text": "The tide turns.", "duration_s": 2}, {"text": "Gulls rise."}],
        "narration": False,
    }
    concept = script.to_concept(request)
    assert script.timed(concept, request, []) == concept  # no speech: nothing to time them by
    assert [s.duration_s for s in script.timed(concept, request, [1.0, 3.0]).scenes][0] == 2
