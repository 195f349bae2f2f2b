"""``annotate --images``: what pairing photos with segments costs, and whether the moods it pairs agree.

    .venv/bin/python bench/bench_pairing.py [--seconds 20] [--segment 10] [--text-model auto]

Tracks of known tempo and key (tests/annotate_data.py), one per mood quadrant the describer can write
(major/minor x fast/slow), are annotated with every photograph scikit-image ships as ``--images``. For each
segment the paired photo's quadrant (the signs of the image perceiver's valence and arousal) is compared
with the segment's (the describer's valence and arousal): agreement, against the chance of a random photo.
Costs: reading and embedding the photos (once per run), and pairing per segment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

# (tempo, key) per quadrant: mode sets valence, tempo (and the pulse's energy) arousal
TRACKS = {
    "happy": (150.0, "C major"),
    "calm": (60.0, "D major"),
    "tense": (150.0, "A minor"),
    "sad": (60.0, "A minor"),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--segment", default="10")
    parser.add_argument("--text-model", default="auto", choices=("auto", "minilm", "lexicon"))
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.gettempdir() + "/numba-bench-pairing")

    import skimage

    from annotate_data import build_music_folder
    from weavewave.library.track import EMBEDDER_MINILM, EMBEDDER_WORDS, text_embedder
    from weavewave.perceive.image import perceive_image
    from weavewave.train.annotate import annotate
    from weavewave.train.pairing import IMAGE_SUFFIXES, best_images, load_images

    data = Path(skimage.__file__).parent / "data"
    embedder = {"minilm": EMBEDDER_MINILM, "lexicon": EMBEDDER_WORDS}.get(args.text_model) or text_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photos = root / "photos"
        photos.mkdir()
        for p in sorted(data.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("multipage"):
                shutil.copy(p, photos / p.name)
        music = build_music_folder(
            root / "music", {k: (t, key, args.seconds) for k, (t, key) in TRACKS.items()}
        )
        annotate([music], root / "warm", segment=args.segment)  # numba compiles once, outside the timing
        load_images(photos, embedder)  # the sentence model loads once, outside the timing
        started = time.perf_counter()
        candidates, skipped = load_images(photos, embedder)
        read_s = time.perf_counter() - started
        captions = [
            f"caption {i}: a calm, warm piece in C major at {60 + i} BPM; quiet, soft" for i in range(200)
        ]
        started = time.perf_counter()
        best_images(captions, candidates, embedder)
        pair_s = time.perf_counter() - started
        summary = annotate(
            [music], root / "ds", segment=args.segment, images=photos, text_model=args.text_model
        )
        rows = [json.loads(line) for line in (root / "ds" / "data" / "train.jsonl").read_text().splitlines()]
        quadrant = {}
        for c in candidates:
            pr = perceive_image(c.path).proposals
            quadrant[c.path.name] = (pr["valence"].value > 0, pr["arousal"].value > 0)
    agree, chance = 0, 0.0
    for row in rows:
        prov = json.loads(row["provenance"])
        want = (prov["valence"] > 0, prov["arousal"] > 0)
        agree += quadrant[row["image_source"]] == want
        chance += sum(q == want for q in quadrant.values()) / len(quadrant)
    result = {
        "embedder": embedder,
        "photos": len(candidates),
        "photos_skipped": len(skipped),
        "segments": len(rows),
        "photos_per_quadrant": {
            str(q): sum(v == q for v in quadrant.values()) for q in sorted(set(quadrant.values()))
        },
        "read_and_embed_ms_per_photo": round(1000 * read_s / max(1, len(candidates)), 1),
        "pairing_ms_per_segment": round(1000 * pair_s / len(captions), 2),
        "quadrant_agreement": round(agree / len(rows), 3),
        "chance_agreement": round(chance / len(rows), 3),
        "pairs": {r["source"]: r["image_source"] for r in rows},
        "annotate_seconds": summary.seconds,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
