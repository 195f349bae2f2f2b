"""Trust in detected chords, re-harmonising a kept tune, and dropping transcription blips (no audio)."""

from __future__ import annotations

from reference_audio import ODE_TO_JOY
from weavewave.music.reharmonize import clean_melody, harmony_confidence, key_chords, reharmonize


def _ode_qn() -> list[tuple[float, float, int, int]]:
    notes, t = [], 0.0
    for pitch, dur in ODE_TO_JOY:
        notes.append((t, dur, pitch, 90))
        t += dur
    return notes


def test_key_chords_are_the_keys_triads():
    minor = {c.symbol for c in key_chords(9, "minor")}
    assert minor == {"A:min", "C:maj", "D:min", "E:min", "F:maj", "G:maj", "E:maj"}
    assert {c.symbol for c in key_chords(0, "major")} == {
        "C:maj",
        "D:min",
        "E:min",
        "F:maj",
        "G:maj",
        "A:min",
    }


def test_reharmonised_ode_to_joy_fits_the_tune_and_cadences_on_the_tonic():
    melody = _ode_qn()
    length = sum(d for _, d, _, _ in melody)
    spans = reharmonize(melody, 0, "major", length)
    assert spans[0][2] == "C:maj" and spans[-1][2] == "C:maj"
    assert spans[0][0] == 0 and abs(sum(d for _, d, _ in spans) - length) < 1e-9
    allowed = {c.symbol: c.pcs for c in key_chords(0, "major")}
    assert all(s in allowed for _, _, s in spans)
    # Notes on beats are chord tones of the chord under them, for most beats.
    on_beat = [(t, p) for t, _, p, _ in melody if float(t).is_integer()]
    hits = [p % 12 in next(allowed[s] for s0, d, s in spans if s0 <= t < s0 + d) for t, p in on_beat]
    assert sum(hits) / len(hits) >= 0.7
    # Phrases end on the dominant before the tonic (bar 7 of 8 in the first half: G major under D).
    assert any(s == "G:maj" for s0, _, s in spans if 24 <= s0 < 32)


def test_clean_melody_drops_blips_and_keeps_chromatic_passing_tones():
    passing = [(0.0, 0.3, 60), (0.3, 0.6, 61), (0.6, 0.9, 62)]  # C C# D in C major: a real passing tone
    assert clean_melody(passing, 0, "major") == passing
    blip = [(0.0, 0.4, 64), (0.4, 0.45, 63), (0.45, 0.9, 62)]  # a 50 ms Eb between E and D
    assert clean_melody(blip, 0, "major") == [blip[0], blip[2]]
    leap = [(0.0, 0.4, 80), (0.4, 1.3, 63), (1.3, 1.8, 78)]  # A minor: Eb a twelfth below both neighbours
    assert clean_melody(leap, 9, "minor") == [leap[0], leap[2]]
    slip = [(0.0, 0.4, 76), (0.4, 0.5, 88), (0.5, 0.9, 77)]  # an octave slip for 0.1 s
    assert clean_melody(slip, 9, "minor") == [slip[0], slip[2]]
    ode = [(t * 0.6, (t + d) * 0.6, p) for t, d, p, _ in _ode_qn()]
    assert clean_melody(ode, 0, "major") == ode


def test_harmony_confidence_separates_real_chords_from_noise():
    real = harmony_confidence([0.85] * 16, [0.2] * 16, [(0.0, 8.0, "C:maj"), (8.0, 8.0, "G:maj")], 0, "major")
    assert real.trusted and real.key_fit == 1.0
    noise = harmony_confidence(
        [0.5] * 16, [0.04] * 16, [(0.0, 8.0, "Db:maj"), (8.0, 8.0, "F#:min")], 9, "minor"
    )
    assert not noise.trusted and "not trusted" in noise.reason
