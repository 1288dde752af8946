"""ffmpeg never auto-detects the format of what it reads, and opens only local files (or our
stdin pipe): every input has its demuxer pinned and a protocol whitelist."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest

from chalicelib.pipeline.errors import ProviderError
from chalicelib.pipeline.media import ffmpeg_inputs
from chalicelib.pipeline.media.filtergraph import build_command
from chalicelib.pipeline.media.narration import Narration
from chalicelib.pipeline.remote import openai_steps


def _inputs(argv: list[str]) -> list[tuple[str, str, str]]:
    """(format, protocols, path) of each `-i`, from the options right before it."""
    found = []
    for at, arg in enumerate(argv):
        if arg == "-i":
            options = dict(zip(argv[at - 4 : at : 2], argv[at - 3 : at : 2]))
            found.append((options.get("-f"), options.get("-protocol_whitelist"), argv[at + 1]))
    return found


def test_every_render_input_has_a_pinned_format_and_reads_local_files_only(tmp_path):
    stills = [tmp_path / f"scene-{k}.png" for k in range(2)]
    captions = [(tmp_path / f"caption-{k}.png", 300, 80) for k in range(2)]
    narrations = [
        Narration(path=tmp_path / f"narration-{k}.wav", duration_s=2.0, silent=False) for k in range(2)
    ]
    argv, _ = build_command(stills, captions, narrations, [2.5, 2.5], (360, 640), tmp_path / "video.mp4")
    assert _inputs(argv) == [("png_pipe", "file", str(p)) for p in stills] + [
        ("png_pipe", "file", str(p)) for p, _, _ in captions
    ] + [("wav", "file", str(n.path)) for n in narrations]


def _encode(tmp_path: Path, fmt: str) -> bytes:
    out = tmp_path / f"tone.{fmt}"
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
            "sine=frequency=440:duration=0.5",
            str(out),
        ],
        check=True,
    )
    return out.read_bytes()


def test_speech_in_a_format_other_than_wav_or_mp3_is_refused_not_auto_detected(tmp_path):
    flac = _encode(tmp_path, "flac")  # ffmpeg would happily decode it if left to guess
    with pytest.raises(ProviderError) as caught:
        openai_steps.to_wav(flac, tmp_path / "out.wav")
    assert caught.value.code == "provider_bad_output"
    assert not (tmp_path / "out.wav").exists()


def test_wav_speech_is_still_converted(tmp_path):
    openai_steps.to_wav(_encode(tmp_path, "wav"), tmp_path / "out.wav")
    assert (tmp_path / "out.wav").read_bytes()[:4] == b"RIFF"


@pytest.mark.parametrize(
    "head, fmt",
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"ID3\x04", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"fLaC\x00", None),
        (b"#EXTM3U\n", None),
        (b"ffconcat ver", None),
    ],
)
def test_audio_format_is_read_from_the_first_bytes(head, fmt):
    assert ffmpeg_inputs.audio_format(head) == fmt
