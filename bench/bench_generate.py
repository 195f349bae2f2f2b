"""Real-time factor of the offline path: warm (in process) and cold (a fresh CLI process).

    .venv/bin/python bench/bench_generate.py [--repeats 3]

Prints one table; copy it into docs/BENCHMARKS.md with the command that made it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROMPT = "a rainy night in the city, lonely and calm, lo-fi hip hop with a soft electric piano"


def warm(duration: float, repeats: int) -> dict[str, float]:
    from weavewave import describe
    from weavewave.generators.symbolic.compose import compose
    from weavewave.generators.symbolic.render import render

    describe(text=PROMPT, duration=duration)  # load models once: this is the warm number
    times: dict[str, list[float]] = {"describe": [], "compose": [], "render": [], "total": []}
    for i in range(repeats):
        t0 = time.perf_counter()
        brief = describe(text=PROMPT, duration=duration, seed=i)
        t1 = time.perf_counter()
        arrangement = compose(brief)
        t2 = time.perf_counter()
        render(arrangement)
        t3 = time.perf_counter()
        for k, v in (("describe", t1 - t0), ("compose", t2 - t1), ("render", t3 - t2), ("total", t3 - t0)):
            times[k].append(v)
    return {k: statistics.median(v) for k, v in times.items()}


def cold(duration: float, repeats: int, text_model: str) -> float:
    walls = []
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run(
                [
                    os.path.join(os.path.dirname(sys.executable), "weavewave"),
                    "generate",
                    "--text",
                    PROMPT,
                    "--duration",
                    str(duration),
                    "--seed",
                    str(i),
                    "--text-model",
                    text_model,
                    "-q",
                    "--out",
                    os.path.join(tmp, "o"),
                ],
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"# weavewave bench_generate, median of {args.repeats}, {os.cpu_count()} CPUs")
    print("| run | piece | describe s | compose s | render+master s | total s | x real time |")
    print("|---|---|---|---|---|---|---|")
    for duration in (30.0, 120.0):
        w = warm(duration, args.repeats)
        print(
            f"| warm (in process) | {duration:g} s | {w['describe']:.2f} | {w['compose']:.2f} | {w['render']:.2f} "
            f"| {w['total']:.2f} | {duration / w['total']:.0f}x |"
        )
    for model in ("minilm", "lexicon"):
        for duration in (30.0, 120.0):
            c = cold(duration, args.repeats, model)
            print(
                f"| cold CLI, --text-model {model} | {duration:g} s | | | | {c:.2f} | {duration / c:.0f}x |"
            )


if __name__ == "__main__":
    main()
