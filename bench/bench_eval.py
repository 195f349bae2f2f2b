"""Cost of `weavewave eval` per metric, FAD between two sets, and the symbolic generator's quality baseline.

    .venv/bin/python bench/bench_eval.py [--tracks 100] [--seconds 30] [--cache out/bench-eval]

1. Makes two sets of ``--tracks`` pieces from one sweep of briefs that covers every genre, twelve tonics,
   four modes, slow to fast tempi and the three meters: set A with seeds 0.., set B with other seeds.
   The pieces are cached in ``--cache`` and reused by later runs (generation is not what is measured).
2. Times each metric on every track of set A, after one warm-up track (numba compiles librosa's kernels
   on first use; that one-off cost is reported apart).
3. Times FAD and FAD∞ (``features`` embedder) between set A and set B, embedding included.
4. Prints the quality baseline of set A: tempo Acc1/Acc2, key MIREX, loudness spread, melody distance
   to the folk and chorale corpora.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

TONICS = ("C", "G", "D", "A", "E", "B", "F#", "Db", "Ab", "Eb", "Bb", "F")
MODES = ("major", "minor", "dorian", "mixolydian")
METERS = ("4/4", "3/4", "6/8")
TEMPO_POINTS = (0.1, 0.5, 0.9)  # where in the genre's tempo range


def sweep(n: int) -> list[dict]:
    """``n`` brief settings: genres cycle fastest, then meters, tempi, tonics (by fifths) and modes."""
    from weavewave.music.styles import GENRES

    genres = list(GENRES)
    out = []
    for i in range(n):
        genre = genres[i % len(genres)]
        lo, hi = GENRES[genre].tempo_range
        out.append(
            dict(
                genre=genre,
                meter=METERS[(i // 2) % 3],
                tempo=round(lo + (hi - lo) * TEMPO_POINTS[(i // 3) % 3]),
                key=f"{TONICS[(i * 5) % 12]} {MODES[(i // 7) % 4]}",
            )
        )
    return out


def make_set(folder: Path, settings: list[dict], seconds: float, seed0: int) -> list[Path]:
    import weavewave
    from weavewave.export.track import save_track

    paths, made, t0 = [], 0, time.perf_counter()
    for i, s in enumerate(settings):
        p = folder / f"{i:03d}"
        if not (p / "brief.json").exists():
            track = weavewave.generate(
                text="a piece", duration=seconds, seed=seed0 + i, text_model="lexicon", **s
            )
            save_track(track, p, force=True)
            made += 1
        paths.append(p)
    if made:
        print(f"generated {made} pieces into {folder} in {time.perf_counter() - t0:.0f} s", flush=True)
    return paths


def time_metrics(folder: Path) -> dict[str, float]:
    """Seconds each metric takes on one track (audio already loaded)."""
    import pretty_midi

    from weavewave.brief import MusicBrief
    from weavewave.dsp.loudness import clipped_runs, integrated_lufs, longest_silence_s, true_peak_dbfs
    from weavewave.evaluate.adherence import TEMPO_PRIOR_BPM, section_agreement
    from weavewave.evaluate.collect import load_audio
    from weavewave.evaluate.embed import FeatureEmbedder
    from weavewave.evaluate.plots import save_pictures, track_view
    from weavewave.evaluate.symbolic import midi_adherence
    from weavewave.music import analysis as analyze

    t: dict[str, float] = {}

    def clock(name, fn):  # noqa: ANN001, ANN202
        s = time.perf_counter()
        r = fn()
        t[name] = t.get(name, 0.0) + time.perf_counter() - s
        return r

    audio, sr = clock("load audio", lambda: load_audio(folder / "music.wav"))
    brief = MusicBrief.load(folder / "brief.json")
    y = clock("resample to 22.05 kHz mono", lambda: analyze.analysis_signal(audio, sr))
    s = analyze.ANALYSIS_SR
    clock("tempo (Acc1/Acc2)", lambda: analyze.estimate_tempo(y, s, start_bpm=TEMPO_PRIOR_BPM))
    clock("key (exact/MIREX)", lambda: analyze.estimate_key(y, s))
    clock("loudness (LUFS + true peak)", lambda: (integrated_lufs(audio, sr), true_peak_dbfs(audio, sr)))
    clock("silence + clipping flags", lambda: (longest_silence_s(audio, sr), clipped_runs(audio)))
    clock("section boundaries", lambda: section_agreement(y, s, brief))
    pm = clock(
        "MIDI metrics + melody distance",
        lambda: midi_adherence(pretty_midi.PrettyMIDI(str(folder / "music.mid")), brief),
    )
    clock("features embedding (FAD)", lambda: FeatureEmbedder().embed(audio, sr))
    del pm
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        clock(
            "pictures (6 PNGs)",
            lambda: save_pictures(
                track_view("t", audio, sr, brief, {}, pretty_midi.PrettyMIDI(str(folder / "music.mid"))),
                Path(tmp),
            ),
        )
    return t


def main() -> None:
    import numpy as np

    from weavewave.evaluate.collect import load_audio
    from weavewave.evaluate.embed import FeatureEmbedder
    from weavewave.evaluate.fad import fad, fad_infinity
    from weavewave.evaluate.report import evaluate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--cache", default="out/bench-eval")
    args = ap.parse_args()
    cache = Path(args.cache)
    settings = sweep(args.tracks)
    set_a = make_set(cache / "A", settings, args.seconds, 0)
    set_b = make_set(cache / "B", settings, args.seconds, 10_000)

    t0 = time.perf_counter()
    time_metrics(set_a[0])
    warmup = time.perf_counter() - t0
    totals: dict[str, list[float]] = defaultdict(list)
    for p in set_a:
        for k, v in time_metrics(p).items():
            totals[k].append(v)
    n = len(set_a)
    print(
        f"\n## Per metric, {n} tracks of {args.seconds:g} s (warm-up of the first track, not counted: "
        f"{warmup:.1f} s)\n"
    )
    print("| metric | total s | median ms / track | x real time |")
    print("|---|---|---|---|")
    grand = 0.0
    for k, v in totals.items():
        total = sum(v)
        grand += total
        print(f"| {k} | {total:.1f} | {1000 * statistics.median(v):.0f} | {n * args.seconds / total:.0f}x |")
    print(
        f"| **all of the above** | {grand:.1f} | {1000 * grand / n:.0f} | {n * args.seconds / grand:.0f}x |"
    )

    emb = FeatureEmbedder()
    t0 = time.perf_counter()
    ea = np.vstack([emb.embed(*load_audio(p / "music.wav")) for p in set_a])
    eb = np.vstack([emb.embed(*load_audio(p / "music.wav")) for p in set_b])
    t1 = time.perf_counter()
    d = fad(ea, eb)
    t2 = time.perf_counter()
    dinf = fad_infinity(ea, eb)
    t3 = time.perf_counter()
    print(
        f"\n## FAD between two sets of {n} (features embedder, {ea.shape[0]} + {eb.shape[0]} frames of "
        f"{ea.shape[1]} dims)\n"
    )
    print("| step | s |\n|---|---|")
    print(
        f"| load + embed {2 * n} tracks | {t1 - t0:.1f} |\n| FAD | {t2 - t1:.2f} |\n| FAD∞ (15 subset fits) | "
        f"{t3 - t2:.2f} |\n| total | {t3 - t0:.1f} |"
    )
    print(f"\nfad[features] A vs B = {d:.3f}, fad_inf[features] = {dinf if dinf is None else round(dinf, 3)}")
    h = ea.shape[0] // 2
    print(f"fad[features] first half of A vs second half of A (different briefs) = {fad(ea[:h], ea[h:]):.3f}")

    t0 = time.perf_counter()
    res = evaluate(set_a, plots=False)
    print(
        f"\n## Baseline of the symbolic generator ({n} briefs; `evaluate` without pictures took "
        f"{time.perf_counter() - t0:.0f} s)\n"
    )
    s = res["summary"]
    for k, v in s.items():
        print(f"- {k}: {v}")
    by_genre: dict[str, list[dict]] = defaultdict(list)
    by_meter: dict[str, list[dict]] = defaultdict(list)
    for st, tr in zip(settings, res["tracks"], strict=True):
        by_genre[st["genre"]].append(tr["metrics"])
        by_meter[st["meter"]].append(tr["metrics"])
    print(
        "\n| group | n | tempo Acc1 | tempo Acc2 | key MIREX | key exact | LUFS min..max | melody↔folk JSD |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, group in [*by_genre.items(), *by_meter.items()]:

        def mean(k, g=group):  # noqa: ANN001, ANN202
            vals = [float(m[k]) for m in g if m.get(k) is not None]
            return statistics.fmean(vals) if vals else float("nan")

        lufs = [m["lufs"] for m in group if m.get("lufs") is not None]
        print(
            f"| {name} | {len(group)} | {mean('tempo_acc1'):.2f} | {mean('tempo_acc2'):.2f} | "
            f"{mean('key_mirex'):.2f} | {mean('key_exact'):.2f} | {min(lufs):.1f}..{max(lufs):.1f} | "
            f"{mean('melody_distance[folk]'):.3f} |"
        )


if __name__ == "__main__":
    main()
