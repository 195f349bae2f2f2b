"""Long form: wall time and peak memory of ``generate`` for pieces of 1 to 10 minutes (linear growth).

    .venv/bin/python bench/bench_longform.py [--minutes 1 2.5 5 10] [--loop]

Each piece is made in a fresh process (compose + render + master, through the section timeline), so the
peak RSS is that piece's alone. Prints a table plus a least-squares line through (minutes, seconds) and
(minutes, MB), with the largest relative deviation from the line: small deviations mean linear growth.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, resource, sys, time
minutes, loop = float(sys.argv[1]), sys.argv[2] == "1"
from weavewave.api import describe
from weavewave.generators import get_generator
t0 = time.perf_counter()
brief = describe(text="a hopeful cinematic journey with strings, piano and drums", duration=minutes * 60,
                 tempo=100, seed=1, text_model="lexicon", loop=loop)
t1 = time.perf_counter()
track = get_generator("symbolic").generate(brief)
t2 = time.perf_counter()
print(json.dumps({"sections": len(brief.sections), "describe_s": t1 - t0, "generate_s": t2 - t1,
                  "audio_s": track.duration_s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 2.5, 5.0, 10.0])
    ap.add_argument("--loop", action="store_true")
    args = ap.parse_args()
    rows = []
    print("| piece | sections | generate s | x real time | peak RSS MB |")
    print("|---|---|---|---|---|")
    for m in args.minutes:
        r = subprocess.run(
            [sys.executable, "-c", CHILD, str(m), "1" if args.loop else "0"],
            capture_output=True,
            text=True,
            check=True,
        )
        out = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append((m, out["generate_s"], out["peak_rss_mb"]))
        print(
            f"| {m:g} min | {out['sections']} | {out['generate_s']:.1f} | {out['audio_s'] / out['generate_s']:.0f}x | "
            f"{out['peak_rss_mb']:.0f} |",
            flush=True,
        )
    mins = np.asarray([r[0] for r in rows])
    for k, name in ((1, "time"), (2, "peak RSS")):
        y = np.asarray([r[k] for r in rows])
        slope, intercept = np.polyfit(mins, y, 1)
        dev = np.max(np.abs(y - (slope * mins + intercept)) / y)
        unit = "s" if k == 1 else "MB"
        print(
            f"{name}: {intercept:.1f} {unit} + {slope:.2f} {unit} per minute; largest deviation from the line "
            f"{dev:.1%}"
        )


if __name__ == "__main__":
    main()
