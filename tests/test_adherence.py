"""The music keeps to what was asked: tempo and key measured from the rendered audio with librosa."""

from __future__ import annotations

import pytest

import weavewave
from weavewave.dsp.loudness import integrated_lufs, true_peak_dbfs
from weavewave.music.analysis import (
    estimate_key,
    estimate_tempo,
    mirex_key_score,
    reference_key,
    tempo_matches,
)

CASES = [
    dict(genre="pop", key="C major", tempo=112, instruments=None),
    dict(genre="rock", key="E minor", tempo=128, instruments=None),
    dict(genre="folk", key="G major", tempo=96, instruments=None),
    dict(genre="electronic", key="A minor", tempo=124, instruments=None),
]


@pytest.fixture(
    scope="module", params=CASES, ids=lambda c: f"{c['genre']}-{c['key'].replace(' ', '')}-{c['tempo']}"
)
def rendered(request):
    case = request.param
    track = weavewave.generate(
        text="a piece",
        genre=case["genre"],
        key=case["key"],
        tempo=case["tempo"],
        duration=24,
        seed=5,
        text_model="lexicon",
    )
    return case, track


def test_tempo_is_kept(rendered):
    case, track = rendered
    bpm = estimate_tempo(track.audio, track.sample_rate, start_bpm=case["tempo"])
    assert tempo_matches(bpm, case["tempo"], allow_octave=True), bpm


def test_key_is_kept(rendered):
    case, track = rendered
    tonic, mode, _ = estimate_key(track.audio, track.sample_rate)
    ref = reference_key(track.brief.key.tonic, track.brief.key.mode)
    # Exact, or at worst the relative key (same notes): never an unrelated key.
    assert mirex_key_score((tonic, mode), ref) >= 0.3, (tonic, mode, ref)


def test_master_loudness_and_length(rendered):
    _, track = rendered
    assert integrated_lufs(track.audio, track.sample_rate) == pytest.approx(-14.0, abs=1.0)
    assert true_peak_dbfs(track.audio, track.sample_rate) <= -1.0
    assert track.duration_s == pytest.approx(24.0, abs=0.1)
