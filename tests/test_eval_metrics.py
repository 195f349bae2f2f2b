"""Evaluation metrics against cases with known answers: closed forms, click tracks, reference signals."""

from __future__ import annotations

import numpy as np
import pytest

from weavewave.dsp.loudness import (
    clipped_runs,
    integrated_lufs,
    longest_silence_s,
    loudness_curve,
    true_peak_dbfs,
)
from weavewave.evaluate.fad import GaussianStats, fad, fad_infinity, frechet_distance
from weavewave.music import analysis as analyze

SR = 22050


# --- FAD -------------------------------------------------------------------------------------------
def _closed_form(m1, s1, m2, s2) -> float:
    """Fréchet distance between Gaussians with commuting (here diagonal) covariances."""
    return float(np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(np.diag(s1)) - np.sqrt(np.diag(s2))) ** 2))


def test_frechet_distance_equals_closed_form_on_exact_parameters():
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.diag([1.0, 4.0, 0.25]), np.diag([2.0, 1.0, 1.0])
    got = frechet_distance(GaussianStats(m1, s1, 10), GaussianStats(m2, s2, 10))
    assert got == pytest.approx(_closed_form(m1, s1, m2, s2), rel=1e-9)


def test_frechet_distance_handles_non_commuting_covariances():
    # For 1-D Gaussians the distance is (m1-m2)^2 + (sigma1-sigma2)^2; rotate a 2-D case to mix axes.
    rot = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    s1 = rot @ np.diag([4.0, 1.0]) @ rot.T
    s2 = np.diag([1.0, 1.0])  # identity commutes with anything: tr(sqrt(s1)) = 2 + 1
    got = frechet_distance(GaussianStats(np.zeros(2), s1, 5), GaussianStats(np.zeros(2), s2, 5))
    assert got == pytest.approx(5.0 + 2.0 - 2 * 3.0, abs=1e-9)


def test_fad_on_gaussian_samples_approaches_closed_form():
    rng = np.random.default_rng(0)
    d = 8
    m1, m2 = np.zeros(d), np.full(d, 0.5)
    v1, v2 = np.linspace(0.5, 2.0, d), np.linspace(1.0, 1.5, d)
    x = rng.normal(m1, np.sqrt(v1), size=(20000, d))
    y = rng.normal(m2, np.sqrt(v2), size=(20000, d))
    truth = _closed_form(m1, np.diag(v1), m2, np.diag(v2))
    assert fad(x, y) == pytest.approx(truth, rel=0.05)
    assert fad(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fad_infinity_removes_the_small_sample_bias():
    """Plain FAD on small sets overestimates; FAD∞ lands closer to the closed form on average."""
    d = 16
    m, v = np.zeros(d), np.ones(d)
    ref = GaussianStats(m, np.diag(v), 10**6)  # the exact reference distribution
    shift = np.full(d, 0.3)
    truth = float(shift @ shift)
    plain, extrapolated = [], []
    for seed in range(8):
        x = np.random.default_rng(seed).normal(shift, 1.0, size=(400, d))
        plain.append(fad(x, ref))
        extrapolated.append(fad_infinity(x, ref, seed=seed))
    assert np.mean(plain) > truth + 0.15  # the bias is real at this size ...
    assert abs(np.mean(extrapolated) - truth) < 0.5 * abs(np.mean(plain) - truth)  # ... and mostly removed


def test_fad_infinity_declines_tiny_sets():
    assert fad_infinity(np.random.default_rng(1).normal(size=(20, 16)), np.eye(16)[:2].repeat(10, 0)) is None


def test_fad_refuses_mismatched_embeddings():
    from weavewave.errors import BadInputError

    with pytest.raises(BadInputError, match="same embedder"):
        fad(np.ones((5, 3)) + np.arange(3), np.random.default_rng(0).normal(size=(5, 4)))


# --- tempo on click tracks ----------------------------------------------------------------------------
def click_track(bpm: float, seconds: float = 20.0, sr: int = SR) -> np.ndarray:
    """Decaying 1 kHz clicks on every beat, the downbeat of each 4-beat bar louder."""
    y = np.zeros(int(seconds * sr), np.float32)
    t = np.arange(int(0.03 * sr)) / sr
    click = np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.008)
    for i, start in enumerate(np.arange(0, seconds - 0.05, 60.0 / bpm)):
        s = int(start * sr)
        y[s : s + len(click)] += (1.0 if i % 4 == 0 else 0.6) * click
    return y


@pytest.mark.parametrize("bpm", [84, 100, 120, 137, 160])
def test_tempo_of_click_tracks_is_within_four_percent(bpm):
    est = analyze.estimate_tempo(click_track(bpm), SR)
    assert analyze.tempo_matches(est, bpm), est


@pytest.mark.parametrize("bpm", [60, 200])
def test_tempo_far_from_the_prior_is_right_up_to_octave(bpm):
    est = analyze.estimate_tempo(click_track(bpm), SR)
    assert analyze.tempo_matches(est, bpm, allow_octave=True), est


def test_beats_of_a_click_track_fall_on_the_clicks():
    beats = analyze.beat_times(click_track(120), SR)
    phase = np.abs(((beats + 0.25) % 0.5) - 0.25)  # distance to the nearest click
    assert len(beats) >= 30 and np.median(phase) < 0.03


def test_acc1_and_acc2_definitions():
    assert analyze.tempo_matches(104.0, 100.0) and not analyze.tempo_matches(104.5, 100.0)
    assert not analyze.tempo_matches(200.0, 100.0) and analyze.tempo_matches(200.0, 100.0, allow_octave=True)
    assert analyze.tempo_matches(33.4, 100.0, allow_octave=True)
    assert not analyze.tempo_matches(150.0, 100.0, allow_octave=True)


# --- MIREX key weighting ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "estimated, reference, score",
    [
        ((0, "major"), (0, "major"), 1.0),  # C major = C major
        ((7, "major"), (0, "major"), 0.5),  # G major: fifth above
        ((5, "major"), (0, "major"), 0.5),  # F major: fifth below
        ((9, "minor"), (0, "major"), 0.3),  # A minor: relative minor
        ((0, "major"), (9, "minor"), 0.3),  # C major: relative major of A minor
        ((0, "minor"), (0, "major"), 0.2),  # C minor: parallel
        ((2, "major"), (0, "major"), 0.0),  # D major: unrelated
        ((4, "minor"), (9, "minor"), 0.5),  # E minor vs A minor: fifth
        ((7, "minor"), (0, "major"), 0.0),  # G minor vs C major: nothing
    ],
    ids=[
        "exact",
        "fifth-up",
        "fifth-down",
        "relative-minor",
        "relative-major",
        "parallel",
        "other",
        "minor-fifth",
        "unrelated-minor",
    ],
)
def test_mirex_weighting_table(estimated, reference, score):
    assert analyze.mirex_key_score(estimated, reference) == score


def test_mirex_score_of_every_key_pair():
    """Over all 24 x 24 pairs (mir_eval's weighted score, both fifths): each key has exactly one exact
    match, two fifths, one relative and one parallel key, and the score is symmetric."""
    keys = [(pc, mode) for mode in ("major", "minor") for pc in range(12)]
    for ref in keys:
        scores = sorted(analyze.mirex_key_score(est, ref) for est in keys)
        assert scores[-5:] == [0.2, 0.3, 0.5, 0.5, 1.0] and scores[:-5] == [0.0] * 19, ref
        for est in keys:
            assert analyze.mirex_key_score(est, ref) == analyze.mirex_key_score(ref, est)


# --- loudness, peaks, silence, clipping ---------------------------------------------------------------
def test_integrated_loudness_of_ebu_sine_and_pyloudnorm():
    """EBU Tech 3341 case 1: a stereo 1 kHz sine at -23 dBFS reads -23 LUFS; pyloudnorm agrees."""
    import pyloudnorm

    sr = 48000
    t = np.arange(20 * sr) / sr
    amp = 10 ** (-23 / 20)
    stereo = np.stack([amp * np.sin(2 * np.pi * 1000 * t)] * 2, axis=1)
    ours = integrated_lufs(stereo, sr)
    assert ours == pytest.approx(-23.0, abs=0.1)
    assert ours == pytest.approx(pyloudnorm.Meter(sr).integrated_loudness(stereo), abs=0.05)


def test_short_term_loudness_matches_pyloudnorm_per_window():
    """Each 3 s window of steady noise reads what pyloudnorm reads on that window alone."""
    import pyloudnorm

    sr = 48000
    rng = np.random.default_rng(3)
    y = np.concatenate([0.05 * rng.standard_normal(6 * sr), 0.2 * rng.standard_normal(6 * sr)])
    times, lufs = loudness_curve(y, sr, window_s=3.0, hop_s=1.0)
    meter = pyloudnorm.Meter(sr)
    for t, value in zip(times, lufs, strict=True):
        a = int(round((t - 1.5) * sr))
        if 1.5 <= t <= 4.5 or 7.5 <= t <= 10.5:  # windows inside one steady level
            assert value == pytest.approx(meter.integrated_loudness(y[a : a + 3 * sr]), abs=0.3)


def test_true_peak_of_ebu_inter_sample_case():
    """A sine at fs/4 sampled 45° off its peaks: samples read 3 dB low, true peak finds the real peak."""
    sr = 48000
    n = np.arange(sr)
    y = 0.5 * np.sin(2 * np.pi * n / 4 + np.pi / 4)
    assert 20 * np.log10(np.abs(y).max()) == pytest.approx(20 * np.log10(0.5) - 3.01, abs=0.05)
    assert true_peak_dbfs(y, sr) == pytest.approx(20 * np.log10(0.5), abs=0.2)


def test_silence_and_clipping_flags():
    sr = 8000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(4 * sr) / sr)
    gap = np.concatenate([tone, np.zeros(3 * sr), tone])
    assert longest_silence_s(gap, sr) == pytest.approx(3.0, abs=0.2)
    assert longest_silence_s(tone, sr) == 0.0
    assert clipped_runs(tone) == 0
    squared = np.clip(4 * tone, -1, 1)
    assert clipped_runs(squared) > 100  # flat tops on every half cycle


# --- section boundaries ------------------------------------------------------------------------------------
def test_boundary_f_measure():
    ref = np.array([10.0, 20.0, 30.0])
    assert analyze.boundary_f_measure(np.array([11.0, 19.0, 31.0]), ref) == 1.0
    assert analyze.boundary_f_measure(np.array([11.0, 25.0, 31.0]), ref) == pytest.approx(2 / 3)
    assert analyze.boundary_f_measure(np.array([10.5, 10.8]), np.array([10.0])) == pytest.approx(2 / 3)
    assert analyze.boundary_f_measure(np.zeros(0), ref) == 0.0


def test_boundary_f_measure_matches_optimally_not_greedily():
    """12 s is nearest 13 s, but pairing it with 10 s lets 15 s take 13 s: both boundaries are hit.
    Greedy nearest-first pairing took (12, 13) and left both others unmatched: F 0.5 instead of 1."""
    assert analyze.boundary_f_measure(np.array([12.0, 15.0]), np.array([10.0, 13.0])) == 1.0
    assert analyze.boundary_f_measure(np.array([12.0, 15.0]), np.array([10.0, 13.0]), window_s=1.5) == 0.5


def test_section_boundaries_found_where_the_sound_changes():
    """Three 12 s blocks of different timbre and harmony: the two changes are found within 2 s."""
    rng = np.random.default_rng(0)
    t = np.arange(12 * SR) / SR
    a = 0.3 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t))
    b = 0.1 * rng.standard_normal(len(t))
    c = 0.3 * np.sign(np.sin(2 * np.pi * 330 * t)) * 0.3
    found = analyze.section_boundaries(np.concatenate([a, b, c]).astype(np.float32), SR, 2)
    assert np.allclose(found, [12.0, 24.0], atol=2.0), found
