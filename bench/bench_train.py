"""MusicGen LoRA training on the tiny random MusicGen of the tests, over a synthetic tone dataset.

    .venv/bin/python bench/bench_train.py [--steps 60] [--rows 24] [--threads 2] [--model DIR]

Reports optimizer steps per second, peak memory (RSS on the CPU, allocated on a GPU), the training loss
over the first and the last 10 % of steps, and the validation loss before and after. ``--model`` trains
another MusicGen folder (e.g. a full-size musicgen-small architecture with random weights on a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each tone row")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: no contention on a shared CPU)"
    )
    parser.add_argument("--model", help="a MusicGen folder (default: the tests' tiny random one)")
    args = parser.parse_args()

    import torch

    from tiny_models import build_musicgen
    from train_data import build_tone_dataset
    from weavewave.train.musicgen import TrainConfig, train_musicgen

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = args.model or str(build_musicgen(root / "model"))
        data = build_tone_dataset(root / "data", rows=args.rows, seconds=args.seconds)
        cfg = TrainConfig(data=str(data), model=model, out=str(root / "adapter"), max_steps=args.steps,
                          learning_rate=args.lr, batch_size=args.batch_size, grad_accum=1, val_fraction=0.25,
                          eval_every=max(1, args.steps // 4), save_every=0, rank=8, alpha=16)  # fmt: skip
        r = train_musicgen(cfg)
    result = {
        "model": "tiny random MusicGen (tests/tiny_models.py)" if not args.model else args.model,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "threads": args.threads,
        "steps": r.steps,
        "batch_size": args.batch_size,
        "train_rows": r.train_rows,
        "val_rows": r.val_rows,
        "steps_per_s": r.steps_per_s,
        "peak_memory_mb": r.peak_memory_mb,
        "train_loss_first_10pct": round(r.first_loss or 0, 4),
        "train_loss_last_10pct": round(r.last_loss or 0, 4),
        "val_loss_before": round(r.val_loss_before or 0, 4),
        "val_loss_after": round(r.val_loss_after or 0, 4),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
