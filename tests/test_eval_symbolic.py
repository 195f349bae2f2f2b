"""MIDI metrics and the melody distance to real corpora, on scores whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pretty_midi
import pytest

from weavewave.brief import MusicBrief
from weavewave.evaluate import symbolic


def _pm(
    notes: list[tuple[int, float, float]],
    *,
    bpm: float = 120.0,
    name: str = "melody: Flute",
    drums: list[float] | None = None,
) -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    inst = pretty_midi.Instrument(program=73, name=name)
    inst.notes = [pretty_midi.Note(velocity=90, pitch=p, start=s, end=e) for p, s, e in notes]
    pm.instruments.append(inst)
    if drums is not None:
        kit = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
        kit.notes = [pretty_midi.Note(velocity=90, pitch=36, start=t, end=t + 0.1) for t in drums]
        pm.instruments.append(kit)
    return pm


def _brief(**kw) -> MusicBrief:
    base = dict(
        caption="test",
        duration_s=16.0,
        tempo_bpm=120.0,
        key={"tonic": "C", "mode": "major"},
        genre="folk",
        instruments=["flute"],
    )
    return MusicBrief.from_dict(base | kw)


def test_scale_consistency_counts_notes_in_the_asked_scale():
    c_major = [60, 62, 64, 65, 67, 69, 71, 72]
    pm = _pm([(p, i * 0.5, i * 0.5 + 0.4) for i, p in enumerate(c_major + [61, 63])])
    assert symbolic.scale_consistency(pm, "C", "major") == pytest.approx(8 / 10)
    assert symbolic.scale_consistency(pm, "C", "dorian") == pytest.approx(7 / 10)  # Eb in, E and B out


def test_pitch_class_entropy_bounds():
    chromatic = _pm([(60 + i, i * 0.5, i * 0.5 + 0.4) for i in range(12)])
    one_note = _pm([(60, i * 0.5, i * 0.5 + 0.4) for i in range(12)])
    assert symbolic.pitch_class_entropy(chromatic) == pytest.approx(math.log2(12))
    assert symbolic.pitch_class_entropy(one_note) == 0.0


def test_groove_consistency_is_one_for_a_repeated_bar_and_lower_for_random_onsets():
    bar = [0.0, 0.5, 0.75, 1.5]  # seconds inside a 2 s bar at 120 BPM
    steady = _pm([(60, 0.0, 0.1)], drums=[b + 2.0 * k for k in range(8) for b in bar])
    assert symbolic.groove_consistency(steady) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    random = _pm([(60, 0.0, 0.1)], drums=sorted(rng.uniform(0, 16, 32)))
    assert symbolic.groove_consistency(random) < 0.85


def test_density_follows_energy_when_busier_sections_have_more_notes():
    sections = [
        dict(start_s=0, end_s=4, label="A", energy=0.2),
        dict(start_s=4, end_s=8, label="B", energy=0.5),
        dict(start_s=8, end_s=16, label="C", energy=0.9),
    ]
    brief = _brief(sections=sections)
    notes = (
        [(60, t, t + 0.1) for t in np.arange(0, 4, 1.0)]
        + [(62, t, t + 0.1) for t in np.arange(4, 8, 0.5)]
        + [(64, t, t + 0.1) for t in np.arange(8, 16, 0.25)]
    )
    assert symbolic.density_energy_correlation(_pm(notes), brief) == pytest.approx(1.0)
    reversed_notes = [(60, t, t + 0.1) for t in np.arange(0, 4, 0.2)] + [
        (64, t, t + 0.1) for t in np.arange(8, 16, 2)
    ]
    assert symbolic.density_energy_correlation(_pm(reversed_notes), brief) < 0


def test_jensen_shannon_bounds():
    assert symbolic.jensen_shannon(np.array([1, 2, 3]), np.array([2, 4, 6])) == pytest.approx(0.0, abs=1e-6)
    assert symbolic.jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0, abs=1e-3)


def test_shipped_corpus_has_real_melodies():
    data = symbolic.corpus_histograms()
    assert data["folk"]["melodies"] > 900 and data["bach"]["melodies"] > 300
    assert len(data["folk"]["interval"]) == symbolic.INTERVAL_BINS
    assert len(data["bach"]["rhythm"]) == len(symbolic.RHYTHM_BINS)
    # Real melodies move mostly by step: the unison..third bins hold most intervals.
    iv = np.array(data["folk"]["interval"], float)
    mid = symbolic.MAX_INTERVAL
    assert iv[mid - 4 : mid + 5].sum() / iv.sum() > 0.7


def test_a_real_folk_tune_is_closer_to_the_folk_corpus_than_a_random_walk():
    music21 = pytest.importorskip("music21")
    from pathlib import Path

    path = sorted((Path(music21.corpus.__file__).parent / "ryansMammoth").glob("*.abc"))[5]
    score = music21.corpus.parse(str(path))
    notes = [n for n in score.parts[0].flatten().notes if n.isNote]
    key = score.analyze("key")
    real = symbolic.melody_histograms(
        [n.pitch.midi for n in notes], [float(n.offset) for n in notes], key.tonic.pitchClass
    )
    real["mode"] = key.mode
    rng = np.random.default_rng(0)
    pitches = 60 + np.cumsum(rng.integers(-11, 12, size=len(notes)))
    onsets = np.cumsum(rng.choice([0.25, 0.75, 1.5, 3.0], size=len(notes)))
    walk = symbolic.melody_histograms(list(pitches), list(onsets), 0)
    assert (
        symbolic.corpus_distance(real, "folk")["mean"] < symbolic.corpus_distance(walk, "folk")["mean"] - 0.1
    )


def test_midi_adherence_of_a_generated_piece():
    import weavewave

    track = weavewave.generate(
        text="a tune", genre="folk", key="G major", tempo=110, duration=16, seed=3, text_model="lexicon"
    )
    m = symbolic.midi_adherence(track.arrangement.to_pretty_midi(), track.brief)
    assert m["scale_consistency"] > 0.9
    assert 0 < m["pitch_class_entropy"] < math.log2(12)
    assert 0 < m["groove_consistency"] <= 1
    assert 0 < m["melody_distance[folk]"] < 1
