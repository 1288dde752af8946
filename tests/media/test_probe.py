"""The clip probe reads libavformat's structured fields (PyAV), so metadata cannot pose as the
clip's duration or size; codecs outside the allowlist and frames over the pixel limit are
refused, and no decode (in the probe or in a render) ever builds an over-limit frame. The clips
are made here with ffmpeg."""

from __future__ import annotations

import subprocess
import sys

import imageio_ffmpeg
import pytest

from chalicelib.core.settings import get_settings
from chalicelib.pipeline.media import ffmpeg, ffmpeg_inputs, probe
from tests.fakes.media import make_8k_clip, make_clip, make_lying_clip

MB = 1024 * 1024


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe-clips")
    return {"lying": make_lying_clip(folder / "lying.mp4"), "8k": make_8k_clip(folder / "8k.mp4")}


# Started from a small Python, not from pytest: a forked child counts its parent's pages as
# its own until it execs, so the kernel's peak would be pytest's size.
MEASURE = (
    "import resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode;"
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_memory(argv: list[str]) -> tuple[int, int]:
    """(exit status, peak resident bytes) of one process, as the kernel measured it."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, cwd=probe.ROOT, check=True
    )
    code, kilobytes = out.stdout.split()
    return int(code), int(kilobytes) * 1024


def test_a_title_that_imitates_ffmpegs_summary_cannot_shorten_or_shrink_a_clip(clips):
    printed = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(clips["lying"])],
        capture_output=True,
        text=True,
    ).stderr
    # the trap is real: the fake summary comes first in what ffmpeg prints
    assert printed.index("Duration: 00:00:05.00") < printed.index("Duration: 00:00:45.00")
    assert printed.index("320x240") < printed.index("2400x2400")
    info = probe.probe(clips["lying"])
    assert info["duration_s"] == pytest.approx(45.0, abs=0.5)
    assert (info["width"], info["height"], info["video_codec"]) == (2400, 2400, "h264")
    assert info["fps"] == pytest.approx(2.0)


def test_an_8k_clip_is_refused_without_decoding_a_frame(clips):
    with pytest.raises(ValueError, match="8192x8192 is over"):
        probe.probe(clips["8k"])
    limit = get_settings().decode_max_pixels
    child = [sys.executable, "-m", probe.__name__]
    status, limited = peak_memory([*child, str(limit), str(clips["8k"])])
    _, unlimited = peak_memory([*child, str(2**31 - 1), str(clips["8k"])])
    assert status == 0  # it reads the size; only the decoders of stream analysis are held back
    assert limited < 120 * MB and unlimited > limited + 80 * MB  # one 8K frame is ~100 MB


def test_a_render_input_refuses_an_8k_frame_at_the_decoder(clips):
    argv = ffmpeg.command(*ffmpeg_inputs.file_input(clips["8k"], "mov"), "-frames:v", "1", "-f", "null", "-")
    status, limited = peak_memory(argv)
    assert status != 0 and limited < 120 * MB
    assert "-max_pixels" in argv and argv[argv.index("-max_pixels") + 1] == str(
        get_settings().decode_max_pixels
    )


def test_codecs_outside_the_allowlist_are_refused(tmp_path):
    mjpeg = tmp_path / "mjpeg.mov"
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:size=160x90:rate=5",
            "-t",
            "1",
            "-c:v",
            "mjpeg",
            str(mjpeg),
        ],
        check=True,
        timeout=60,
    )
    with pytest.raises(ValueError, match="video codec mjpeg is not one of"):
        probe.probe(mjpeg)


def test_an_allowed_clip_reads_as_made(tmp_path):
    info = probe.probe(make_clip(tmp_path / "a.mp4", 320, 568, seconds=2.0, fps=25))
    assert info == {
        "video_codec": "h264",
        "width": 320,
        "height": 568,
        "duration_s": pytest.approx(2.0, abs=0.1),
        "audio_codec": "aac",
        "fps": pytest.approx(25.0),
    }
