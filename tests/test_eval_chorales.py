"""Key estimation on real music with known keys: Bach chorales from music21's corpus, rendered to audio."""

from __future__ import annotations

import numpy as np
import pytest

from weavewave.music import analysis as analyze

music21 = pytest.importorskip("music21")

CHORALES = ("bwv66.6", "bwv269", "bwv253", "bwv267", "bwv10.7", "bwv281", "bwv40.8", "bwv153.1")
TEMPO = 90.0  # quarter notes per minute
SECONDS = 20.0
ORGAN = 19  # GM church organ


def render_chorale(name: str):
    """(audio, sample rate, score key as (pitch class, mode)) of the first SECONDS of a chorale."""
    from weavewave.generators.symbolic.render import render
    from weavewave.music.arrangement import Arrangement, Note, Part

    score = music21.corpus.parse(name)
    key = score.analyze("key")  # the key read from the score's notes (Krumhansl-Schmuckler on the score)
    beat = 60.0 / TEMPO
    parts = []
    for i, part in enumerate(score.parts):
        notes = []
        for n in part.flatten().notes:
            start = float(n.offset) * beat
            if start >= SECONDS:
                break
            end = min(SECONDS, start + float(n.duration.quarterLength) * beat)
            notes += [Note(p.midi, 80, start, end) for p in n.pitches]
        parts.append(
            Part(
                name=f"voice {i}",
                instrument="Church Organ",
                program=ORGAN,
                is_drum=False,
                role="chords",
                notes=notes,
            )
        )
    arr = Arrangement(
        parts=parts,
        tempo_bpm=TEMPO,
        meter="4/4",
        duration_s=SECONDS,
        key_tonic=key.tonic.name.replace("-", "b"),
        key_mode=key.mode,
    )
    mix = render(arr)
    return mix.audio, mix.sample_rate, (key.tonic.pitchClass, key.mode)


@pytest.fixture(scope="module")
def chorale_scores():
    scores = {}
    for name in CHORALES:
        audio, sr, ref = render_chorale(name)
        tonic, mode, _ = analyze.estimate_key(audio, sr)
        scores[name] = analyze.mirex_key_score((tonic, mode), ref)
    return scores


def test_key_of_rendered_chorales_agrees_with_the_score(chorale_scores):
    # Most are exact; a chorale's opening can lean to a related key, which MIREX scores partly.
    assert np.mean(list(chorale_scores.values())) >= 0.75, chorale_scores
    assert sum(v == 1.0 for v in chorale_scores.values()) >= len(CHORALES) // 2, chorale_scores
    assert min(chorale_scores.values()) >= 0.3, chorale_scores  # never an unrelated key
