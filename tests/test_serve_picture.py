"""The page's picture of the music: a time axis in m:ss along the bottom, named pitches down the left."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from weavewave.brief import Key, MusicBrief
from weavewave.generators import Track
from weavewave.music.arrangement import Arrangement, Note, Part
from weavewave.serve.picture import (
    AXIS,
    GUTTER,
    HEIGHT,
    LABEL,
    WIDTH,
    pitch_labels,
    save_picture,
    time_label,
    time_ticks,
)

SR = 8000


@pytest.mark.parametrize(
    ("duration", "first", "step"), [(12, 0, 1), (30, 0, 5), (95, 0, 10), (600, 0, 60)], ids=str
)
def test_time_ticks_are_few_and_round(duration, first, step):
    ticks = time_ticks(duration)
    assert ticks[0] == first and 2 <= len(ticks) <= 13
    assert np.allclose(np.diff(ticks), step) and ticks[-1] <= duration


def test_time_labels_read_like_a_player():
    assert [time_label(t) for t in (0, 5, 60, 95.2)] == ["0:00", "0:05", "1:00", "1:35"]


def test_pitch_labels_are_note_names():
    assert pitch_labels(55, 75, octave_px=40) == [(60, "C4"), (72, "C5")]
    assert [n for _, n in pitch_labels(59, 66, octave_px=200)] == ["B3", "C4", "D4", "E4", "F4"]


def _track(duration: float, *, with_score: bool) -> Track:
    brief = MusicBrief(
        caption="test",
        duration_s=duration,
        tempo_bpm=120,
        key=Key(tonic="C", mode="major"),
        genre="ambient",
        instruments=["piano"],
    )
    melody = Part(
        "melody: piano",
        "piano",
        0,
        False,
        "melody",
        [Note(60 + (i % 12), 90, i * 0.5, i * 0.5 + 0.4) for i in range(int(duration * 2))],
    )
    drums = Part(
        "drums", "drums", 0, True, "drums", [Note(36, 100, i * 0.5, i * 0.5 + 0.1) for i in range(8)]
    )
    arrangement = Arrangement([melody, drums], 120, "4/4", duration, "C", "major") if with_score else None
    t = np.arange(int(duration * SR)) / SR
    audio = np.stack([0.2 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)
    return Track(audio=audio, sample_rate=SR, brief=brief, arrangement=arrangement)


def _label_pixels(region: np.ndarray) -> int:
    """How many pixels in ``region`` are drawn in (antialiased shades near) the label colour."""
    return int((np.abs(region.astype(int) - np.array(LABEL)).max(axis=-1) < 40).sum())


@pytest.mark.parametrize("with_score", [True, False], ids=["piano-roll", "spectrogram"])
def test_picture_has_a_time_axis_and_pitch_labels(tmp_path, with_score):
    path = save_picture(_track(12.0, with_score=with_score), tmp_path / "music.png")
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape == (HEIGHT, WIDTH, 3)
    axis = image[HEIGHT - AXIS + 1 :, :, :]
    # A tick and a label at each whole second: text in the strip at both ends and in the middle.
    for x in (GUTTER, GUTTER + (WIDTH - GUTTER) // 2, WIDTH - 1):
        assert _label_pixels(axis[:, max(0, x - 12) : x + 12]) > 10, x
    assert _label_pixels(axis) > 300
    # The gutter names pitches (C4, C5, "drums") or frequencies, readable: drawn, not in the grid's colour.
    assert _label_pixels(image[: HEIGHT - AXIS, :GUTTER]) > 150
