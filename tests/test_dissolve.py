"""Cross-dissolves: found near their middle, no false ones on pans, zooms, cuts or fades, scored to.

The clips are built at test time from scikit-image's photographs (``video_media``): every shot pans and
zooms, and one pair of shots blends linearly over 8, 15 or 30 frames (0.32, 0.6, 1.2 s at 25 fps).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from test_video import detection_scores  # tests/ is on sys.path (pytest's rootdir import mode)
from video_media import PHOTOS, Shot, make_video
from weavewave.bridge.tempomap import TARGET_RESIDUAL_MS
from weavewave.brief import MusicBrief
from weavewave.perceive.video import analyse_video, perceive_video

av = pytest.importorskip("av")

FPS = 25
FRAME = 1.0 / FPS
# (first photo, dissolve length in frames, a fade to black too?)
CLIPS = {"dissolve8": (1, 8, False), "dissolve15": (0, 15, True), "dissolve30": (2, 30, False)}


def clip_shots(first: int) -> list[Shot]:
    return [Shot(PHOTOS[(first + k) % len(PHOTOS)], frames) for k, frames in enumerate((50, 70, 60, 45))]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("dissolve")
    out = {}
    for name, (first, frames, fade) in CLIPS.items():
        path = d / f"{name}.mp4"
        truth = make_video(
            path, clip_shots(first), dissolve_after=1, dissolve_frames=frames, fade_after=2 if fade else None
        )
        out[name] = (path, truth)
    return out


@pytest.mark.parametrize("name", list(CLIPS))
def test_dissolve_found_within_two_frames_of_its_middle(clips, name):
    path, truth = clips[name]
    a = analyse_video(path)
    precision, recall = detection_scores(a.dissolves, truth["dissolves"], 2 * FRAME + 1e-6)
    errors = [round((f - t) / FRAME, 2) for f in a.dissolves for t in truth["dissolves"]]
    print(f"\n{name}: dissolves precision {precision:.2f} recall {recall:.2f}, error {errors} frames")
    assert (precision, recall) == (1.0, 1.0), (a.dissolves, truth["dissolves"])
    # the hard cuts and the fade around it are still found, and nothing else
    assert detection_scores(a.cuts, truth["cuts"], FRAME + 1e-6) == (1.0, 1.0), (a.cuts, truth["cuts"])
    assert detection_scores(a.fades, truth["fades"], FRAME + 1e-6) == (1.0, 1.0), (a.fades, truth["fades"])
    assert [s.boundary for s in a.scenes].count("dissolve") == 1
    assert len(a.scenes) == len(truth["cuts"]) + len(truth["fades"]) + 2
    assert a.boundaries == sorted(a.cuts + a.fades + a.dissolves)


@pytest.mark.parametrize("zoom, pan", [(0.0, 1.0), (0.6, 1.0), (0.6, 0.0)])
def test_a_panning_or_zooming_shot_is_no_dissolve(tmp_path, zoom, pan):
    path = tmp_path / "moving.mp4"
    make_video(
        path, [Shot("astronaut.png", 60, zoom=zoom, pan=pan), Shot("coffee.png", 60, zoom=zoom, pan=pan)]
    )
    a = analyse_video(path)
    assert a.dissolves == [] and len(a.cuts) == 1


def test_the_observation_lists_the_dissolve(clips):
    path, truth = clips["dissolve15"]
    p = perceive_video(path)
    m = p.observation.measurements
    assert m["dissolves_s"] == pytest.approx(truth["dissolves"], abs=2 * FRAME)
    assert "1 dissolves" in p.observation.summary
    assert [s["boundary"] for s in p.proposals["scenes"].value].count("dissolve") == 1


def test_generate_video_puts_a_section_change_on_the_dissolve(tmp_path):
    """Long enough scenes to be sections of their own: the change lands on the dissolve's middle."""
    path = tmp_path / "long.mp4"
    truth = make_video(
        path,
        [Shot(PHOTOS[0], 125), Shot(PHOTOS[1], 140), Shot(PHOTOS[2], 110)],
        dissolve_after=0,
        dissolve_frames=15,
    )
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "weavewave.cli",
            "generate",
            "--video",
            str(path),
            "--genre",
            "pop",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    brief = MusicBrief.load(out / "brief.json")
    scoring = next(o for o in brief.observations if o.source == "video").measurements["scoring"]
    (dissolve,) = truth["dissolves"]
    print(
        f"\ndissolve at {dissolve:.3f} s; section starts {[round(s.start_s, 3) for s in brief.sections]}; "
        f"residual {scoring['residual_ms']} ms"
    )
    assert scoring["residual_ms"] <= TARGET_RESIDUAL_MS
    assert min(abs(t - dissolve) for t in scoring["cuts_s"]) <= 2 * FRAME
    starts = [s.start_s for s in brief.sections[1:]]
    assert min(abs(t - dissolve) for t in starts) <= 2 * FRAME + TARGET_RESIDUAL_MS / 1000
