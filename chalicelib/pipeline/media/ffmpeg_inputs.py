"""How every ffmpeg call names its inputs: the demuxer pinned (`-f`), the protocols limited
(`-protocol_whitelist`) and the decoded frame size capped (`-max_pixels`). Our inputs derive
from what users and their provider servers send: ffmpeg's format auto-detection would otherwise
pick any of its hundreds of demuxers for a crafted file (playlists and concat lists that open
further URLs or files among them), and a tiny file can declare an 8K frame that takes a
gigabyte to decode."""

from __future__ import annotations

from pathlib import Path

from chalicelib.core.settings import get_settings


def _limit() -> list[str]:
    return ["-max_pixels", str(get_settings().decode_max_pixels)]


def file_input(path: Path | str, fmt: str, *options: str) -> list[str]:
    """`-i path` read only as `fmt`, from the local file system only, its frames within the
    pixel limit; `options` are further input options (e.g. `-framerate`), placed before it."""
    return [*options, *_limit(), "-f", fmt, "-protocol_whitelist", "file", "-i", str(path)]


def stdin_input(fmt: str) -> list[str]:
    """`-i pipe:0` read only as `fmt`, with no other protocol allowed."""
    return [*_limit(), "-f", fmt, "-protocol_whitelist", "pipe", "-i", "pipe:0"]


def audio_format(head: bytes) -> str | None:
    """ffmpeg's demuxer for audio starting with these bytes (WAV or MP3, what speech servers
    answer), or None for anything else."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"  # an ID3 tag, or straight into an MPEG audio frame (11 sync bits)
    return None
