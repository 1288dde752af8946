"""Narration: speech for one caption line, offline with espeak-ng.

Without espeak-ng (or when it fails) the step still succeeds with a silent WAV of the expected
length, flagged `silent=True`, so a worker without the package degrades instead of failing jobs.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

SAMPLE_RATE = 22050  # espeak-ng's native rate; the silent fallback matches it
WORDS_PER_SECOND = 2.6  # espeak-ng at its default 175 wpm, rounded up for pauses
TIMEOUT_S = 30
_VOICE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


@dataclass
class Narration:
    path: Path
    duration_s: float
    silent: bool


def estimate_duration(text: str) -> float:
    """Roughly how long the text takes to say; used for the silent fallback."""
    return max(1.0, round(len(text.split()) / WORDS_PER_SECOND, 2))


@lru_cache(maxsize=4)
def _installed_voices(exe: str) -> frozenset[str]:
    """Names `-v` accepts: each voice's language, file name and "other languages" (e.g. "fr")."""
    try:
        out = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5:
            names.update({fields[1].lower(), fields[4].rsplit("/", 1)[-1].lower()})
            names.update(n.lower() for n in re.findall(r"\(([\w-]+) \d+\)", line))
    return frozenset(names)


def espeak_voice(voice: str | None, language: str, exe: str) -> str:
    """The espeak voice for a request: the voice, else the language, else its base, else "en"."""
    installed = _installed_voices(exe)
    for candidate in (voice, language):
        name = (candidate or "").strip().lower().replace("_", "-")
        for option in (name, name.split("-")[0]):
            if option and _VOICE_RE.match(option) and (option in installed or not installed):
                return option
    return "en"


def write_silence(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(b"\0\0" * int(seconds * SAMPLE_RATE))


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def synthesize(text: str, path: Path, voice: str | None = None, language: str = "en") -> Narration:
    """Speak `text` into a WAV at `path`; silent WAV (silent=True) when espeak-ng is unavailable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("espeak-ng")
    if exe and text.strip():
        argv = [exe, "-v", espeak_voice(voice, language, exe), "-w", str(path), "--stdin"]
        try:  # text goes through stdin, never a shell or an option position
            subprocess.run(argv, input=text.encode(), capture_output=True, check=True, timeout=TIMEOUT_S)
            duration = wav_duration(path)
            if duration > 0:
                return Narration(path=path, duration_s=duration, silent=False)
        except (OSError, subprocess.SubprocessError, wave.Error, EOFError) as exc:
            log.warning("espeak-ng failed, narration will be silent: %s", type(exc).__name__)
    duration = estimate_duration(text)
    write_silence(path, duration)
    return Narration(path=path, duration_s=duration, silent=True)
