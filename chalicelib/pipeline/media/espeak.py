"""espeak-ng through its C API (libespeak-ng, by ctypes): speech and word events in one call.

The command line can write a WAV but cannot say when each word starts; the library reports an
espeakEVENT_WORD (character position, audio position in ms) for every word it speaks, so word
timings need no model. The library keeps global state (one callback, one voice), so every use
holds one process-wide lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass
from functools import lru_cache

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000
POS_CHARACTER = 1
CHARS_UTF8 = 1
EVENT_LIST_TERMINATED, EVENT_WORD = 0, 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)
_LOCK = threading.Lock()


@dataclass
class Speech:
    samples: bytes  # 16-bit mono PCM
    sample_rate: int
    word_events: list[tuple[int, int]]  # (character offset in the text, 0-based; start in ms)
    voice: str


class EspeakUnavailable(Exception):
    """libespeak-ng is not installed or does not initialise."""


def find_library() -> str | None:
    return ctypes.util.find_library("espeak-ng")


@lru_cache(maxsize=1)
def _library() -> tuple[ctypes.CDLL, int]:
    name = find_library()
    if not name:
        raise EspeakUnavailable("libespeak-ng is not installed")
    lib = ctypes.CDLL(name)
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, None, INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise EspeakUnavailable("espeak-ng did not initialise (no voice data?)")
    return lib, rate


def available() -> bool:
    try:
        _library()
    except (EspeakUnavailable, OSError):
        return False
    return True


def speak(text: str, voices: list[str]) -> Speech:
    """Speak `text` with the first of `voices` espeak-ng knows (else "en"); PCM and word events."""
    lib, rate = _library()
    chunks: list[bytes] = []
    events: list[tuple[int, int]] = []

    def collect(wav, count, event_ptr) -> int:
        if wav and count > 0:
            chunks.append(ctypes.string_at(wav, count * 2))
        k = 0
        while event_ptr and event_ptr[k].type != EVENT_LIST_TERMINATED:
            if event_ptr[k].type == EVENT_WORD:
                events.append((event_ptr[k].text_position - 1, event_ptr[k].audio_position))
            k += 1
        return 0  # 0: continue synthesis

    callback = _CALLBACK(collect)
    data = text.encode("utf-8") + b"\0"
    with _LOCK:
        chosen = next((v for v in [*voices, "en"] if v and lib.espeak_SetVoiceByName(v.encode()) == 0), "en")
        lib.espeak_SetSynthCallback(callback)
        status = lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
        lib.espeak_Synchronize()
    if status != 0:
        raise EspeakUnavailable(f"espeak_Synth failed with status {status}")
    return Speech(b"".join(chunks), rate, events, chosen)
