"""Analysing plus restyling a 60 s reference tune, warm (in process): wall time and peak memory.

    .venv/bin/python bench/bench_restyle.py [--repeats 3]

The reference is Ode to Joy over triads rendered at 128 BPM through weavewave's renderer (60 s). Each run
is the whole job: decode, analyse (tempo, key, chords, sections, basic-pitch melody), fuse, refine,
compose, render and master, as ``weavewave generate --audio ... --instruction ...`` does. The first run
warms the JIT and the model and is reported apart. Peak memory is the process's maximum resident set.
Target (issue #3): at most 10 s warm.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

INSTRUCTIONS = ("as jazz", "as a gentle lullaby on music box")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import soundfile as sf

    from reference_audio import render_to_wav, tune_arrangement
    from weavewave import api
    from weavewave.perceive.audio import perceive_audio

    tmp = Path(tempfile.mkdtemp(prefix="bench-restyle-"))
    ref = render_to_wav(tune_arrangement(tempo=128.0, repeats=2), tmp / "reference.wav")
    info = sf.info(str(ref))
    print(f"reference: {info.frames / info.samplerate:.1f} s, {info.samplerate} Hz")

    t0 = time.perf_counter()
    api.generate(audio=ref, instruction=INSTRUCTIONS[0])
    cold = time.perf_counter() - t0
    rows = []
    for instruction in INSTRUCTIONS:
        analyse, total, out_len = [], [], 0.0
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            perceive_audio(ref)
            analyse.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            track = api.generate(audio=ref, instruction=instruction)
            total.append(time.perf_counter() - t0)
            out_len = track.duration_s
        rows.append((instruction, statistics.median(analyse), statistics.median(total), out_len))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"first run (cold JIT and model load): {cold:.2f} s")
    print("| instruction | analyse only (s) | analyse + restyle + render (s) | output length (s) |")
    print("|---|---:|---:|---:|")
    for instruction, a, t, n in rows:
        print(f"| {instruction} | {a:.2f} | {t:.2f} | {n:.1f} |")
    print(f"peak memory (max RSS of the process): {peak_mib:.0f} MiB; median of {args.repeats} runs each")


if __name__ == "__main__":
    main()
