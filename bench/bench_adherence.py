"""How well the offline generator keeps to what was asked, measured from its own audio.

    .venv/bin/python bench/bench_adherence.py

For every genre, in a major and a minor key and at a genre-typical tempo: tempo Acc1 (within 4 %) and
Acc2 (also x2, x1/2, x3, x1/3), the MIREX weighted key score, integrated loudness, true peak and length
error. Prints a table and the averages.
"""

from __future__ import annotations

import os
import statistics

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import weavewave
from weavewave.dsp.loudness import integrated_lufs, true_peak_dbfs
from weavewave.music.analysis import (
    estimate_key,
    estimate_tempo,
    mirex_key_score,
    reference_key,
    tempo_matches,
)
from weavewave.music.styles import GENRES

KEY_PAIRS = (("C major", "A minor"), ("Eb major", "F# minor"))
DURATION = 30.0


def main() -> None:
    rows = []
    print(
        "| genre | key | tempo | est. tempo | Acc1 | Acc2 | est. key | MIREX | LUFS | true peak | length err s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, (name, style) in enumerate(GENRES.items()):
        lo, hi = style.tempo_range
        for j, key in enumerate(KEY_PAIRS[i % 2]):
            tempo = round(lo + (hi - lo) * (0.3 + 0.4 * j))
            track = weavewave.generate(
                text="a piece",
                genre=name,
                key=key,
                tempo=tempo,
                duration=DURATION,
                seed=i * 10 + j,
                text_model="lexicon",
            )
            bpm = estimate_tempo(track.audio, track.sample_rate, start_bpm=tempo)
            tonic, mode, _ = estimate_key(track.audio, track.sample_rate)
            score = mirex_key_score((tonic, mode), reference_key(track.brief.key.tonic, track.brief.key.mode))
            lufs = integrated_lufs(track.audio, track.sample_rate)
            tp = true_peak_dbfs(track.audio, track.sample_rate)
            acc1, acc2 = tempo_matches(bpm, tempo), tempo_matches(bpm, tempo, allow_octave=True)
            err = abs(track.duration_s - DURATION)
            rows.append((acc1, acc2, score, lufs, tp, err))
            est_key = f"{('C', 'Db', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B')[tonic]} {mode}"
            print(
                f"| {name} | {key} | {tempo} | {bpm:.1f} | {int(acc1)} | {int(acc2)} | {est_key} | {score:.1f} "
                f"| {lufs:.2f} | {tp:.2f} | {err:.4f} |"
            )
    n = len(rows)
    print(
        f"\n{n} pieces of {DURATION:g} s: tempo Acc1 {sum(r[0] for r in rows) / n:.2f}, "
        f"Acc2 {sum(r[1] for r in rows) / n:.2f}; key MIREX mean {statistics.mean(r[2] for r in rows):.2f}, "
        f"exact {sum(r[2] == 1.0 for r in rows) / n:.2f}; loudness {min(r[3] for r in rows):.2f} to "
        f"{max(r[3] for r in rows):.2f} LUFS; true peak max {max(r[4] for r in rows):.2f} dBFS; "
        f"length error max {max(r[5] for r in rows):.4f} s"
    )


if __name__ == "__main__":
    main()
