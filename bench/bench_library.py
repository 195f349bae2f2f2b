"""Issue 14: the music library's numbers.

1. Indexing throughput (tracks/min, offline embeddings) and the peak memory of ``weavewave library add``
   over a labelled library rendered by the composer (known genre, tempo, key and instruments in the tags).
2. Query latency p50/p95 at 1,000 and 10,000 rows (synthetic rows made from the real ones, vectors jittered):
   broad (query text embedded and matched), targeted (filters plus broad), like (feature vector); exact scan
   and, at 10,000, the IVF-PQ index.
3. Retrieval quality on the labelled library: precision of targeted filters against the labels, and broad
   recall@10 for genre queries.
4. Effect on generation: pieces made with a reference keep its tempo (within 2 %) and key (MIREX).

    python bench/bench_library.py --tracks 60 --out /tmp/bench-library.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
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
REPEATS = 40  # timed queries per kind and size


def index(folder: Path, lib_dir: Path) -> dict:
    """``weavewave library add`` in a child process: wall time, tracks/min and the child's peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "weavewave.cli", "library", "add", str(folder), "--library",
                          str(lib_dir), "--json", "-q"], capture_output=True, text=True, env=env, check=True)  # fmt: skip
    wall = time.perf_counter() - started
    report = json.loads(out.stdout)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"tracks": report["added"], "skipped": len(report["skipped"]), "analysis_s": round(report["seconds"], 1),
            "wall_s": round(wall, 1), "tracks_per_min": round(report["added"] / report["seconds"] * 60, 1),
            "peak_rss_mb": round(peak_mb)}  # fmt: skip


def synthetic(lib, size: int, target: Path):
    """A library of ``size`` rows: the real rows repeated with jittered vectors, tempo and ids."""
    from weavewave.library import open_library
    from weavewave.library.track import FEATURE_DIM, TEXT_DIM

    rng = np.random.default_rng(size)
    real = lib.rows(columns=tuple(c for c in _columns()))
    out = open_library(target, create=True)
    rows = []
    for i in range(size):
        r = dict(real[i % len(real)])
        tv = np.asarray(r["text_vector"]) + rng.normal(0, 0.05, TEXT_DIM)
        fv = np.asarray(r["feature_vector"]) + rng.normal(0, 0.05, FEATURE_DIM)
        digest = f"{i:064x}"
        r.update(id=digest[-12:], content_hash=digest, path=f"/synthetic/{i}.flac", title=f"{r['title']} #{i}",
                 tempo_bpm=float(r["tempo_bpm"] * rng.uniform(0.9, 1.1)),
                 text_vector=(tv / np.linalg.norm(tv)).astype(np.float32).tolist(),
                 feature_vector=(fv / np.linalg.norm(fv)).astype(np.float32).tolist())  # fmt: skip
        rows.append(r)
    for b in range(0, size, 2000):
        out.write(rows[b : b + 2000])
    return out


def _columns():
    from weavewave.library.store import table_schema

    return table_schema().names


def latency(lib) -> dict:
    from weavewave.library.search import Query, search

    first = lib.rows(columns=("feature_vector", "text_vector"), limit=1)[0]
    like = np.asarray(first["feature_vector"], dtype=np.float32)
    like_text = np.asarray(first["text_vector"], dtype=np.float32)
    kinds = {
        "broad": lambda q: search(lib, Query(text=q)),
        "targeted": lambda q: search(lib, Query(text=q, genre="jazz", tempo=(80.0, 140.0))),
        "filters only": lambda q: search(lib, Query(genre="rock", key="minor")),
        # --like after its file is found in the library: the nearest musical-feature vectors
        "like": lambda q: lib.nearest(like, column="feature_vector", where=None, limit=40),
        # the table alone: a broad query whose text is already embedded
        "vector only": lambda q: lib.nearest(like_text, column="text_vector", where=None, limit=40),
    }
    out = {}
    for kind, run in kinds.items():
        run(QUERIES[0])  # warm: the model, the table's files
        times = []
        for i in range(REPEATS):
            started = time.perf_counter()
            run(QUERIES[i % len(QUERIES)])
            times.append((time.perf_counter() - started) * 1000)
        out[kind] = {
            "p50_ms": round(float(np.percentile(times, 50)), 1),
            "p95_ms": round(float(np.percentile(times, 95)), 1),
        }
    return out


def quality(lib, labelled) -> dict:
    from weavewave.library.search import Query, search

    by_title = {x.title: x for x in labelled}
    checks = {}
    for genre, _tempo, _key, instruments in LABELS:
        hits = search(lib, Query(genre=genre, limit=1000))
        checks[f"genre={genre}"] = _precision(hits, by_title, lambda x, g=genre: x.genre == g)
        name = instruments[0]
        hits = search(lib, Query(instrument=name, limit=1000))
        checks[f"instrument={name}"] = _precision(hits, by_title, lambda x, n=name: n in x.instruments)
    hits = search(lib, Query(key="minor", limit=1000))
    checks["key=minor"] = _precision(hits, by_title, lambda x: x.key.endswith("minor"))
    hits = search(lib, Query(tempo=(100.0, 130.0), limit=1000))
    checks["tempo=100-130 (vs stored)"] = _precision(hits, by_title, lambda x, h=None: True, stored=True)
    checks["tempo=100-130 (vs label)"] = _precision(hits, by_title, lambda x: 100.0 <= x.tempo <= 130.0)
    recall = {}
    for genre, *_ in LABELS:
        hits = search(lib, Query(text=f"a {genre} piece", limit=10))
        recall[genre] = round(
            sum(by_title[h.row["title"]].genre == genre for h in hits) / max(1, len(hits)), 2
        )
    return {"filter_precision": checks, "broad_precision_at_10_by_genre": recall,
            "broad_precision_at_10_mean": round(float(np.mean(list(recall.values()))), 3)}  # fmt: skip


def _precision(hits, by_title, ok, stored: bool = False) -> dict:
    if stored:
        good = sum(100.0 <= h.row["tempo_bpm"] <= 130.0 for h in hits)
    else:
        good = sum(ok(by_title[h.row["title"]]) for h in hits)
    return {"hits": len(hits), "precision": round(good / len(hits), 3) if hits else None}


def generation(lib, count: int) -> dict:
    """Pieces made with a reference: tempo kept within 2 %, key by MIREX score."""
    import mir_eval

    from weavewave import describe, generate
    from weavewave.perceive.audio import analyse_audio

    if count < 1:
        return {"pieces": 0}
    rows = lib.rows(limit=count)
    tempo_ok, brief_ok, mirex, details = 0, 0, [], []
    for i, row in enumerate(rows):
        brief = describe(text="a new piece", reference_track=[row["id"]], library=str(lib.folder), duration=12,
                         seed=i, text_model="lexicon")  # fmt: skip
        track = generate(brief=brief)
        heard = analyse_audio(track.audio.mean(axis=1), track.sample_rate, transcribe=False)
        err = abs(heard.tempo_bpm - row["tempo_bpm"]) / row["tempo_bpm"]
        tempo_ok += err <= 0.02
        brief_ok += abs(brief.tempo_bpm - row["tempo_bpm"]) / row["tempo_bpm"] <= 0.02
        score = mir_eval.key.weighted_score(row["key"].replace(" ", " "), str(heard.key))
        mirex.append(score)
        details.append({"reference": row["title"], "tempo": row["tempo_bpm"], "heard_tempo": heard.tempo_bpm,
                        "key": row["key"], "brief_key": str(brief.key), "heard_key": str(heard.key)})  # fmt: skip
    return {"pieces": len(rows), "brief_tempo_within_2pct": brief_ok, "heard_tempo_within_2pct": tempo_ok, "key_mirex_mean": round(float(np.mean(mirex)), 3),
            "details": details}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=60, help="labelled tracks to render and index")
    parser.add_argument("--pieces", type=int, default=6, help="pieces generated with a reference")
    parser.add_argument("--out", default="bench-library.json")
    args = parser.parse_args()
    from weavewave.library import open_library

    work = Path(tempfile.mkdtemp(prefix="bench-library-"))
    try:
        started = time.perf_counter()
        labelled = render_labelled(work / "music", args.tracks, duration=10.0)
        result: dict = {"render_s": round(time.perf_counter() - started, 1)}
        result["indexing"] = index(work / "music", work / "lib")
        print("indexing", result["indexing"], flush=True)
        lib = open_library(work / "lib")
        result["quality"] = quality(lib, labelled)
        print("quality", json.dumps(result["quality"]), flush=True)
        result["latency"] = {}
        for size in (1000, 10000):
            big = synthetic(lib, size, work / f"lib-{size}")
            result["latency"][f"{size} exact"] = latency(big)
            print(size, "exact", result["latency"][f"{size} exact"], flush=True)
            if size >= 10000:
                started = time.perf_counter()
                big.ensure_index(force=True)
                result["latency"][f"{size} IVF-PQ"] = latency(big)
                result["latency"][f"{size} IVF-PQ"]["index_build_s"] = round(time.perf_counter() - started, 1)
                print(size, "IVF-PQ", result["latency"][f"{size} IVF-PQ"], flush=True)
        result["generation"] = generation(lib, args.pieces)
        print("generation", {k: v for k, v in result["generation"].items() if k != "details"}, flush=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
