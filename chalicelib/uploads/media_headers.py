"""What an MP4/MOV clip declares in its headers, read in pure Python (the API's zip has no ffmpeg).

ISO base media files (MP4, QuickTime) are a tree of boxes: a 32-bit size, a four-letter type, then
the payload. We walk the top level with small ranged reads (skipping `mdat`, the media itself, by
its size), read `moov` whole (bounded) and take from it: `mvhd` (the movie's duration and
timescale), each `trak`'s `tkhd` (size, duration), `mdia/mdhd` (the track's timescale and
duration), `mdia/hdlr` (video or audio) and `stbl/stsd` (the codec's sample entry) and `stts`
(how long the samples really last). The file is the client's: every size is checked against its
parent, box counts are capped, the walk follows fixed paths (never deeper than moov/trak/mdia/
minf/stbl/stsd/entry, so nesting cannot make it recurse), and the duration is the longest any header claims, so
a small `mvhd` cannot hide long tracks. The worker decodes the clip with ffmpeg later; this only
decides whether the API accepts it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TypedDict

FIRST_READ = 64 * 1024  # one ranged GET usually holds ftyp and, with +faststart, the whole moov
MAX_MOOV_BYTES = 32 * 1024 * 1024  # a 2-minute 4K clip's sample tables are a few MB
MAX_TOP_LEVEL_BOXES = 64  # each beyond the first read costs a ranged GET
MAX_BOXES = 20_000  # boxes parsed inside moov
MAX_TRACKS = 32
MAX_STTS_ENTRIES = 1_000_000

# sample entry four-character codes -> the codec names ffmpeg reports (uploads.CLIP_CODECS)
VIDEO_CODECS = {
    b"avc1": "h264",
    b"avc3": "h264",
    b"hvc1": "hevc",
    b"hev1": "hevc",
    b"vp09": "vp9",
    b"av01": "av1",
    b"mp4v": "mpeg4",
    **dict.fromkeys((b"apch", b"apcn", b"apcs", b"apco", b"ap4h", b"ap4x"), "prores"),
}
AUDIO_CODECS = {
    b"mp4a": "aac",
    b"ac-3": "ac3",
    b"ec-3": "eac3",
    b"Opus": "opus",
    b"fLaC": "flac",
    b".mp3": "mp3",
    **dict.fromkeys((b"lpcm", b"sowt", b"twos", b"in24", b"in32", b"fl32"), "pcm"),
}
CLIP_CODECS = frozenset(VIDEO_CODECS.values())  # a clip's video codec is one of these, or it is refused
CLIP_AUDIO_CODECS = frozenset(AUDIO_CODECS.values())
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"mvex"})


class HeaderError(ValueError):
    """The file is not an MP4/MOV clip whose headers we can read (or they contradict themselves)."""


class ClipInfo(TypedDict):
    """The keys `pipeline.probe.probe` returns, as far as headers tell them (fps is not read)."""

    video_codec: str
    width: int
    height: int
    duration_s: float
    audio_codec: str | None


Fetch = Callable[[int, int], bytes]  # (offset, count) -> up to count bytes from offset


def read_clip(fetch: Fetch, size: int) -> ClipInfo:
    """The clip's codec, size, duration and audio codec from its headers; HeaderError when the
    file is not MP4/MOV, has no moov or video track, or its boxes lie about their sizes."""
    moov = _find_moov(fetch, size)
    return _parse_moov(moov)


def _box_header(data: bytes, at: int, end: int, file_end: int | None = None) -> tuple[bytes, int, int]:
    """(type, payload start, box end) of the box at `at` within data[:end]. A size of 0 means
    "to the end of the file", allowed only at the top level (`file_end`)."""
    if end - at < 8:
        raise HeaderError(f"a box header at byte {at} is cut off")
    size, kind = struct.unpack_from(">I4s", data, at)
    header = 8
    if size == 1:
        if end - at < 16:
            raise HeaderError(f"a 64-bit box header at byte {at} is cut off")
        (size,) = struct.unpack_from(">Q", data, at + 8)
        header = 16
    elif size == 0:
        if file_end is None:
            raise HeaderError(f"box {_name(kind)} claims the rest of the file inside another box")
        size = file_end - at
    if size < header:
        raise HeaderError(f"box {_name(kind)} at byte {at} says it has {size} bytes")
    return kind, at + header, at + size


def _find_moov(fetch: Fetch, size: int) -> bytes:
    """The moov box (header included), found by walking the top level with ranged reads."""
    first = fetch(0, min(FIRST_READ, size))
    if len(first) < 16 or first[4:8] not in (b"ftyp", b"moov", b"wide", b"free", b"mdat", b"skip"):
        raise HeaderError("the file does not start like an MP4/MOV file")
    at = 0
    for _ in range(MAX_TOP_LEVEL_BOXES):
        if at >= size:
            raise HeaderError("the file has no moov box (its index)")
        head = first[at : at + 16] if at + 16 <= len(first) else fetch(at, min(16, size - at))
        kind, _, end = _box_header(head, 0, len(head), file_end=size - at)
        end += at
        if end > size:
            raise HeaderError(f"box {_name(kind)} at byte {at} runs past the end of the file")
        if kind == b"moov":
            if end - at > MAX_MOOV_BYTES:
                raise HeaderError(f"the moov box has {end - at} bytes, over {MAX_MOOV_BYTES}")
            moov = first[at:end] if end <= len(first) else fetch(at, end - at)
            if len(moov) != end - at:
                raise HeaderError("the moov box is cut off")
            return moov
        at = end
    raise HeaderError(f"no moov box in the first {MAX_TOP_LEVEL_BOXES} boxes")


class _Walker:
    """Iterates child boxes with the caps that keep a hostile file cheap."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.boxes = 0

    def children(self, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
        at = start
        while at < end:
            self.boxes += 1
            if self.boxes > MAX_BOXES:
                raise HeaderError(f"more than {MAX_BOXES} boxes in moov")
            kind, payload, box_end = _box_header(self.data, at, end)
            if box_end > end:
                raise HeaderError(f"box {_name(kind)} at byte {at} runs past its parent")
            yield kind, payload, box_end
            at = box_end

    def child(self, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
        for found, payload, box_end in self.children(start, end):
            if found == kind:
                return payload, box_end
        return None


def _parse_moov(moov: bytes) -> ClipInfo:
    walk = _Walker(moov)
    kind, start, end = _box_header(moov, 0, len(moov))
    durations: list[float] = []
    movie_timescale = 0
    video: tuple[str, int, int] | None = None
    audio: str | None = None
    tracks = 0
    for child, payload, box_end in walk.children(start, end):
        if child == b"mvhd":
            movie_timescale, duration = _timed_full_box(moov, payload, box_end, "mvhd")
            durations.append(_seconds(duration, movie_timescale, "mvhd"))
        elif child == b"mvex":  # fragmented: the samples are in moof boxes after moov
            mehd = walk.child(payload, box_end, b"mehd")
            if mehd is None:
                raise HeaderError("a fragmented MP4 without a declared duration (mvex/mehd)")
            durations.append(_seconds(_full_box_duration(moov, *mehd), movie_timescale, "mehd"))
        elif child == b"trak":
            tracks += 1
            if tracks > MAX_TRACKS:
                raise HeaderError(f"more than {MAX_TRACKS} tracks")
            track = _parse_trak(walk, payload, box_end, movie_timescale, durations)
            if track is None:
                continue
            handler, codec, width, height = track
            if handler == b"vide" and video is None:
                video = (codec, width, height)
            elif handler == b"soun" and audio is None:
                audio = codec
    if not movie_timescale:
        raise HeaderError("moov has no movie header (mvhd)")
    if video is None:
        raise HeaderError("the file has no video track")
    codec, width, height = video
    return {
        "video_codec": codec,
        "width": width,
        "height": height,
        "duration_s": max(durations),
        "audio_codec": audio,
    }


def _parse_trak(
    walk: _Walker, start: int, end: int, movie_timescale: int, durations: list[float]
) -> tuple[bytes, str, int, int] | None:
    """(handler type, codec, width, height) of a track, appending every duration it claims."""
    data = walk.data
    width = height = 0
    handler: bytes | None = None
    codec: str | None = None
    for kind, payload, box_end in walk.children(start, end):
        if kind == b"tkhd":
            version = _version(data, payload, box_end, "tkhd")
            duration_at, size_at = (
                (payload + 20, payload + 76) if version == 0 else (payload + 28, payload + 88)
            )
            _need(box_end, size_at + 8, "tkhd")
            fmt = ">I" if version == 0 else ">Q"
            (duration,) = struct.unpack_from(fmt, data, duration_at)
            if movie_timescale:  # tkhd counts in the movie's timescale (mvhd comes first)
                durations.append(_seconds(duration, movie_timescale, "tkhd"))
            width, height = (v >> 16 for v in struct.unpack_from(">II", data, size_at))
        elif kind == b"mdia":
            handler, codec, entry_size, seconds = _parse_mdia(walk, payload, box_end)
            durations.extend(seconds)
            if entry_size != (0, 0):
                width, height = entry_size  # the coded size, as ffmpeg reports it
    if handler is None or codec is None:
        return None
    return handler, codec, width, height


def _parse_mdia(
    walk: _Walker, start: int, end: int
) -> tuple[bytes | None, str | None, tuple[int, int], list[float]]:
    data = walk.data
    handler: bytes | None = None
    timescale = 0
    seconds: list[float] = []
    stbl: tuple[int, int] | None = None
    for kind, payload, box_end in walk.children(start, end):
        if kind == b"mdhd":
            timescale, duration = _timed_full_box(data, payload, box_end, "mdhd")
            seconds.append(_seconds(duration, timescale, "mdhd"))
        elif kind == b"hdlr":
            _need(box_end, payload + 12, "hdlr")
            handler = data[payload + 8 : payload + 12]
        elif kind == b"minf":
            stbl = walk.child(payload, box_end, b"stbl")
    if handler not in (b"vide", b"soun") or stbl is None:
        return handler, None, (0, 0), seconds
    codec, entry_size = None, (0, 0)
    for kind, payload, box_end in walk.children(*stbl):
        if kind == b"stsd":
            codec, entry_size = _sample_entry(walk, payload, box_end, handler)
        elif kind == b"stts" and timescale:
            seconds.append(_stts_seconds(data, payload, box_end, timescale))
    return handler, codec, entry_size, seconds


def _sample_entry(walk: _Walker, start: int, end: int, handler: bytes) -> tuple[str, tuple[int, int]]:
    """The first sample entry's codec name (its fourcc when unknown) and, for video, its size."""
    _need(end, start + 8, "stsd")
    (count,) = struct.unpack_from(">I", walk.data, start + 4)
    if count == 0:
        raise HeaderError("a track without a sample description (stsd)")
    for kind, payload, box_end in walk.children(start + 8, end):
        names = VIDEO_CODECS if handler == b"vide" else AUDIO_CODECS
        codec = names.get(kind, _name(kind).strip())
        if handler != b"vide":
            return codec, (0, 0)
        _need(box_end, payload + 28, "a video sample entry")  # 6+2 reserved/ref, 16 predefined, w, h
        width, height = struct.unpack_from(">HH", walk.data, payload + 24)
        return codec, (width, height)
    raise HeaderError("stsd holds no sample entry")


def _stts_seconds(data: bytes, start: int, end: int, timescale: int) -> float:
    """How long the track's samples last: the sum of the decoding time table."""
    _need(end, start + 8, "stts")
    (count,) = struct.unpack_from(">I", data, start + 4)
    if count > MAX_STTS_ENTRIES or start + 8 + 8 * count > end:
        raise HeaderError(f"stts says it has {count} entries, more than it holds")
    total = sum(n * delta for n, delta in struct.iter_unpack(">II", data[start + 8 : start + 8 + 8 * count]))
    return total / timescale


def _version(data: bytes, start: int, end: int, what: str) -> int:
    _need(end, start + 4, what)
    version = data[start]
    if version not in (0, 1):
        raise HeaderError(f"{what} has an unknown version {version}")
    return version


def _timed_full_box(data: bytes, start: int, end: int, what: str) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd box (version 0: 32-bit times, 1: 64-bit)."""
    if _version(data, start, end, what) == 0:
        _need(end, start + 20, what)
        _, _, timescale, duration = struct.unpack_from(">IIII", data, start + 4)
        if duration == 0xFFFFFFFF:
            raise HeaderError(f"{what} declares no duration")
    else:
        _need(end, start + 32, what)
        _, _, timescale, duration = struct.unpack_from(">QQIQ", data, start + 4)
        if duration == 0xFFFFFFFFFFFFFFFF:
            raise HeaderError(f"{what} declares no duration")
    if not timescale:
        raise HeaderError(f"{what} has a timescale of 0")
    return timescale, duration


def _full_box_duration(data: bytes, start: int, end: int) -> int:
    if _version(data, start, end, "mehd") == 0:
        _need(end, start + 8, "mehd")
        return int(struct.unpack_from(">I", data, start + 4)[0])
    _need(end, start + 12, "mehd")
    return int(struct.unpack_from(">Q", data, start + 4)[0])


def _seconds(duration: int, timescale: int, what: str) -> float:
    if not timescale:
        raise HeaderError(f"{what} comes before the movie header")
    return duration / timescale


def _need(end: int, upto: int, what: str) -> None:
    if upto > end:
        raise HeaderError(f"{what} is shorter than its fields")


def _name(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))
