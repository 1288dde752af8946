"""The API confirms clips from their MP4/MOV headers (chalicelib/uploads/media_headers.py, no ffmpeg):
real files made by ffmpeg read as ffmpeg reads them, and hostile ones are refused cheaply."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from chalicelib.pipeline.media.probe import probe
from chalicelib.uploads.media_headers import MAX_MOOV_BYTES, HeaderError, read_clip
from tests.fakes.media import make_clip


def _reader(data: bytes, reads: list[tuple[int, int]] | None = None):
    def fetch(start: int, count: int) -> bytes:
        assert start >= 0 and count > 0 and start + count <= len(data), (start, count, len(data))
        if reads is not None:
            reads.append((start, count))
        return data[start : start + count]

    return fetch


def _read(data: bytes, reads: list[tuple[int, int]] | None = None):
    return read_clip(_reader(data, reads), len(data))


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, start, end) of each box at one level of `data`."""
    at, end = start, len(data) if end is None else end
    while at < end:
        size, kind = struct.unpack_from(">I4s", data, at)
        yield kind, at, at + size
        at += size


def _find(data: bytes, path: list[bytes]) -> tuple[int, int]:
    """(start, end) of the box at `path` (first match at each level)."""
    start, end = 0, len(data)
    for kind in path:
        found = next((s, e) for k, s, e in _boxes(data, start, end) if k == kind)
        start, end = found[0] + 8, found[1]
    return start - 8, end


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "mp4": make_clip(folder / "a.mp4", width=320, height=568, seconds=2.0),
        "mov": make_clip(folder / "a.mov", width=640, height=360, seconds=1.0, container="mov"),
        "silent": make_clip(folder / "silent.mp4", width=160, height=90, seconds=1.5, audio=False),
    }


@pytest.mark.parametrize("name", ["mp4", "mov", "silent"])
def test_real_clips_read_as_ffmpeg_reads_them(clips, name):
    path = clips[name]
    info = _read(path.read_bytes())
    expected = probe(path)
    assert info["video_codec"] == expected["video_codec"] == "h264"
    assert (info["width"], info["height"]) == (expected["width"], expected["height"])
    assert info["duration_s"] == pytest.approx(expected["duration_s"], abs=0.1)
    assert info["audio_codec"] == expected["audio_codec"]


def test_moov_after_the_media_costs_a_few_ranged_reads(clips):
    # ffmpeg without +faststart writes mdat before moov: the walk skips mdat by its size
    data = clips["mp4"].read_bytes()
    kinds = [kind for kind, _, _ in _boxes(data)]
    assert kinds.index(b"mdat") < kinds.index(b"moov")
    big = data[: _find(data, [b"mdat"])[0]] + _pad_mdat(data, 5_000_000)
    reads: list[tuple[int, int]] = []
    info = _read(big, reads)
    assert info["width"] == 320
    assert len(reads) <= 6 and sum(count for _, count in reads) < 200_000


def _pad_mdat(data: bytes, extra: int) -> bytes:
    """The file from its mdat on, the mdat grown by `extra` bytes (what follows moves along)."""
    start, end = _find(data, [b"mdat"])
    grown = struct.pack(">I4s", end - start + extra, b"mdat") + data[start + 8 : end] + b"\0" * extra
    return grown + data[end:]


def test_a_truncated_file_is_refused(clips):
    data = clips["mp4"].read_bytes()
    moov_start, moov_end = _find(data, [b"moov"])
    for cut in (10, moov_start + 4, moov_start + 100, moov_end - 1):
        with pytest.raises(HeaderError):
            _read(data[:cut])


def test_a_box_that_claims_more_than_its_parent_is_refused(clips):
    data = bytearray(clips["mp4"].read_bytes())
    start, _ = _find(bytes(data), [b"moov", b"trak", b"tkhd"])
    struct.pack_into(">I", data, start, 1_000_000)
    with pytest.raises(HeaderError, match="runs past"):
        _read(bytes(data))


def test_a_box_smaller_than_its_header_is_refused(clips):
    data = bytearray(clips["mp4"].read_bytes())
    start, _ = _find(bytes(data), [b"moov", b"trak"])
    struct.pack_into(">I", data, start, 3)
    with pytest.raises(HeaderError, match="says it has 3 bytes"):
        _read(bytes(data))


def test_a_top_level_box_past_the_end_of_the_file_is_refused(clips):
    data = bytearray(clips["mp4"].read_bytes())
    start, _ = _find(bytes(data), [b"mdat"])
    struct.pack_into(">I", data, start, 0xFFFFFF00)
    with pytest.raises(HeaderError, match="past the end of the file"):
        _read(bytes(data))


def test_huge_nesting_is_refused_without_recursing_into_it():
    # 50,000 traks inside one another: the walk follows fixed paths, so it never descends them
    levels, core = 50_000, box(b"tkhd", b"\0" * 84)
    nested = (
        b"".join(struct.pack(">I4s", 8 * (levels - i) + len(core), b"trak") for i in range(levels)) + core
    )
    data = box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", _mvhd(1000, 1000) + nested)
    with pytest.raises(HeaderError, match="no video track"):
        _read(data)


def test_a_flood_of_boxes_is_refused():
    data = box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", _mvhd(1000, 1000) + box(b"free") * 30_000)
    with pytest.raises(HeaderError, match="more than"):
        _read(data)


def test_a_moov_over_the_cap_is_not_read():
    claimed = 8 + MAX_MOOV_BYTES + 1
    data = box(b"ftyp", b"isom\0\0\0\0") + struct.pack(">I4s", claimed, b"moov") + b"\0" * 1024
    reads: list[tuple[int, int]] = []

    def fetch(start: int, count: int) -> bytes:  # the file is as large as moov says; only its head exists
        reads.append((start, count))
        return data[start : start + count]

    with pytest.raises(HeaderError, match="over"):
        read_clip(fetch, 16 + claimed)
    assert sum(count for _, count in reads) <= 64 * 1024


def test_a_short_movie_header_cannot_hide_long_tracks(clips):
    # mvhd says 0.1 s; the tracks' own headers and sample tables still say 2 s
    data = bytearray(clips["mp4"].read_bytes())
    start, _ = _find(bytes(data), [b"moov", b"mvhd"])
    timescale = struct.unpack_from(">I", data, start + 8 + 12)[0]
    struct.pack_into(">I", data, start + 8 + 16, timescale // 10)
    assert _read(bytes(data))["duration_s"] == pytest.approx(2.0, abs=0.1)


def test_metadata_that_looks_like_a_duration_is_not_one(clips):
    # a user-data box holding a movie header of 1 s (and a text "duration") is metadata, not the movie
    data = clips["mp4"].read_bytes()
    start, end = _find(data, [b"moov"])
    fake = box(b"udta", box(b"meta", b"\0\0\0\0" + _mvhd(1000, 1000) + box(b"\xa9cmt", b"duration=1")))
    moov = data[start + 8 : end] + fake
    patched = data[:start] + box(b"moov", moov) + data[end:]
    info = _read(patched)
    assert info["duration_s"] == pytest.approx(2.0, abs=0.1)


def test_a_movie_header_with_no_duration_is_refused():
    data = box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", _mvhd(1000, 0xFFFFFFFF))
    with pytest.raises(HeaderError, match="no duration"):
        _read(data)


def test_a_file_without_a_video_track_is_refused(clips):
    data = box(b"ftyp", b"M4A \0\0\0\0") + box(b"moov", _mvhd(1000, 1000))
    with pytest.raises(HeaderError, match="no video track"):
        _read(data)


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n" + b"\0" * 64, b"RIFF\0\0\0\0WAVEfmt " + b"\0" * 64, b"\0\0\0\x08ftyp"]
)
def test_something_else_entirely_is_refused(data):
    with pytest.raises(HeaderError):
        _read(data)


def test_a_fragmented_mp4_without_a_declared_duration_is_refused(clips):
    data = clips["mp4"].read_bytes()
    start, end = _find(data, [b"moov"])
    patched = data[:start] + box(b"moov", data[start + 8 : end] + box(b"mvex", box(b"trex", b"\0" * 24)))
    with pytest.raises(HeaderError, match="fragmented"):
        _read(patched + data[end:])


def _mvhd(timescale: int, duration: int) -> bytes:
    return box(b"mvhd", struct.pack(">IIIII", 0, 0, 0, timescale, duration) + b"\0" * 80)
