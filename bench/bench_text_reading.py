"""How well the text perceiver and the bridge read prompts (issue 11, point 5).

    .venv/bin/python bench/bench_text_reading.py [--split dev|heldout|all] [--no-semantic] [-v]

Each line of ``bench/data/prompts_labelled.jsonl`` is a prompt with what a listener would expect:

- ``genre``: the canonical genre, or null when any genre is fine;
- ``valence``/``arousal``: the sign of each (+1, -1), or null when either is fine (the mood quadrant);
- ``ensemble``: the exact instrument list the prompt fixes, or ``{"include": [...], "include_any": [...],
  "exclude": [...]}`` when it fixes only part of it, or null;
- ``timeline``: events the sections must show (``starts_with``, ``enters``, ``exits``, ``climax``,
  ``ends_quiet``, ``starts_quiet``), or null;
- ``form``: for named forms, allowed meters and the highest tempo.

Each prompt is read with :func:`weavewave.perceive.text.perceive_text` and fused into a brief with
:func:`weavewave.bridge.fuse`; the brief is checked field by field. A prompt counts as right overall when
every field it labels is right. About a quarter of the set (``split: heldout``) was kept aside while the
reading was improved and is reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA = Path(__file__).resolve().parent / "data" / "prompts_labelled.jsonl"
FIELDS = ("genre", "mood", "ensemble", "timeline", "form")
CLIMAX_RISE = 0.2  # the peak section is this much above the first
QUIET_END = 0.35  # an ending this soft or softer is quiet ...
QUIET_DROP = 0.2  # ... and this much under the peak


def _plays(section: Any, name: str) -> bool:
    return not section.instruments or name in section.instruments


def _check_event(brief: Any, event: dict[str, Any]) -> bool:
    secs = brief.sections
    if not secs:
        return False
    energies = [s.energy for s in secs]
    peak = max(range(len(secs)), key=energies.__getitem__)
    if "starts_with" in event:
        return set(secs[0].instruments) == set(event["starts_with"])
    if "enters" in event:
        name = event["enters"]
        return (
            name in brief.instruments and not _plays(secs[0], name) and any(_plays(s, name) for s in secs[1:])
        )
    if "exits" in event:
        name = event["exits"]
        return name in brief.instruments and _plays(secs[0], name) and not _plays(secs[-1], name)
    if event.get("climax"):
        return peak >= len(secs) // 2 and energies[peak] >= energies[0] + CLIMAX_RISE
    if event.get("ends_quiet"):
        return energies[-1] <= QUIET_END and energies[-1] <= max(energies) - QUIET_DROP
    if event.get("starts_quiet"):
        return energies[0] <= max(energies) - QUIET_DROP
    raise ValueError(f"unknown timeline event {event}")


def _check_ensemble(names: list[str], want: Any) -> bool:
    if isinstance(want, list):
        return set(names) == set(want)
    ok = all(n in names for n in want.get("include", []))
    ok &= not any(n in names for n in want.get("exclude", []))
    if want.get("include_any"):
        ok &= any(n in names for n in want["include_any"])
    return ok


def _sign_ok(value: float, want: int | None) -> bool:
    return want is None or (value > 0 if want > 0 else value < 0)


def check(row: dict[str, Any], brief: Any) -> dict[str, bool]:
    """Which labelled fields the brief gets right (fields the row leaves null are not scored)."""
    out: dict[str, bool] = {}
    if row["genre"] is not None:
        out["genre"] = brief.genre == row["genre"]
    if row["valence"] is not None or row["arousal"] is not None:
        out["mood"] = _sign_ok(brief.mood.valence, row["valence"]) and _sign_ok(
            brief.mood.arousal, row["arousal"]
        )
    if row["ensemble"] is not None:
        out["ensemble"] = _check_ensemble(brief.instruments, row["ensemble"])
    if row["timeline"] is not None:
        out["timeline"] = all(_check_event(brief, e) for e in row["timeline"])
    if row["form"] is not None:
        form = row["form"]
        ok = "meter" not in form or brief.meter in form["meter"]
        out["form"] = ok and ("tempo_max" not in form or brief.tempo_bpm <= form["tempo_max"])
    return out


def run(rows: list[dict[str, Any]], read: Callable[[str], Any], verbose: bool) -> dict[str, tuple[int, int]]:
    """Score every row; returns field -> (right, labelled), plus 'overall' and 'spurious'."""
    tally: dict[str, list[int]] = {f: [0, 0] for f in (*FIELDS, "overall")}
    spurious = [0, 0]
    for row in rows:
        brief = read(row["text"])
        result = check(row, brief)
        for f, ok in result.items():
            tally[f][0] += ok
            tally[f][1] += 1
        tally["overall"][0] += all(result.values())
        tally["overall"][1] += 1
        if row["timeline"] is None:  # no timeline asked: no section should leave anyone out
            spurious[1] += 1
            spurious[0] += any(s.instruments for s in brief.sections)
        if verbose and not all(result.values()):
            wrong = ", ".join(f for f, ok in result.items() if not ok)
            print(
                f"  x [{row['id']:>2}] {row['text'][:70]!r}: {wrong}\n"
                f"       -> {brief.genre}, v {brief.mood.valence:+.2f} a {brief.mood.arousal:+.2f}, "
                f"{brief.meter} {brief.tempo_bpm:g} BPM, {brief.instruments}, "
                f"{[(s.label, round(s.energy, 2), s.instruments) for s in brief.sections]}"
            )
    out = {f: (r, n) for f, (r, n) in tally.items()}
    out["spurious"] = (spurious[0], spurious[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "heldout", "all"), default="dev")
    parser.add_argument("--no-semantic", action="store_true", help="lexicon only (no sentence model)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each wrong prompt")
    args = parser.parse_args()

    from weavewave.bridge import fuse
    from weavewave.perceive.text import perceive_text

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    if args.split != "all":
        rows = [r for r in rows if r["split"] == args.split]
    semantic = False if args.no_semantic else None

    def read(text: str) -> Any:
        return fuse([perceive_text(text, semantic=semantic)])

    result = run(rows, read, args.verbose)
    print(
        f"text reading, {args.split} split ({len(rows)} prompts, "
        f"{'lexicon only' if args.no_semantic else 'lexicon + sentence model if installed'}):"
    )
    for f in (*FIELDS, "overall"):
        right, n = result[f]
        print(f"  {f:<9} {right:>3}/{n:<3} {100 * right / n if n else float('nan'):5.1f} %")
    bad, n = result["spurious"]
    print(f"  prompts with no timeline whose sections leave an instrument out: {bad}/{n}")


if __name__ == "__main__":
    sys.exit(main())
