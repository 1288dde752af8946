"""The render's audio side: narration placed per scene, music under it, broadcast loudness.

Built as filtergraph parts the video step's single ffmpeg pass composes (filtergraph.build_command).

- Narration k starts with its caption, is sped up (atempo) only if it would overrun its scene,
  and is padded or cut to the scene's length. `placements` says where each line lands, so the
  word timings follow the audio exactly.
- Music (an uploaded MP3/WAV) is looped or trimmed to the video, faded in and out, and ducked
  while words are spoken by a volume envelope computed from the word timings, not by a
  sidechain compressor: a compressor only reacts after speech starts (attack), pumps on
  breaths and plosives, and lets the music swell in every short pause; the timings let the
  duck start just before the first word, hold through the short gaps inside a sentence and
  come back only in real pauses, the same way on every render (testable to the decibel).
  Without narration the music plays at full level, with no duck.
- Loudness, measured then applied: pass one renders only the audio graph (no video, fast) and
  measures it with the EBU R128 meter; the video pass applies the constant gain to -14 LUFS
  integrated and a peak limiter for true peak <= -1 dBTP. The finished file is measured again
  and that is what the job reports.
"""

from __future__ import annotations

import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from chalicelib.pipeline.errors import StepError
from chalicelib.pipeline.media import ffmpeg, ffmpeg_inputs
from chalicelib.pipeline.media.words import Word

log = logging.getLogger(__name__)

AUDIO_RATE = 44100
TARGET_LUFS, TARGET_LRA = -14.0, 11.0
TARGET_TP = -1.0
LIMIT_DB = -2.3  # the limiter's sample-peak ceiling: true peak and AAC add up to ~1 dB over it
MAX_GAIN_DB = 30.0
SPEECH_TAIL_S = 0.15  # silence kept after each line so sentences do not run together
SPEECH_LEAD_S = 0.05
DUCK_DB = 18.0  # music under words, below its level in the gaps
DUCK_RAMP_S = 0.15  # the duck starts this long before a word and releases over as long after
DUCK_HOLD_GAP_S = 0.6  # gaps between words shorter than this stay ducked (no pumping)
FADE_IN_S, FADE_OUT_S = 1.0, 2.0
SPEECH_COMPRESSOR = "acompressor=threshold=-21dB:ratio=3:attack=5:release=120:makeup=2"
MEASURE_TIMEOUT_S = 120
_SUMMARY = {key: re.compile(rf"^\s*{key}:\s+(-?[\d.]+|-inf)\s", re.M) for key in ("I", "LRA", "Peak")}


@dataclass
class Placement:
    """Where a narration line sits in the video (seconds)."""

    offset: float  # when its first sample plays
    tempo: float  # >1: sped up to fit its scene
    end: float  # its scene's end: nothing of it plays after this
    lead: float  # offset - scene start
    scene_s: float


def placement(scene_start: float, scene_s: float, window_start: float, speech_s: float) -> Placement:
    lead = window_start - scene_start + SPEECH_LEAD_S
    room = max(0.3, scene_s - lead - SPEECH_TAIL_S)
    tempo = min(speech_s / room, 4.0)
    return Placement(
        scene_start + lead, tempo if tempo > 1.001 else 1.0, scene_start + scene_s, lead, scene_s
    )


def _atempo_chain(factor: float) -> list[str]:
    """atempo per stage stays within 0.5..2 (older builds reject more; quality drops beyond)."""
    stages = []
    while factor > 2.0:
        stages.append("atempo=2.0")
        factor /= 2.0
    if factor > 1.001:
        stages.append(f"atempo={factor:.4f}")
    return stages


def narration_chain(k: int, input_index: int, place: Placement) -> str:
    """Narration k: starts with its caption, sped up if it would overrun its scene, then padded
    or cut to exactly the scene's length so the concatenation matches the video."""
    filters = [f"aresample={AUDIO_RATE}", "aformat=sample_fmts=fltp:channel_layouts=mono"]
    filters += _atempo_chain(place.tempo)
    filters += [
        f"adelay={int(place.lead * 1000)}:all=1",
        f"apad=whole_dur={place.scene_s:.4f}",
        f"atrim=end={place.scene_s:.4f}",
        "asetpts=PTS-STARTPTS",
    ]
    return f"[{input_index}:a]{','.join(filters)}[a{k}]"


def clip_audio_chain(k: int, input_index: int, scene_s: float, volume: float) -> str:
    """Clip k's own sound at `volume`, cut to its scene, mixed under narration k -> [am{k}]."""
    return (
        f"[{input_index}:a]aresample={AUDIO_RATE},aformat=sample_fmts=fltp:channel_layouts=mono,"
        f"volume={volume:.3f},atrim=end={scene_s:.4f},asetpts=PTS-STARTPTS,"
        f"apad=whole_dur={scene_s:.4f}[ca{k}];"
        f"[a{k}][ca{k}]amix=inputs=2:duration=first:normalize=0[am{k}]"
    )


def speech_spans(words: list[Word]) -> list[tuple[float, float]]:
    """Stretches of speech: words joined across gaps shorter than DUCK_HOLD_GAP_S."""
    spans: list[list[float]] = []
    for word in sorted(words, key=lambda w: w.start):
        if spans and word.start - spans[-1][1] < DUCK_HOLD_GAP_S:
            spans[-1][1] = max(spans[-1][1], word.end)
        else:
            spans.append([word.start, word.end])
    return [(a, b) for a, b in spans]


def duck_expression(spans: list[tuple[float, float]], gain: float) -> str:
    """volume(t): `gain` in the gaps, DUCK_DB lower over each span, with linear ramps of
    DUCK_RAMP_S before and after. Spans are further apart than two ramps, so the per-span
    terms never overlap and their sum is 0..1."""
    depth = 1 - 10 ** (-DUCK_DB / 20)
    r = DUCK_RAMP_S
    terms = [f"clip(min((t-{a - r:.3f})/{r},({b + r:.3f}-t)/{r}),0,1)" for a, b in spans]
    ducked = "+".join(terms) if terms else "0"
    return f"{gain:.4f}*(1-{depth:.4f}*({ducked}))"


def music_chain(
    input_index: int, total: float, gain: float, spans: list[tuple[float, float]], channels: str
) -> str:
    """The music bed [bed]: looped input (-stream_loop) cut to the video, faded, ducked."""
    fade_out = min(FADE_OUT_S, total / 3)
    filters = [
        f"aresample={AUDIO_RATE}",
        f"aformat=sample_fmts=fltp:channel_layouts={channels}",
        f"atrim=duration={total:.4f}",
        "asetpts=PTS-STARTPTS",
        f"volume='{duck_expression(spans, gain)}':eval=frame",
        f"afade=t=in:d={min(FADE_IN_S, total / 3):.3f}",
        f"afade=t=out:st={total - fade_out:.3f}:d={fade_out:.3f}",
    ]
    return f"[{input_index}:a]{','.join(filters)}[bed]"


def measure_filter() -> str:
    """EBU R128 meter (integrated, range, true peak by oversampling): a sixth of loudnorm's cost,
    which resamples everything to 192 kHz."""
    return "ebur128=peak=true:framelog=quiet"


def normalize_filter(gain_db: float, limit_db: float = LIMIT_DB) -> str:
    """Pass two: the gain that brings pass one's integrated loudness to the target, then a
    peak limiter whose ceiling sits low enough that inter-sample peaks and the AAC encode stay
    under -1 dBTP (4x oversampling would catch them exactly, at twice the audio cost). A constant gain
    keeps the mix as it was made (the duck stays 18 dB); loudnorm's dynamic mode, which it
    falls back to whenever the linear gain would cross the peak ceiling, rides the gain over
    a 3 s window and missed the target by 2 LU on short videos full of pauses. The gain is
    found by `loudness_gain` (the limiter's own cost in loudness included)."""
    ceiling = 10 ** (limit_db / 20)
    return (
        f"volume={min(MAX_GAIN_DB, gain_db):.2f}dB,"
        f"alimiter=limit={ceiling:.4f}:attack=2:release=60:level=false"
    )


def audio_parts(
    first_input: int,
    places: list[Placement],
    music_input: int | None,
    music_volume: float,
    words: list[Word],
    total: float,
    loudness: dict | None | bool,
    clips: dict[int, tuple[int, float, float]] | None = None,
) -> tuple[list[str], str]:
    """Filtergraph parts making the finished audio, and its output label.
    Inputs: one narration WAV per place from `first_input`, then the music (if any).
    `loudness`: {"gain_db"} to normalize, None to measure the mix (pass one), with "measure"
    in it to normalize and measure (checking pass), False for neither. `clips`: scene ->
    (input index, scene seconds, volume) of video clips whose own sound plays under the line
    (only with narration)."""
    n = len(places)
    channels = "stereo" if music_input is not None else "mono"
    parts = [narration_chain(k, first_input + k, p) for k, p in enumerate(places)]
    labels = [f"a{k}" for k in range(n)]
    for k, (index, scene_s, volume) in sorted((clips or {}).items()):
        parts.append(clip_audio_chain(k, index, scene_s, volume))
        labels[k] = f"am{k}"
    if n:
        parts.append(
            "".join(f"[{label}]" for label in labels) + f"concat=n={n}:v=0:a=1,"
            f"{SPEECH_COMPRESSOR},aformat=channel_layouts={channels}[speech]"
        )
    if music_input is not None:
        gain = music_volume if n else 1.0
        parts.append(music_chain(music_input, total, gain, speech_spans(words) if n else [], channels))
    if n and music_input is not None:
        parts.append("[speech][bed]amix=inputs=2:duration=first:normalize=0[mix]")
    elif n or music_input is not None:
        parts.append(f"[{'speech' if n else 'bed'}]anull[mix]")
    else:
        parts.append(f"anullsrc=r={AUDIO_RATE}:cl=mono,atrim=duration={total:.4f}[mix]")
        loudness = False
    if loudness is False:
        parts.append(f"[mix]aresample={AUDIO_RATE}[aout]")
    else:
        measured = loudness if isinstance(loudness, dict) else None
        chain = normalize_filter(measured["gain_db"]) if measured else ""
        if not measured or "measure" in measured:
            chain += ("," if chain else "") + measure_filter()
        parts.append(f"[mix]{chain}[aout]")
    return parts, "aout"


def _meter_report(stderr: str) -> dict | None:
    """ebur128's closing summary: {"input_i", "input_lra", "input_tp"} (strings, as measured),
    or None when there is none."""
    summary = stderr[stderr.rfind("Summary:") :] if "Summary:" in stderr else ""
    found = {}
    for key, pattern in _SUMMARY.items():
        match = pattern.search(summary)
        if match is None:
            return None
        found[key] = match.group(1)
    return {"input_i": found["I"], "input_lra": found["LRA"], "input_tp": found["Peak"]}


def measure_mix(inputs: list[str], parts: list[str], label: str) -> dict | None:
    """Run only the audio graph (which ends in the ebur128 meter) and return its
    measurements; None when the mix is silent (nothing to normalize)."""
    argv = ffmpeg.command(
        "-nostats", *inputs, "-filter_complex", ";".join(parts), "-map", f"[{label}]", "-f", "null", "-"
    )
    result = ffmpeg.run(argv, timeout_s=MEASURE_TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"audio pass failed: {result.stderr.strip()[-1500:]}")
    report = _meter_report(result.stderr)
    if report is None or not _finite(report.get("input_i")):
        return None
    return report


def loudness_gain(measure) -> dict | None:
    """The gain (dB) that brings the mix to TARGET_LUFS through the limiter: the mix's own
    loudness gives a first gain; when the limiter then takes more than a few tenths of an LU
    (speech with high peaks), a second audio-only pass measures that and the gain is
    corrected. `measure(loudness)` runs the audio graph; None: the mix is silent."""
    first = measure(None)
    if first is None:
        return None
    gain = TARGET_LUFS - float(first["input_i"])
    if float(first["input_tp"]) + gain > LIMIT_DB:  # the limiter will work: see how much
        check = measure({"gain_db": gain, "measure": True})
        if check is not None:
            gain += TARGET_LUFS - float(check["input_i"])
    return {
        "gain_db": round(min(MAX_GAIN_DB, gain), 2),
        "input_i": first["input_i"],
        "input_tp": first["input_tp"],
        "input_lra": first["input_lra"],
    }


def _finite(value) -> bool:
    try:
        return float(value) > -70.0
    except (TypeError, ValueError):
        return False


def measure_file(path: Path) -> dict:
    """Integrated loudness, true peak and loudness range of a finished file's audio."""
    argv = ffmpeg.command(
        "-nostats",
        *ffmpeg_inputs.file_input(path, "mov"),  # mov: MP4's demuxer
        "-map",
        "0:a:0",
        "-af",
        measure_filter(),
        "-f",
        "null",
        "-",
    )
    result = ffmpeg.run(argv, timeout_s=MEASURE_TIMEOUT_S)
    report = _meter_report(result.stderr) if result.returncode == 0 else None
    if report is None or not _finite(report.get("input_i")):  # silent
        return {"integrated_lufs": None, "true_peak_dbtp": None, "lra_lu": None, "target_lufs": TARGET_LUFS}
    return {
        "integrated_lufs": round(float(report["input_i"]), 2),
        "true_peak_dbtp": round(float(report["input_tp"]), 2),
        "lra_lu": round(float(report["input_lra"]), 2),
        "target_lufs": TARGET_LUFS,
    }


ON_TARGET_LU = 0.3  # a finished file further than this from the target gets its audio corrected
MAX_CORRECTION_DB = 6.0
CORRECTION_LIMIT_DB = -2.0  # sample peaks; the AAC encode's inter-sample peaks land ~1 dB above
CORRECTION_OVERSHOOT = 1.5  # the limiter takes part of a gain on speech's peaks: ask for more
CORRECTION_PASSES = 2


def on_target(path: Path, levels: dict) -> dict:
    """The finished file within ON_TARGET_LU of TARGET_LUFS with true peak <= TARGET_TP. The
    render's gain is set before the AAC encode and with a cautious limiter ceiling, which leave a
    mix with loud peaks up to ~1 LU short; then an audio-only pass (the video stream copied)
    applies the remaining gain through a limiter set from the file's own measured peak, at most
    twice, keeping a pass only when it lands closer without passing the peak target."""
    for _ in range(CORRECTION_PASSES):
        loudness, peak = levels.get("integrated_lufs"), levels.get("true_peak_dbtp")
        if loudness is None or (
            abs(loudness - TARGET_LUFS) <= ON_TARGET_LU and peak is not None and peak <= TARGET_TP
        ):
            return levels
        gain = (TARGET_LUFS - loudness) * (CORRECTION_OVERSHOOT if loudness < TARGET_LUFS else 1.0)
        corrected = _corrected(path, max(-MAX_CORRECTION_DB, min(MAX_CORRECTION_DB, gain)))
        if corrected is None:
            return levels
        fixed, found = corrected
        closer = abs((found["integrated_lufs"] or TARGET_LUFS) - TARGET_LUFS) < abs(loudness - TARGET_LUFS)
        if not (closer and (found["true_peak_dbtp"] or TARGET_TP) <= TARGET_TP):
            fixed.unlink(missing_ok=True)
            return levels
        fixed.replace(path)
        levels = found
    return levels


def _corrected(path: Path, gain_db: float) -> tuple[Path, dict] | None:
    fixed = path.with_name(path.stem + ".level.mp4")
    argv = ffmpeg.command(
        "-nostats",
        *ffmpeg_inputs.file_input(path, "mov"),
        "-map",
        "0:v:0",
        "-map",
        "0:a:0",
        "-c:v",
        "copy",
        "-af",
        normalize_filter(gain_db, CORRECTION_LIMIT_DB),
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-movflags",
        "+faststart",
        "-map_metadata",
        "-1",
        str(fixed),
        overwrite=True,
        loglevel="error",
    )
    if ffmpeg.run(argv, timeout_s=MEASURE_TIMEOUT_S).returncode != 0:
        fixed.unlink(missing_ok=True)
        log.warning("loudness correction pass failed; the render's levels stand")
        return None
    return fixed, measure_file(fixed)


def music_format(path: Path) -> str:
    """ffmpeg's demuxer for the music by its first bytes (WAV or MP3); StepError otherwise."""
    with open(path, "rb") as file:
        fmt = ffmpeg_inputs.audio_format(file.read(16))
    if fmt is None:
        raise StepError("music_unreadable", "the music upload is neither WAV nor MP3", transient=False)
    return fmt


def check_music(path: Path) -> float:
    """The music's duration in seconds, after decoding it whole; StepError `music_unreadable`
    (permanent: retrying will not mend the file) when it is not audio ffmpeg can decode."""
    argv = ffmpeg.command(
        "-nostats",
        "-v",
        "error",
        "-xerror",
        *ffmpeg_inputs.file_input(path, music_format(path)),
        "-map",
        "0:a:0",
        "-f",
        "null",
        "-progress",
        "pipe:1",
        "-",
    )
    try:
        result = ffmpeg.run(argv, timeout_s=MEASURE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise StepError(
            "music_unreadable", "the music upload took too long to decode", transient=False
        ) from None
    times = [int(v) for v in re.findall(r"^out_time_us=(\d+)$", result.stdout, re.M)]
    seconds = max(times, default=0) / 1e6
    if result.returncode != 0 or seconds < 0.5:
        lines = result.stderr.strip().splitlines()
        detail = lines[-1][:200] if lines else "no audio in it"
        log.warning("music upload does not decode: %s", detail)  # ffmpeg's words: the log only
        raise StepError(
            "music_unreadable", "the music upload is not audio we can play", transient=False, detail=detail
        )
    return seconds
