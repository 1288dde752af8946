"""The render's filtergraph per look: each look's camera moves the backdrop its own way in the
one ffmpeg pass, and the thumbnail's frame is picked where the first key phrase is all shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.pipeline.media import looks
from chalicelib.pipeline.media.filtergraph import DEFAULT_MOTION, FPS, build_command, plan_timeline
from chalicelib.pipeline.media.looks import Camera
from chalicelib.pipeline.media.thumbnail import representative_frame

SIZE = (1080, 1920)
DURATIONS = [2.0, 2.0, 2.0]


def _graph(motions) -> str:
    stills = [Path(f"scene-{k}.png") for k in range(len(DURATIONS))]
    argv, _ = build_command(stills, [], [], DURATIONS, SIZE, Path("video.mp4"), motions=motions)
    assert argv.count("-filter_complex") == 1  # one pass, whatever the camera
    return argv[argv.index("-filter_complex") + 1]


def _scene(graph: str, k: int) -> str:
    """Scene k's chains: its still, its frames [m{k}] and its crossfade tail [f{k}]."""
    return ";".join(part for part in graph.split(";") if f"s{k}_" in part or part.startswith(f"[{k}:v]"))


def test_the_four_looks_each_have_their_own_camera():
    assert {look.camera for look in looks.LOOKS.values()} == set(Camera)
    assert all(look.camera_per_s > 0 for look in looks.LOOKS.values() if look.camera is not Camera.STILL)


@pytest.mark.parametrize("name", sorted(looks.LOOKS))
def test_each_look_moves_its_backdrop_in_the_filtergraph(name):
    look = looks.LOOKS[name]
    graph = _graph([(look.camera, look.camera_per_s)] * len(DURATIONS))
    zooms = graph.count("eval=frame")  # a per-frame scale: a zoom
    pans = re.findall(r"crop=1080:1920:x='(\d+)\*([^']+)'", graph)  # a moving window: a drift
    if look.camera is Camera.PUSH:  # every scene and tail zooms in: no shrinking factor
        assert zooms == 2 * len(DURATIONS) - 1 and "(1-t/" not in graph and not pans
        assert f"(1+{look.camera_per_s * (2.0 + 0.5):.4f}*t/" in _scene(graph, 0)
    elif look.camera is Camera.BREATHE:  # in on scene 0, out on scene 1
        assert zooms == 2 * len(DURATIONS) - 1 and not pans
        assert "(1-t/" not in _scene(graph, 0) and "(1-t/" in _scene(graph, 1)
    elif look.camera is Camera.DRIFT:  # scaled once a little larger, then a moving crop
        assert zooms == 0 and len(pans) == 2 * len(DURATIONS) - 1
        travel = int(pans[0][0])
        assert travel == pytest.approx(SIZE[0] * look.camera_per_s * 2.5, abs=2)
        grown = re.search(r"\[0:v\]scale=(\d+):(\d+):", graph)
        assert grown and int(grown[1]) == SIZE[0] + travel and int(grown[2]) > SIZE[1]
        assert "(1-t/" not in _scene(graph, 0) and "(1-t/" in _scene(graph, 1)  # back and forth
    else:  # a still camera: the still repeated as it is
        assert zooms == 0 and not pans and "[0:v]scale=1080:1920:" in graph


def test_a_still_that_is_no_look_breathes_as_before():
    assert _graph(None) == _graph([DEFAULT_MOTION] * len(DURATIONS))
    assert DEFAULT_MOTION[0] is Camera.BREATHE


def test_the_thumbnail_frame_is_the_first_scene_with_its_key_phrase_shown():
    timeline = plan_timeline([3.0, 3.0])
    assert representative_frame(timeline, 1.2) == round(1.2 * FPS)
    assert representative_frame(timeline, None) == (3 * FPS - 1) // 2  # no phrase: the middle
    # a phrase still arriving at the cut: the last frame before the next scene fades in
    assert representative_frame(timeline, 2.99) == 3 * FPS - 1
