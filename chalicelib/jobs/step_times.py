"""How long a step of one shape takes: recent runs' durations (a short list per step and
provider in Redis) and a robust estimate from them, for the time left (jobs/eta.py).

A sample is (units, seconds, cold). Units are what the step's work grows with: scenes for the
image step, seconds of video for video and upload, one for the rest; so a step is priced as a
line, a fixed part plus a rate per unit, and runs of every size teach it. `cold` marks a
worker's first run of a shape (a voice or a model loading, imports): kept out of the line, whose
runs are warm, and priced apart as the cold-start term, which only a cold worker pays.

Samples are derived and worth nothing old: losing them costs only accuracy (the built-in lines
price the step until new runs come), so they need neither MySQL's durability nor a migration.
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass

from chalicelib.infra import redis_client, redis_keys

SAMPLES_KEPT = 40  # per shape: enough for a robust line, recent enough to follow a slower machine
SAMPLES_TTL_S = 30 * 24 * 3600
RECENT = 5  # the line's level follows the last few runs (the machine's load of the moment)
SAME_SIZE = 0.05  # units within 5% of each other: no slope to learn between them


@dataclass(frozen=True)
class Sample:
    units: float
    seconds: float
    cold: bool = False  #: the worker's first run of this shape (cold start)


@dataclass(frozen=True)
class Line:
    """Seconds = fixed + per_unit * units."""

    fixed: float
    per_unit: float

    def at(self, units: float) -> float:
        return max(0.0, self.fixed + self.per_unit * units)

    def scaled(self, k: float) -> Line:
        return Line(self.fixed * k, self.per_unit * k)


# Built in until a shape has runs (a 2-core machine under load; a fresh worker's first job):
# also the prior split between fixed and per-unit time when runs of one size only are known.
DEFAULT_LINES: dict[str, Line] = {
    "queue": Line(0.2, 0.0),
    "concept": Line(0.2, 0.0),
    "image": Line(1.5, 0.2),  # per scene
    "video": Line(2.5, 0.6),  # per second of video
    "upload": Line(0.1, 0.002),  # per second of video
}
UNKNOWN_LINE = Line(1.0, 0.0)
REMOTE_CLIPS_S = 60.0  # AI motion: an image-to-video clip takes about a minute, scenes in parallel


def prior(step: str, shape: str = "") -> Line:
    line = DEFAULT_LINES.get(step, UNKNOWN_LINE)
    clips = shape.partition("+")[2]  # "video:ffmpeg+fal": the video step waits for fal's clips
    if step == "video" and clips and clips != "offline":
        return Line(line.fixed + REMOTE_CLIPS_S, line.per_unit)
    return line


# ---- the arithmetic (pure) ----------------------------------------------------------------
def _same(a: float, b: float) -> bool:
    return abs(a - b) <= SAME_SIZE * max(a, b, 1e-9)


def fit(samples: list[Sample], start: Line) -> Line:
    """A line through runs, newest first, robust to outliers: its slope the median of the
    slopes between runs of different sizes (Theil-Sen), its fixed part the median of what each
    run leaves; with runs of one size only, `start`'s split scaled to their median. Then scaled
    to the median ratio of the newest RECENT runs to it, so a machine that just got slower (or a
    provider whose queue grew) moves the estimate within a few jobs."""
    if not samples:
        return start
    slopes = [
        (b.seconds - a.seconds) / (b.units - a.units)
        for a, b in itertools.combinations(samples, 2)
        if not _same(a.units, b.units)
    ]
    if slopes:
        slope = max(0.0, statistics.median(slopes))
        line = Line(max(0.0, statistics.median(s.seconds - slope * s.units for s in samples)), slope)
    else:
        u0 = statistics.median(s.units for s in samples)
        expected = start.at(u0)
        measured = statistics.median(s.seconds for s in samples)
        line = start.scaled(measured / expected) if expected > 0 else Line(measured, 0.0)
    ratios = [s.seconds / line.at(s.units) for s in samples[:RECENT] if line.at(s.units) > 0]
    return line.scaled(statistics.median(ratios)) if ratios else line


def warm_line(samples: list[Sample], start: Line) -> Line:
    """The line of warm runs; of all runs while no warm one is known."""
    warm = [s for s in samples if not s.cold]
    return fit(warm or samples, start)


def cold_extra(samples: list[Sample], start: Line) -> float:
    """What a cold worker adds to a run: the median excess of cold runs over the warm line."""
    cold = [s for s in samples if s.cold]
    warm = [s for s in samples if not s.cold]
    if not cold or not warm:
        return 0.0
    line = fit(warm, start)
    return max(0.0, statistics.median(s.seconds - line.at(s.units) for s in cold))


# ---- the samples in Redis -----------------------------------------------------------------
def _parse(raw: str | bytes) -> Sample:
    units, seconds, *rest = json.loads(raw)  # [units, seconds] before cold runs were told apart
    return Sample(float(units), float(seconds), bool(rest and rest[0]))


def load(shapes: list[str]) -> dict[str, list[Sample]]:
    """Each shape's recent runs, newest first."""
    with redis_client.client().pipeline(transaction=False) as pipe:
        for shape in shapes:
            pipe.lrange(redis_keys.eta_samples(shape), 0, SAMPLES_KEPT - 1)
        found = pipe.execute()
    return {shape: [_parse(s) for s in raw] for shape, raw in zip(shapes, found)}


def record(shape: str, sample: Sample) -> None:
    """A finished step's real duration, for the next jobs' plans."""
    key = redis_keys.eta_samples(shape)
    with redis_client.client().pipeline(transaction=False) as pipe:
        pipe.lpush(key, json.dumps([sample.units, round(sample.seconds, 3), sample.cold]))
        pipe.ltrim(key, 0, SAMPLES_KEPT - 1)
        pipe.expire(key, SAMPLES_TTL_S)
        pipe.execute()
