"""Melody histograms of real music from music21's local corpus, for ``weavewave eval``'s symbolic distance.

Writes ``src/weavewave/data/melody_corpus.json`` with, per corpus:

- ``folk``: the tunes of Ryan's Mammoth Collection (``ryansMammoth``, about a thousand ABC files);
- ``bach``: the soprano lines of the Bach chorales;

the pooled interval, rhythm and tonic-relative pitch-class counts (major and minor apart), laid out as
:func:`weavewave.evaluate.symbolic.melody_histograms` lays them out. The key of each tune is music21's
Krumhansl-Schmuckler estimate. music21 is a dev dependency only; ``weavewave eval`` reads the JSON.

Usage: ``.venv/bin/python tools/learn_melody_corpus.py [--max-bach N] [--max-folk N]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from weavewave.evaluate.symbolic import INTERVAL_BINS, MIN_MELODY_NOTES, RHYTHM_BINS, melody_histograms

OUT = Path(__file__).resolve().parents[1] / "src" / "weavewave" / "data" / "melody_corpus.json"


def _empty() -> dict:
    return {
        "interval": np.zeros(INTERVAL_BINS),
        "rhythm": np.zeros(len(RHYTHM_BINS)),
        "pitch_class": {"major": np.zeros(12), "minor": np.zeros(12)},
        "melodies": 0,
    }


def _add(total: dict, line) -> None:  # noqa: ANN001 - a music21 Stream
    """Add one melody line (the top note of each onset, tie continuations dropped) to the totals."""
    notes = []
    for el in line.flatten().notes:
        if el.tie is not None and el.tie.type in ("stop", "continue"):
            continue
        pitch = max(p.midi for p in el.pitches)
        notes.append((float(el.offset), pitch))
    if len(notes) < MIN_MELODY_NOTES:
        return
    key = line.analyze("key")
    mode = "minor" if key.mode == "minor" else "major"
    onsets, pitches = zip(*sorted(notes), strict=True)
    h = melody_histograms(list(pitches), list(onsets), key.tonic.pitchClass)
    total["interval"] += h["interval"]
    total["rhythm"] += h["rhythm"]
    total["pitch_class"][mode] += h["pitch_class"]
    total["melodies"] += 1


def learn(max_bach: int, max_folk: int) -> dict:
    from music21 import corpus

    bach = _empty()
    for i, path in enumerate(sorted(corpus.getComposer("bach"))[:max_bach]):
        try:
            score = corpus.parse(str(path))
        except Exception:  # noqa: BLE001 - a broken corpus file is skipped, not fatal
            continue
        if hasattr(score, "parts") and len(score.parts) >= 4:  # chorales: four voices, soprano first
            _add(bach, score.parts[0])
        if i % 50 == 0:
            print(f"  bach {i}: {bach['melodies']} melodies", flush=True)
    folk = _empty()
    folk_dir = Path(corpus.__file__).parent / "ryansMammoth"
    for i, path in enumerate(sorted(folk_dir.glob("*.abc"))[:max_folk]):
        try:
            parsed = corpus.parse(str(path))
            for score in list(parsed.scores) if hasattr(parsed, "scores") else [parsed]:
                _add(folk, score.parts[0] if hasattr(score, "parts") and len(score.parts) else score)
        except Exception:  # noqa: BLE001 - an unparseable tune is skipped, not fatal
            continue
        if i % 100 == 0:
            print(f"  folk {i}: {folk['melodies']} melodies", flush=True)

    def as_json(total: dict, source: str) -> dict:
        return {
            "source": source,
            "melodies": total["melodies"],
            "interval": total["interval"].astype(int).tolist(),
            "rhythm": total["rhythm"].astype(int).tolist(),
            "pitch_class": {m: v.astype(int).tolist() for m, v in total["pitch_class"].items()},
        }

    return {
        "about": "Pooled melody histograms of music21's corpus, made by tools/learn_melody_corpus.py. "
        "interval: semitones -12..12 (clipped); rhythm: inter-onset intervals in quarter notes, "
        f"nearest of {list(RHYTHM_BINS)} on a log scale; pitch_class: relative to the tonic.",
        "folk": as_json(folk, "music21 corpus 'ryansMammoth' (Ryan's Mammoth Collection, 1883)"),
        "bach": as_json(bach, "music21 corpus, J. S. Bach chorales, soprano line"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-bach", type=int, default=10_000)
    parser.add_argument("--max-folk", type=int, default=10_000)
    args = parser.parse_args()
    data = learn(args.max_bach, args.max_folk)
    OUT.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {data['folk']['melodies']} folk tunes, {data['bach']['melodies']} chorale melodies")


if __name__ == "__main__":
    main()
