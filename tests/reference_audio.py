"""Reference tunes made at test time: known melodies and scores rendered through weavewave's own renderer.

Shared by the audio tests and the restyle/perception benchmarks (which put ``tests/`` on the path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from weavewave.music.arrangement import Arrangement, Note, Part
from weavewave.music.instruments import program_of

# Beethoven's "Ode to Joy" theme (public domain), in C major: (MIDI pitch, length in quarter notes).
ODE_TO_JOY: tuple[tuple[int, float], ...] = (
    (64, 1),
    (64, 1),
    (65, 1),
    (67, 1),
    (67, 1),
    (65, 1),
    (64, 1),
    (62, 1),
    (60, 1),
    (60, 1),
    (62, 1),
    (64, 1),
    (64, 1.5),
    (62, 0.5),
    (62, 2),
    (64, 1),
    (64, 1),
    (65, 1),
    (67, 1),
    (67, 1),
    (65, 1),
    (64, 1),
    (62, 1),
    (60, 1),
    (60, 1),
    (62, 1),
    (64, 1),
    (62, 1.5),
    (60, 0.5),
    (60, 2),
    (62, 1),
    (62, 1),
    (64, 1),
    (60, 1),
    (62, 1),
    (64, 0.5),
    (65, 0.5),
    (64, 1),
    (60, 1),
    (62, 1),
    (64, 0.5),
    (65, 0.5),
    (64, 1),
    (62, 1),
    (60, 1),
    (62, 1),
    (55, 2),
    (64, 1),
    (64, 1),
    (65, 1),
    (67, 1),
    (67, 1),
    (65, 1),
    (64, 1),
    (62, 1),
    (60, 1),
    (60, 1),
    (62, 1),
    (64, 1),
    (62, 1.5),
    (60, 0.5),
    (60, 2),
)
# One chord per bar under the theme (root pitch class, minor?), C major: I I V I ...
ODE_CHORDS: tuple[tuple[int, bool], ...] = (
    (0, False),
    (7, False),
    (0, False),
    (7, False),
    (0, False),
    (7, False),
    (0, False),
    (0, False),
    (7, False),
    (0, False),
    (7, False),
    (0, False),
    (0, False),
    (7, False),
    (0, False),
    (0, False),
)


# music21's audioSearch/test_audio.wav, 2.7-17 s: an ascending C-major scale (C4-C5), then C4 E4 G4 C5 A4 F4 D4.
# (onset s, MIDI pitch). Pitches are the scale's; onsets are librosa's onset detector on the 44.1 kHz file at
# a 128-sample hop (3 ms), checked against the pyin f0 track. After 17 s the player leaves the scale
# (C#4, D#4, G#4), so a comparison with these notes stops at RECORDING_KNOWN_UNTIL_S.
RECORDING_SCALE_NOTES: tuple[tuple[float, int], ...] = (
    (2.691, 60),
    (3.695, 62),
    (4.542, 64),
    (5.436, 65),
    (6.441, 67),
    (7.364, 69),
    (8.272, 71),
    (9.160, 72),
    (10.159, 60),
    (11.053, 64),
    (11.999, 67),
    (12.902, 72),
    (13.958, 69),
    (14.910, 65),
    (15.970, 62),
)
RECORDING_KNOWN_UNTIL_S = 16.95


HARMONIC_SLIPS = (12, 19, 24)  # a transcriber that hears a partial: octave, twelfth, two octaves off


def recording_path() -> Path:
    """music21's real recording (20 s, 44.1 kHz mono), shipped inside its package."""
    import music21

    return Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"


def note_scores(
    reference: list[tuple[float, float, int]],
    estimated: list[tuple[float, float, int]],
    *,
    until_s: float | None = None,
) -> dict[str, float]:
    """Transcription note precision, recall and F (mir_eval: onset within 50 ms, pitch exact, offsets
    ignored) of (start_s, end_s, pitch) notes, plus how many onset-matched notes are off by octaves or
    twelfths. With ``until_s`` only notes starting before it count, on both sides."""
    import mir_eval

    if until_s is not None:
        reference = [n for n in reference if n[0] < until_s]
        estimated = [n for n in estimated if n[0] < until_s]

    def arrays(notes):
        iv = np.array([[s, max(e, s + 0.01)] for s, e, _ in notes]).reshape(-1, 2)
        hz = np.array([440.0 * 2 ** ((p - 69) / 12) for _, _, p in notes])
        return iv, hz

    (ri, rp), (ei, ep) = arrays(reference), arrays(estimated)
    precision, recall, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=0.05, offset_ratio=None
    )
    slips = 0
    for s, _, p in estimated:
        near = [rp_ for rs, _, rp_ in reference if abs(rs - s) <= 0.05]
        if near and abs(p - near[0]) in HARMONIC_SLIPS:
            slips += 1
    return {
        "precision": precision,
        "recall": recall,
        "f": f,
        "octave_or_twelfth_errors": slips,
        "reference_notes": len(reference),
        "estimated_notes": len(estimated),
    }


def notes_of(onsets: tuple[tuple[float, int], ...], end_s: float) -> list[tuple[float, float, int]]:
    """(onset, pitch) pairs as (start_s, end_s, pitch) notes, each lasting until the next onset."""
    starts = [t for t, _ in onsets]
    return [(t, nxt, p) for (t, p), nxt in zip(onsets, [*starts[1:], end_s], strict=True)]


def tune_arrangement(
    melody=ODE_TO_JOY,
    chords=ODE_CHORDS,
    *,
    tempo: float = 100.0,
    transpose: int = 0,
    repeats: int = 1,
    lead: str = "Acoustic Grand Piano",
) -> Arrangement:
    """The melody on ``lead`` over root-position triads (one per bar) and a bass note, ``repeats`` times."""
    qn = 60.0 / tempo
    mel, acc = [], []
    t = 0.0
    for _ in range(repeats):
        for pitch, dur in melody:
            mel.append(Note(pitch + 12 + transpose, 96, t * qn, (t + dur * 0.95) * qn))
            t += dur
    bars = int(round(t / 4))
    for b in range(bars):
        root, minor = chords[b % len(chords)]
        triad = (root, root + (3 if minor else 4), root + 7)
        for pc in triad:
            acc.append(Note(48 + (pc + transpose) % 12, 52, b * 4 * qn, (b * 4 + 3.9) * qn))
        acc.append(Note(36 + (root + transpose) % 12, 60, b * 4 * qn, (b * 4 + 3.9) * qn))
    parts = [
        Part("melody", lead, program_of(lead), False, "melody", mel, gain_db=0.0),
        Part("chords", "Acoustic Grand Piano", 0, False, "chords", acc, gain_db=-8.0),
    ]
    return Arrangement(
        parts=parts, tempo_bpm=tempo, meter="4/4", duration_s=t * qn + 1.0, key_tonic="C", key_mode="major"
    )


def render_to_wav(arrangement: Arrangement, path: Path) -> Path:
    """Render with the project's renderer and write a 16-bit WAV."""
    from weavewave.generators.symbolic.render import render
    from weavewave.io.audio import write_audio

    mix = render(arrangement, workers=1)
    write_audio(path, mix.audio, mix.sample_rate, "wav")
    return path


def click_track(
    tempo: float, seconds: float, sample_rate: int = 22050, *, beats_per_bar: int = 4
) -> np.ndarray:
    """Short 1 kHz clicks on every beat, accented on each bar's first beat: a tempo with no doubt."""
    y = np.zeros(int(seconds * sample_rate), dtype=np.float32)
    click = np.sin(2 * np.pi * 1000 * np.arange(int(0.02 * sample_rate)) / sample_rate).astype(np.float32)
    click *= np.exp(-np.linspace(0, 6, click.size)).astype(np.float32)
    for k, t in enumerate(np.arange(0.0, seconds - 0.05, 60.0 / tempo)):
        i = int(t * sample_rate)
        y[i : i + click.size] += click * (0.9 if k % beats_per_bar == 0 else 0.35)
    return y


def melody_pitches() -> list[int]:
    return [p + 12 for p, _ in ODE_TO_JOY]


def bach_chorale_paths(limit: int) -> list[Path]:
    """The first ``limit`` Bach chorales (BWV numbering) shipped in music21's corpus, in a stable order."""
    from music21 import corpus

    paths = sorted(
        {
            Path(str(p))
            for p in corpus.getComposer("bach")
            if Path(str(p)).name.startswith("bwv") and Path(str(p)).suffix in (".mxl", ".xml")
        }
    )
    return paths[:limit]


def chorale_reference_key(score) -> tuple[int, str] | None:
    """The score's key: its key signature, with the mode chosen by the final bass note.

    Major when the last bass note is the signature's major tonic, minor when it is its relative minor
    tonic; None for modal endings (e.g. a Phrygian close on the dominant), which are left out.
    """
    ks = next(iter(score.recurse().getElementsByClass("KeySignature")), None)
    if ks is None or not score.parts:
        return None
    last_bass = list(score.parts[-1].recurse().notes)[-1]
    bass_pc = (last_bass.pitches[0] if last_bass.isChord else last_bass.pitch).pitchClass
    major, minor = ks.asKey("major").tonic.pitchClass, ks.asKey("minor").tonic.pitchClass
    if bass_pc == major:
        return major, "major"
    if bass_pc == minor:
        return minor, "minor"
    return None


def chorale_arrangement(score, *, tempo: float) -> Arrangement:
    """Every voice of a chorale as notes on one organ-like piano part, at ``tempo`` quarter notes a minute."""
    qn = 60.0 / tempo
    notes = []
    for n in score.flatten().notes:
        for p in n.pitches:
            start = float(n.offset) * qn
            notes.append(Note(p.midi, 80, start, start + max(0.1, float(n.quarterLength) * qn * 0.97)))
    end = max(n.end for n in notes) + 0.5
    part = Part("chorale", "Acoustic Grand Piano", 0, False, "chords", notes)
    return Arrangement(
        parts=[part], tempo_bpm=tempo, meter="4/4", duration_s=end, key_tonic="C", key_mode="major"
    )
