"""How well a restyle hears its reference: transcription note accuracy, key, bar placement, sections, drums.

    .venv/bin/python bench/bench_restyle_hearing.py [--folk 4] [--json PATH]

Runs on any checkout (put its ``src`` first on PYTHONPATH to measure an older revision: attributes it
lacks are reported as "-").

- **Rendered tunes of known notes**, through weavewave's renderer: Ode to Joy solo on flute and on piano,
  Ode to Joy on piano over triads and a bass (the tune is the reference), and ``--folk`` Essen folk songs
  (music21's ``essenFolksong/altdeu10.abc``, the first ones with a key signature, a tonic ending and at
  least 95 % of their length in the signature's scale, with a minor key's raised leading tone) solo on clarinet. Reference notes are the score's,
  as rendered; the key is the signature's, with the mode chosen by the last note.
- **The real recording**, music21's ``audioSearch/test_audio.wav``: reference notes are the known C-major
  scale and arpeggio (pitches from the scale; onsets from librosa's onset detector at a 3 ms hop, checked
  against a pyin f0 track; ``tests/reference_audio.py``), up to 16.95 s, where the player leaves the scale.

Note accuracy is mir_eval's transcription F-measure with onsets within 50 ms and exact pitch (offsets
ignored), plus the count of onset-matched notes off by an octave, a twelfth or two octaves. For the
recording it also prints the kept tune's share of notes on beats 1 and 3, the number of sections of its
lullaby restyle, and the drum notes of its jazz restyle.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

KEY_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
FOLK_PATH = "essenFolksong/altdeu10.abc"
FOLK_TEMPO = 110.0
DIATONIC_SHARE = 0.95  # a tune's key is its signature's only when nearly all of it is in that scale


def _folk_tunes(count: int) -> list[tuple[str, list[tuple[int, float]], tuple[int, str]]]:
    """(name, [(pitch, quarter lengths)], key) of the first ``count`` usable Essen tunes."""
    from music21 import corpus

    opus = corpus.parse(FOLK_PATH)
    out = []
    for score in opus.scores:
        notes = [n for n in score.flatten().notesAndRests]
        ks = next(iter(score.recurse().getElementsByClass("KeySignature")), None)
        pitched = [n for n in notes if n.isNote]
        if ks is None or len(pitched) < 12 or any(n.isChord for n in notes):
            continue
        last = pitched[-1].pitch.pitchClass
        major, minor = ks.asKey("major").tonic.pitchClass, ks.asKey("minor").tonic.pitchClass
        key = (major, "major") if last == major else (minor, "minor") if last == minor else None
        if key is None:
            continue
        line = [(n.pitch.midi if n.isNote else -1, float(n.quarterLength)) for n in notes]
        line = [(p, d) for p, d in line if d > 0]
        scale = {(major + step) % 12 for step in (0, 2, 4, 5, 7, 9, 11)}
        if key[1] == "minor":
            scale.add((minor + 11) % 12)  # the raised leading tone
        in_scale = sum(d for p, d in line if p >= 0 and p % 12 in scale) / sum(d for p, d in line if p >= 0)
        if in_scale < DIATONIC_SHARE:
            continue  # modal or mislabelled: the signature does not say its key
        while line and line[0][0] < 0:
            line.pop(0)
        out.append((score.metadata.title or f"tune {len(out) + 1}", line, key))
        if len(out) == count:
            break
    return out


def _arrangement(line, *, tempo: float, lead: str, chords: bool):
    """A known line (rests as pitch -1) as an Arrangement, and its notes as (start_s, end_s, pitch)."""
    from reference_audio import tune_arrangement

    playable = [(p, d) for p, d in line]
    a = tune_arrangement([(max(p, 0), d) for p, d in playable], tempo=tempo, lead=lead)
    # tune_arrangement plays every entry; silence the rests and drop the chords unless asked for.
    melody = a.parts[0]
    melody.notes = [n for n, (p, _) in zip(melody.notes, playable, strict=True) if p >= 0]
    if not chords:
        a.parts = [melody]
    truth = [(n.start, n.end, n.pitch) for n in melody.notes]
    return a, truth


def _key_str(tonic_mode) -> str:
    return f"{KEY_NAMES[tonic_mode[0]]} {tonic_mode[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folk", type=int, default=4, help="Essen folk tunes to render solo")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import numpy as np

    import weavewave
    from reference_audio import (
        ODE_TO_JOY,
        RECORDING_KNOWN_UNTIL_S,
        RECORDING_SCALE_NOTES,
        note_scores,
        notes_of,
        recording_path,
        render_to_wav,
    )
    from weavewave import api
    from weavewave.generators.symbolic.compose import compose
    from weavewave.perceive.audio import perceive_audio

    print(f"weavewave from {Path(weavewave.__file__).parent}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-hearing-"))
    cases = [
        ("Ode to Joy, flute solo", ODE_TO_JOY, 100.0, "Flute", False, (0, "major")),
        ("Ode to Joy, piano solo", ODE_TO_JOY, 100.0, "Acoustic Grand Piano", False, (0, "major")),
        ("Ode to Joy, piano over triads", ODE_TO_JOY, 100.0, "Acoustic Grand Piano", True, (0, "major")),
    ]
    cases += [
        (f"Essen: {name}", line, FOLK_TEMPO, "Clarinet", False, key)
        for name, line, key in _folk_tunes(args.folk)
    ]
    rows = []
    for k, (name, line, tempo, lead, chords, key) in enumerate(cases):
        arrangement, truth = _arrangement(line, tempo=tempo, lead=lead, chords=chords)
        # tune_arrangement plays a line an octave up: so does the truth (taken from the rendered part).
        wav = render_to_wav(arrangement, tmp / f"case{k}.wav")
        t0 = time.perf_counter()
        a = perceive_audio(wav).analysis
        took = time.perf_counter() - t0
        scores = note_scores(truth, a.melody_s)
        rows.append(
            {
                "case": name,
                "transcriber": getattr(a, "transcriber", "-"),
                "polyphony": getattr(a, "polyphony", None),
                **scores,
                "key": _key_str((a.key_tonic, a.key_mode)),
                "true_key": _key_str(key),
                "key_right": (a.key_tonic, a.key_mode) == key,
                "seconds": took,
            }
        )

    rec = recording_path()
    t0 = time.perf_counter()
    heard = perceive_audio(rec)
    took = time.perf_counter() - t0
    a = heard.analysis
    truth = notes_of(RECORDING_SCALE_NOTES, RECORDING_KNOWN_UNTIL_S)
    scores = note_scores(truth, a.melody_s, until_s=RECORDING_KNOWN_UNTIL_S)
    bar = int(a.meter.split("/")[0]) if a.meter else 4
    positions = [s % bar for s, *_ in a.melody]
    lullaby = api.describe(audio=rec, instruction="as a gentle lullaby on music box")
    jazz = api.describe(audio=rec, instruction="make it jazz")
    drums = [p for p in compose(jazz).parts if p.is_drum]
    recording = {
        "case": "test_audio.wav (real)",
        "transcriber": getattr(a, "transcriber", "-"),
        "polyphony": getattr(a, "polyphony", None),
        **scores,
        "key": str(a.key),
        "true_key": "C major",
        "key_right": str(a.key) == "C major",
        "seconds": took,
        "on_beats_1_3": float(np.mean([p in (0.0, 2.0) for p in positions])) if positions else 0.0,
        "on_beat_1": float(np.mean([p == 0.0 for p in positions])) if positions else 0.0,
        "lullaby_seconds": lullaby.duration_s,
        "lullaby_sections": len(lullaby.sections),
        "jazz_seconds": jazz.duration_s,
        "jazz_sections": len(jazz.sections),
        "jazz_drum_notes": sum(len(p.notes) for p in drums),
    }
    rows.append(recording)

    print(
        "| reference | transcriber | polyphony | notes (ref/est) | P | R | F | octave/12th errors | key "
        "(true) | analyse s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        poly = "-" if r["polyphony"] is None else f"{r['polyphony']:.2f}"
        mark = "" if r["key_right"] else " ✗"
        print(
            f"| {r['case']} | {r['transcriber']} | {poly} | {r['reference_notes']}/{r['estimated_notes']} | "
            f"{r['precision']:.2f} | {r['recall']:.2f} | {r['f']:.2f} | {r['octave_or_twelfth_errors']} | "
            f"{r['key']}{mark} ({r['true_key']}) | {r['seconds']:.1f} |"
        )
    rendered = rows[:-1]
    print(
        f"rendered tunes: mean F {np.mean([r['f'] for r in rendered]):.3f}, keys right "
        f"{sum(r['key_right'] for r in rendered)}/{len(rendered)}, octave/twelfth errors "
        f"{sum(r['octave_or_twelfth_errors'] for r in rendered)}"
    )
    r = recording
    print(
        f"recording: kept tune on beats 1 or 3 {r['on_beats_1_3']:.2f} (beat 1 {r['on_beat_1']:.2f}); "
        f"lullaby restyle {r['lullaby_seconds']:.1f} s in {r['lullaby_sections']} sections; jazz restyle "
        f"{r['jazz_seconds']:.1f} s in {r['jazz_sections']} sections with {r['jazz_drum_notes']} drum notes"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()
