"""The pure helpers of bench/bench_musicality.py, on hand-made notes whose figures are known."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "bench_musicality.py"
_spec = importlib.util.spec_from_file_location("bench_musicality", _PATH)
bm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bm)


@pytest.mark.parametrize(
    ("meter", "beat"),
    [("4/4", 1.0), ("3/4", 1.0), ("2/2", 1.0), ("6/8", 1.5), ("9/8", 1.5), ("3/8", 1.5)],
    ids=str,
)
def test_beat_is_a_dotted_quarter_only_in_compound_meters(meter, beat):
    assert bm.beat_qn(meter) == beat


def test_tune_figures_of_a_running_eighth_note_scale():
    # C D E F G F E D C in eighths over 4/4, then a leap down a fifth (C -> F) on beat 1 of bar 2
    pitches = [60, 62, 64, 65, 67, 65, 64, 62, 60, 53]
    notes = [(0.5 * i, p) for i, p in enumerate(pitches)]
    f = bm.tune_figures(bm.tune_counts(notes, bar_qn=4.0, beat=1.0))
    assert f["notes_per_quarter"] == pytest.approx(10 / 8, abs=1e-3)  # two bars hold onsets
    assert f["off_beat"] == pytest.approx(0.5, abs=1e-3)  # every other eighth
    assert f["steps"] == pytest.approx(8 / 9, abs=1e-3)
    assert f["leaps"] == pytest.approx(1 / 9, abs=1e-3)
    assert f["direction_changes"] == pytest.approx(1 / 8, abs=1e-3)  # nine moves, one turn (at G)
    assert f["gaps_1_2qn"] == 0.0 and f["sixteenths"] == 0.0


def test_tune_counts_read_humanised_times_and_rhythm_classes():
    # a quarter, a dotted quarter, a half, then two sixteenths; onsets jittered by a few hundredths
    onsets = [0.02, 1.01, 2.48, 4.51, 4.77, 5.0]
    notes = [(t, 60 + i) for i, t in enumerate(onsets)]
    c = bm.tune_counts(notes, bar_qn=4.0, beat=1.0)
    assert c["gaps_1_2qn"] == 3
    assert c["sixteenths"] == 2
    assert c["off_beat"] == 3  # 2.48, 4.51 and 4.77; 0.02, 1.01 and 5.0 are on the beat


def test_six_eight_counts_the_eighths_between_dotted_quarter_beats_as_off_the_beat():
    notes = [(0.5 * i, 60) for i in range(6)]  # a bar of 6/8 in eighths
    assert bm.tune_counts(notes, bar_qn=3.0, beat=1.5)["off_beat"] == 4


def test_on_top_counts_tune_notes_under_an_accompaniment_note():
    tune = [(0.0, 1.0, 72), (1.0, 2.0, 67), (2.0, 3.0, 74)]
    others = [
        (0.0, 2.0, 69),
        (2.01, 3.0, 76),
        (5.0, 6.0, 90),
    ]  # the 76 starts 10 ms late: still sounding with 74
    assert bm.on_top(tune, others) == (1, 3)
    assert bm.on_top(tune, []) == (3, 3)


def test_whole_bar_units_accept_multiples_of_four_only():
    assert bm.whole_bar_units([4.0, 8.02, 12.0, 6.0, 9.0, 7.5, 3.99]) == (4, 7)
