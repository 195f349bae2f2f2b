"""Render wall time before (the committed render.py at git HEAD) and after (the working tree), side by side.

Composes a lofi and a classical piece at 30 s and 120 s from real briefs, renders each with both
versions in alternation, and prints the best of ``--repeat`` runs with the per-stage split.

    .venv/bin/python bench/bench_render.py [--repeat 2] [--rev HEAD]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import weavewave
from weavewave.generators.symbolic import render as after
from weavewave.generators.symbolic.compose import compose

BRIEFS = (
    ("lofi", "mellow lofi beat for studying, soft piano"),
    ("classical", "gentle classical string piece, romantic"),
)


class _Timings(logging.Handler):
    """Catches the per-stage timings render() logs at debug level."""

    def __init__(self) -> None:
        super().__init__()
        self.last: dict = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("render "):
            self.last = dict(record.args[1])


def _load_before(rev: str):
    source = subprocess.run(
        ["git", "show", f"{rev}:src/weavewave/generators/symbolic/render.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    path = Path(tempfile.mkdtemp()) / "render_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("weavewave._render_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rev", default="HEAD")
    args = ap.parse_args()
    before = _load_before(args.rev)
    handler = _Timings()
    for name in ("weavewave.generators.symbolic.render", "weavewave._render_before"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.DEBUG)
    after.render(compose(weavewave.describe(text="warm up", text_model="lexicon", duration=5, genre="lofi")))
    variants = (
        ("before", lambda a: before.render(a)),
        ("after", lambda a: after.render(a)),
        ("after+stems", lambda a: after.render(a, stems=True)),
    )
    print(f"{'piece':<20}{'version':<13}{'wall s':>8}  x real time  stages (s)")
    for genre, text in BRIEFS:
        for duration in (30, 120):
            arrangement = compose(
                weavewave.describe(text=text, text_model="lexicon", duration=duration, genre=genre)
            )
            best: dict[str, tuple[float, dict]] = {}
            for _ in range(args.repeat):
                for label, fn in variants:
                    t0 = time.perf_counter()
                    fn(arrangement)
                    wall = time.perf_counter() - t0
                    if label not in best or wall < best[label][0]:
                        best[label] = (wall, handler.last)
            for label, _ in variants:
                wall, stages = best[label]
                split = " ".join(f"{k}={v:.2f}" for k, v in stages.items())
                piece = f"{genre} {duration}s ({len(arrangement.parts)}p)"
                print(f"{piece:<20}{label:<13}{wall:>8.2f}  {duration / wall:>10.1f}x  {split}")


if __name__ == "__main__":
    main()
