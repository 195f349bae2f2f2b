"""The genre's sound: per-part effects on and off, side by side in one process (issue 11, second step).

For each genre with effects, seeds 0-1, 30 s: the share of energy above 5 kHz (dB) and the spectral
centroid of the mix; for electronic, how much brighter the poly synth is at the end of the first build than
at its start (share above 1 kHz, dB) and the riser's level rise; and generate s / audio s, alternating off
and on. Usage: python bench/bench_effects.py [--seconds 30] [--spectrograms DIR]

``--speed`` measures only the speed (issue 11, effects speed): warm generate, effects off and on side by side
for the same pieces (the effects genres and genres without effects, ``SPEED_SEEDS``), alternating which goes
first, ``--rounds`` times; per piece the median wall time and the CPU time of this process and its renderer
processes, then the median over pieces, off against on.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

GENRES = ("lofi", "ambient", "cinematic", "electronic", "rock")
SEEDS = (0, 1)
# --speed: the effects genres and three without effects (their pieces must cost the same off and on)
SPEED_GENRES = (*GENRES, "pop", "jazz", "folk")
SPEED_SEEDS = (0, 1)


def share_above_db(x: np.ndarray, sr: int, edge_hz: float) -> float:
    mono = x.mean(axis=1)
    p = np.abs(np.fft.rfft(mono)) ** 2
    f = np.fft.rfftfreq(len(mono), 1 / sr)
    return float(10 * np.log10(p[f >= edge_hz].sum() / p.sum()))


def centroid(x: np.ndarray, sr: int) -> float:
    mono = x.mean(axis=1)
    p = np.abs(np.fft.rfft(mono)) ** 2
    f = np.fft.rfftfreq(len(mono), 1 / sr)
    return float((f * p).sum() / p.sum())


def spectrogram(path: Path, audio: np.ndarray, sr: int, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import spectrogram as spec

    f, t, s = spec(audio.mean(axis=1), sr, nperseg=2048, noverlap=1024)
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.pcolormesh(t, f, 10 * np.log10(s + 1e-12), shading="auto", vmin=-120, vmax=-30)
    ax.set_ylim(0, 16000)
    ax.set_title(title)
    ax.set_xlabel("s")
    ax.set_ylabel("Hz")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _cpu_s() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def speed_table(seconds: float, rounds: int, genres: tuple[str, ...] = SPEED_GENRES) -> None:
    """Effects off against on, warm, same pieces, alternating; prints a table and the medians."""
    from weavewave import describe
    from weavewave.generators import get_generator

    get_generator("symbolic").generate(describe(text="warm up", genre="lofi", duration=seconds))
    print("| genre | seed | wall s/s off / on | CPU s/s off / on | on / off (wall) |")
    print("|---|---|---|---|---|")
    walls: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    for genre in genres:
        for seed in SPEED_SEEDS:
            brief = describe(text="a piece of music", genre=genre, duration=seconds, seed=seed)
            wall: dict[bool, list[float]] = {False: [], True: []}
            cpu: dict[bool, list[float]] = {False: [], True: []}
            for r in range(rounds):
                for fx in (False, True) if r % 2 == 0 else (True, False):
                    generator = get_generator("symbolic", effects=fx)
                    c0, t0 = _cpu_s(), time.perf_counter()
                    generator.generate(brief)
                    wall[fx].append((time.perf_counter() - t0) / brief.duration_s)
                    cpu[fx].append((_cpu_s() - c0) / brief.duration_s)
            w = {fx: float(np.median(wall[fx])) for fx in (False, True)}
            c = {fx: float(np.median(cpu[fx])) for fx in (False, True)}
            for fx in (False, True):
                walls[fx].append(w[fx])
                cpus[fx].append(c[fx])
            print(
                f"| {genre} | {seed} | {w[False]:.4f} / {w[True]:.4f} | {c[False]:.4f} / {c[True]:.4f} | "
                f"{w[True] / w[False]:.2f} |"
            )
    for label, d in (("wall", walls), ("CPU", cpus)):
        off, on = float(np.median(d[False])), float(np.median(d[True]))
        ratios = np.array(d[True]) / np.array(d[False])
        print(
            f"\nmedian {label} s per audio s over {len(d[True])} pieces: off {off:.4f}, on {on:.4f} "
            f"({100 * (on / off - 1):+.1f} %); median per-piece on/off {np.median(ratios):.3f}"
        )


def main() -> None:
    from weavewave import describe
    from weavewave.generators import get_generator
    from weavewave.generators.symbolic.effects import RISER_INSTRUMENT, build_spans

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--spectrograms", type=Path, help="write off/on spectrogram PNGs (seed 0) here")
    ap.add_argument("--speed", action="store_true", help="only the speed, off and on side by side")
    ap.add_argument("--rounds", type=int, default=4, help="--speed: off/on pairs per piece")
    ap.add_argument("--genres", nargs="+", default=list(SPEED_GENRES), help="--speed: these genres only")
    args = ap.parse_args()
    if args.speed:
        speed_table(args.seconds, args.rounds, tuple(args.genres))
        return
    if args.spectrograms:
        args.spectrograms.mkdir(parents=True, exist_ok=True)
    get_generator("symbolic").generate(describe(text="warm up", genre="pop", duration=4.0))
    print(
        "| genre | seed | >5 kHz off / on (dB) | centroid off / on (Hz) | LUFS on | TP on | gen s/s off / on |"
    )
    print("|---|---|---|---|---|---|---|")
    speed = {False: [], True: []}
    for genre in GENRES:
        for seed in SEEDS:
            brief = describe(text="a piece of music", genre=genre, duration=args.seconds, seed=seed)
            row, tracks = {}, {}
            for fx in (False, True):
                t0 = time.perf_counter()
                track = get_generator("symbolic", stems=genre == "electronic", effects=fx).generate(brief)
                dt = (time.perf_counter() - t0) / brief.duration_s
                if genre != "electronic":  # stems cost extra passes: not a fair speed figure
                    speed[fx].append(dt)
                tracks[fx] = track
                row[fx] = (
                    share_above_db(track.audio, track.sample_rate, 5000.0),
                    centroid(track.audio, 48000),
                    dt,
                )
            on = tracks[True]
            print(
                f"| {genre} | {seed} | {row[False][0]:.1f} / {row[True][0]:.1f} | {row[False][1]:.0f} / "
                f"{row[True][1]:.0f} | {on.stats['lufs']:.2f} | {on.stats['true_peak_dbfs']:.2f} | "
                f"{row[False][2]:.3f} / {row[True][2]:.3f} |"
            )
            if genre == "electronic":
                builds = build_spans(on.arrangement)
                if builds:
                    s, e = builds[0]
                    q = (e - s) / 4
                    a, b = (
                        slice(int(s * 48000), int((s + q) * 48000)),
                        slice(int((e - q) * 48000), int(e * 48000)),
                    )
                    name = next(n for n in on.stems if n.startswith("chords:"))
                    lift = {
                        fx: share_above_db(tracks[fx].stems[name][b], 48000, 1000.0)
                        - share_above_db(tracks[fx].stems[name][a], 48000, 1000.0)
                        for fx in (False, True)
                    }
                    r = on.stems[f"drums: {RISER_INSTRUMENT}"]
                    rise = 20 * np.log10(
                        np.sqrt(np.mean(r[b] ** 2)) / max(np.sqrt(np.mean(r[a] ** 2)), 1e-12)
                    )
                    print(
                        f"|  | build {s:.1f}-{e:.1f} s | synth brighter at the build's end: off {lift[False]:+.1f} dB,"
                        f" on {lift[True]:+.1f} dB | riser rises {rise:+.1f} dB | | | |"
                    )
            if args.spectrograms and seed == 0:
                for fx in (False, True):
                    spectrogram(
                        args.spectrograms / f"{genre}-{'on' if fx else 'off'}.png",
                        tracks[fx].audio,
                        48000,
                        f"{genre} seed 0, effects {'on' if fx else 'off'}",
                    )
    off, on = np.median(speed[False]), np.median(speed[True])
    print(
        f"\nmedian generate s per audio s (no stems; {len(speed[True])} pieces): off {off:.4f}, on {on:.4f} ({100 * (on / off - 1):+.0f} %)"
    )


if __name__ == "__main__":
    main()
