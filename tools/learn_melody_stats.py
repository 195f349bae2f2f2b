"""Learn small melodic statistics from music21's local corpus for the symbolic composer.

Writes ``src/weavewave/data/melody_stats.json``:

- ``step_transitions``: P(next diatonic step | previous diatonic step), steps clipped to [-7, 7];
- ``rhythms``: per meter, the most common one-bar rhythms on a sixteenth grid
  (``x`` = note onset, ``-`` = held, ``.`` = rest) with their counts.

music21 is a dev dependency only; the composer reads the JSON and never imports music21.

Usage: ``python tools/learn_melody_stats.py [--max-files N]``
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

MAX_STEP = 7
TOP_RHYTHMS = 40
SIXTEENTH = 0.25
METER_SLOTS = {"4/4": 16, "3/4": 12, "6/8": 12}
OUT = Path(__file__).resolve().parents[1] / "src" / "weavewave" / "data" / "melody_stats.json"


def _melody_parts(score):
    """The top line of a score: the first part (soprano in chorales, the tune in folk songs)."""
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    return parts[:1]


def _bar_rhythm(measure, slots: int) -> str | None:
    grid = ["."] * slots
    for el in measure.notesAndRests:
        off, dur = float(el.offset), float(el.duration.quarterLength)
        if off % SIXTEENTH or dur % SIXTEENTH or dur <= 0:
            return None  # tuplets and grace notes are off our grid
        a, b = int(off / SIXTEENTH), int((off + dur) / SIXTEENTH)
        if b > slots:
            return None
        if el.isRest:
            continue
        if el.tie is not None and el.tie.type in ("stop", "continue"):
            if a == 0:
                return None  # continues from the previous bar
            grid[a] = "-"
        else:
            grid[a] = "x"
        for i in range(a + 1, b):
            grid[i] = "-"
    text = "".join(grid)
    return text if "x" in text and len(text) == slots else None


def learn(max_files: int, max_folk_files: int) -> dict:
    from music21 import corpus, meter

    transitions: dict[int, Counter] = defaultdict(Counter)
    rhythms: dict[str, Counter] = {m: Counter() for m in METER_SLOTS}
    sources: list = []
    for path in sorted(corpus.getComposer("bach"))[:max_files]:
        sources.append(path)
    folk_dir = Path(corpus.__file__).parent / "essenFolksong"
    sources.extend(sorted(folk_dir.glob("*.abc"))[:max_folk_files])
    n_tunes = 0
    for i, path in enumerate(sources):
        if i % 25 == 0:
            print(f"  {i}/{len(sources)} files, {n_tunes} melodies", flush=True)
        try:
            parsed = corpus.parse(str(path))
        except Exception:  # noqa: BLE001 - a broken corpus file is skipped, not fatal
            continue
        scores = list(parsed.scores) if hasattr(parsed, "scores") else [parsed]
        for score in scores[:max_files]:
            for part in _melody_parts(score):
                notes = [n for n in part.recurse().notes if n.isNote]
                if len(notes) < 8:
                    continue
                n_tunes += 1
                steps = [
                    notes[i + 1].pitch.diatonicNoteNum - notes[i].pitch.diatonicNoteNum
                    for i in range(len(notes) - 1)
                ]
                steps = [max(-MAX_STEP, min(MAX_STEP, s)) for s in steps]
                for a, b in zip(steps, steps[1:], strict=False):
                    transitions[a][b] += 1
                ts = part.recurse().getElementsByClass(meter.TimeSignature)
                if not ts:
                    continue
                name = ts[0].ratioString
                if name not in METER_SLOTS:
                    continue
                for m in part.getElementsByClass("Measure"):
                    if float(m.duration.quarterLength) != METER_SLOTS[name] * SIXTEENTH:
                        continue  # pickups and short final bars
                    r = _bar_rhythm(m, METER_SLOTS[name])
                    if r:
                        rhythms[name][r] += 1
    return {
        "source": "music21 corpus: Bach chorale soprano lines and the Essen folk song collection",
        "tunes": n_tunes,
        "max_step": MAX_STEP,
        "step_transitions": {
            str(a): {str(b): c for b, c in sorted(cnt.items())} for a, cnt in sorted(transitions.items())
        },
        "rhythms": {m: [[r, c] for r, c in cnt.most_common(TOP_RHYTHMS)] for m, cnt in rhythms.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-files", type=int, default=150, help="chorales / tunes per collection file")
    ap.add_argument("--folk-files", type=int, default=6, help="Essen collection files to read")
    args = ap.parse_args()
    stats = learn(args.max_files, args.folk_files)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(stats, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) from {stats['tunes']} melodies")


if __name__ == "__main__":
    main()
