"""The annotation workflow's throughput, and its reviewer's precision and recall on injected errors.

    .venv/bin/python bench/bench_annotate.py [--tracks 8] [--seconds 20] [--segment 10]

Builds tracks of known tempo and key (tests/annotate_data.py: a triad pulsing on the beat, with clicks),
gives each a user caption (a sidecar .txt), and injects a wrong tempo or a wrong key into half of them.
The reviewer runs with ``review="reject"``; a segment counts as flagged when it is rejected.
precision = flagged and injected / flagged; recall = flagged and injected / injected (per segment).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

TEMPI = (
    72.0,
    84.0,
    90.0,
    100.0,
    110.0,
    120.0,
    128.0,
    140.0,
)  # with 3 keys: no two tracks alike (same bytes are one track)
# Wrong claims: a tempo a third off (never half or double time, which the reviewer accepts), or another key.
WRONG_TEMPO_FACTOR = 1.33
WRONG_KEY = {"A minor": "E major", "C major": "F# minor", "D major": "Bb minor"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--segment", default="10")
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.gettempdir() + "/numba-bench-annotate")

    from annotate_data import TRIADS, build_music_folder
    from weavewave.train.annotate import annotate

    keys = list(TRIADS)
    tracks = {
        f"t{i:02d}": (TEMPI[i % len(TEMPI)], keys[i % len(keys)], args.seconds) for i in range(args.tracks)
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        music = build_music_folder(root / "music", tracks)
        injected = set()
        for i, (name, (tempo, key, _)) in enumerate(tracks.items()):
            said_tempo, said_key = tempo, key
            if i % 2 == 1:  # every other track: a wrong claim, tempo and key in turn
                injected.add(f"{name}.wav")
                if i % 4 == 1:
                    said_tempo = round(tempo * WRONG_TEMPO_FACTOR)
                else:
                    said_key = WRONG_KEY[key]
            (music / f"{name}.txt").write_text(f"a piece in {said_key} at {said_tempo:g} BPM")
        annotate([music], root / "warm", segment=args.segment)  # numba compiles once, outside the timing
        started = time.perf_counter()
        summary = annotate([music], root / "ds", segment=args.segment, review="reject")
        seconds = time.perf_counter() - started
        rows = [json.loads(line) for line in (root / "ds" / "data" / "train.jsonl").read_text().splitlines()]
        rejected = [json.loads(line) for line in (root / "ds" / "rejected.jsonl").read_text().splitlines()]
    segments = rows + rejected
    flagged = [r for r in segments if r["review"] == "rejected"]
    truly = [r for r in segments if r["source"] in injected]
    hit = [r for r in flagged if r["source"] in injected]
    result = {
        "tracks": args.tracks,
        "track_seconds": args.seconds,
        "segments": len(segments),
        "seconds": round(seconds, 2),
        "segments_per_min": round(len(segments) / seconds * 60, 1),
        "injected_segments": len(truly),
        "flagged_segments": len(flagged),
        "rejection_rate": round(len(flagged) / len(segments), 3),
        "precision": round(len(hit) / len(flagged), 3) if flagged else None,
        "recall": round(len(hit) / len(truly), 3) if truly else None,
        "false_alarms": [(r["source"], r["review_notes"]) for r in flagged if r["source"] not in injected],
        "missed": [
            (r["source"], r["caption"], r["tempo_bpm"], r["key"]) for r in truly if r["review"] != "rejected"
        ],
        "kept": summary.kept,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
