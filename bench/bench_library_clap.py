"""Issue 14, third step: the library's CLAP path, measured with tiny random CLAP and CLIP weights (the path,
not the quality: random weights rank at chance) and, for the compute, the full-size LAION CLAP architecture
with random weights.

1. ``library add --clap-model`` over a labelled library rendered by the composer: CLAP embedding time per
   track (tiny weights), on tracks added before (the fill-in) as the column is new.
2. Search latency p50/p95: ``library search TEXT --clap-model`` (query through CLAP's text tower, then the
   table) and ``--image --adapter`` (photo through CLIP and the adapter, then the table), on the real rows
   and on 10,000 synthetic rows (the real rows repeated with jittered CLAP vectors).
3. Broad precision@10 for "a GENRE piece" with tiny CLAP (chance level expected: it proves the path).
4. Full-size CLAP (``laion/clap-htsat-unfused``'s configuration, random weights) on this CPU: one query's
   text embedding, and one 10 s audio window's embedding.

    python bench/bench_library_clap.py --tracks 12 --out /tmp/bench-library-clap.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from library_media import LABELS, render_labelled  # noqa: E402

QUERIES = ("a calm piece for a rainy night", "energetic music for a workout", "warm jazz with piano",
           "dark cinematic strings", "happy folk dance", "dreamy ambient pads")  # fmt: skip
REPEATS = 30
SYNTHETIC_ROWS = 10000


def _timed(run, repeats: int = REPEATS) -> dict:
    run(0)  # warm: models, the table's files
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
    }


def _adapter(lib, clip_dir: Path, clap_dir: Path, out: Path, photos: list[Path]) -> Path:
    """A tiny image adapter (the adapter core) from photos onto the first tracks' CLAP vectors."""
    from PIL import Image

    from weavewave.evaluate.neural import clip_images, load_clip
    from weavewave.generators.flow.adapters import (
        AdapterConfig,
        AdapterSettings,
        condition_space,
        model_ref,
        save_adapter,
        train_adapter,
    )

    source = clip_images(load_clip(clip_dir), [Image.open(p).convert("RGB") for p in photos]).astype(
        np.float32
    )
    rows = lib.table.to_arrow().to_pylist()[: len(photos)]
    target = np.stack([np.asarray(r["clap_vector"], np.float32) for r in rows])
    config = AdapterConfig(source="image", source_dim=source.shape[1], target_dim=target.shape[1], hidden=32,
                           source_model=model_ref(str(clip_dir)), clap_model=model_ref(str(clap_dir)),
                           source_embedder="clip-image", target_space=condition_space("clap-audio", str(clap_dir)))  # fmt: skip
    model, _ = train_adapter(source, target, config, AdapterSettings(steps=200, batch_size=4, holdout=0.25))
    return save_adapter(model, config, out)


def _synthetic(lib, target: Path):
    from weavewave.library import open_library
    from weavewave.library.track import FEATURE_DIM, TEXT_DIM

    rng = np.random.default_rng(0)
    real = lib.table.to_arrow().to_pylist()
    out = open_library(target, create=True)
    out.use_clap(lib.clap_space())
    rows = []
    for i in range(SYNTHETIC_ROWS):
        r = dict(real[i % len(real)])
        digest = f"{i:064x}"
        jitter = {}
        for name, dim in (("text_vector", TEXT_DIM), ("feature_vector", FEATURE_DIM), ("clap_vector", None)):
            v = np.asarray(r[name]) + rng.normal(0, 0.05, dim or len(r[name]))
            jitter[name] = (v / np.linalg.norm(v)).astype(np.float32).tolist()
        r.update(id=digest[-12:], content_hash=digest, path=f"/synthetic/{i}.flac", title=f"{r['title']} #{i}",
                 **jitter)  # fmt: skip
        rows.append(r)
    for b in range(0, SYNTHETIC_ROWS, 2000):
        out.write(rows[b : b + 2000])
    return out


def _full_size_clap() -> dict:
    """The LAION CLAP architecture (HTS-AT audio, RoBERTa text, 512-d space) with random weights."""
    import torch
    from transformers import ClapConfig, ClapModel

    torch.manual_seed(0)
    model = ClapModel(ClapConfig()).eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    ids = torch.randint(5, 1000, (1, 16))
    mel = torch.randn(1, 1, 1001, 64)  # one 10 s window's log-mel frames, as ClapFeatureExtractor makes them
    with torch.no_grad():
        text = _timed(
            lambda i: model.get_text_features(input_ids=ids, attention_mask=torch.ones_like(ids)), 10
        )
        audio = _timed(
            lambda i: model.get_audio_features(input_features=mel, is_longer=torch.tensor([[False]])), 5
        )
    return {"parameters_m": round(params, 1), "text_query": text, "audio_window_10s": audio,
            "threads": torch.get_num_threads()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=12, help="labelled tracks to render and index")
    parser.add_argument("--out", default="bench-library-clap.json")
    parser.add_argument(
        "--no-full-size", action="store_true", help="skip the full-size CLAP timing (minutes)"
    )
    args = parser.parse_args()
    import skimage

    from tiny_models import build_clap, build_clip
    from weavewave.library import open_library
    from weavewave.library.indexer import add_paths
    from weavewave.library.search import Query, search

    work = Path(tempfile.mkdtemp(prefix="bench-library-clap-"))
    try:
        clap, clip = build_clap(work / "clap"), build_clip(work / "clip")
        labelled = render_labelled(work / "music", args.tracks, duration=10.0)
        lib = open_library(work / "lib", create=True)
        add_paths(lib, [work / "music"], text_model="lexicon")
        started = time.perf_counter()
        report = add_paths(lib, [work / "music"], clap_model=str(clap))
        took = time.perf_counter() - started
        result: dict = {"tracks": args.tracks, "clap_fill_in": {
            "tracks": report.clap_embedded, "seconds": round(took, 2),
            "ms_per_track": round(took / max(1, report.clap_embedded) * 1000, 1)}}  # fmt: skip
        print("fill-in", result["clap_fill_in"], flush=True)
        photos = [Path(skimage.__file__).parent / "data" / n for n in ("astronaut.png", "coffee.png", "chelsea.png",
                                                                    "camera.png")]  # fmt: skip
        adapter = _adapter(lib, clip, clap, work / "adapter", photos)
        by_title = {x.title: x for x in labelled}
        precision = {}
        for genre, *_ in LABELS:
            hits = search(lib, Query(text=f"a {genre} piece", clap_model=str(clap), limit=10))
            precision[genre] = round(
                sum(by_title[h.row["title"]].genre == genre for h in hits) / max(1, len(hits)), 2
            )
        result["broad_precision_at_10_tiny_clap"] = precision
        result["latency"] = {}
        big = _synthetic(lib, work / "lib-10k")
        for name, library in ((f"{args.tracks} rows", lib), (f"{SYNTHETIC_ROWS} rows", big)):
            result["latency"][name] = {
                "text --clap-model": _timed(lambda i, b=library: search(b, Query(text=QUERIES[i % 6], clap_model=str(clap)))),
                "--image --adapter": _timed(lambda i, b=library: search(b, Query(adapter=str(adapter), images=[str(photos[i % 4])]))),
                "text (caption embeddings)": _timed(lambda i, b=library: search(b, Query(text=QUERIES[i % 6]))),
            }  # fmt: skip
            print(name, result["latency"][name], flush=True)
        if not args.no_full_size:
            result["full_size_clap_cpu"] = _full_size_clap()
            print("full-size CLAP", result["full_size_clap_cpu"], flush=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
