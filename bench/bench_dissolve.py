"""Cross-dissolve detection over every pair of test photographs and three dissolve lengths.

    .venv/bin/python bench/bench_dissolve.py

For each of scikit-image's eight test photographs as the first shot, a 160x120 25 fps clip of four
panning and zooming shots (2, 2.8, 2.4, 1.8 s) whose second shot dissolves into the third over 8, 15 or
30 frames. Prints, per length, the dissolves found within two frames of the true middle (precision and
recall), the timing errors in frames, and false hard cuts. The photo pairs differ a lot in contrast
(hubble_deep_field and retina are mostly black), so this is harder than the test clips.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

FPS = 25
LENGTHS = (8, 15, 30)


def main() -> None:
    from video_media import PHOTOS, Shot, make_video
    from weavewave.perceive.video import analyse_video

    print(
        "| dissolve | clips | precision | recall | error frames (median, max) | cut precision | cut recall |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"
        for n in LENGTHS:
            found = hits = truths = cuts_found = cut_hits = cut_truths = 0
            errors: list[float] = []
            for first in range(len(PHOTOS)):
                shots = [Shot(PHOTOS[(first + k) % len(PHOTOS)], f) for k, f in enumerate((50, 70, 60, 45))]
                truth = make_video(path, shots, dissolve_after=1, dissolve_frames=n)
                a = analyse_video(path, with_audio=False)
                (middle,) = truth["dissolves"]
                truths += 1
                found += len(a.dissolves)
                near = [t for t in a.dissolves if abs(t - middle) <= 2 / FPS + 1e-6]
                hits += min(1, len(near))
                errors += [abs(t - middle) * FPS for t in a.dissolves]
                cut_truths += len(truth["cuts"])
                cuts_found += len(a.cuts)
                cut_hits += sum(any(abs(c - t) <= 1 / FPS + 1e-6 for c in a.cuts) for t in truth["cuts"])
            errors.sort()
            median = errors[len(errors) // 2] if errors else float("nan")
            print(
                f"| {n} frames ({n / FPS:.2f} s) | {truths} | {hits / max(found, 1):.2f} | {hits / truths:.2f} | "
                f"{median:.2f}, {max(errors, default=float('nan')):.2f} | {cut_hits / max(cuts_found, 1):.2f} | "
                f"{cut_hits / cut_truths:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
