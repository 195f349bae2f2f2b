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
        moved = code_distance(model, str(root / "adapter"), data)
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
    result.update(moved)
    print(json.dumps(result, indent=2))


def _histogram(codes, vocab: int):
    import numpy as np

    # one histogram per codebook, codes [shape=(codebooks, frames)] -> [shape=(codebooks, vocab)]
    return np.stack([np.bincount(row, minlength=vocab)[:vocab] / max(1, row.size) for row in codes])


def code_distance(model: str, adapter: str, data: Path, frames: int = 50, draws: int = 4) -> dict:
    """How far generations move toward the training data: the total-variation distance between the code
    histograms (per codebook, averaged) of the training audio of one caption and of what the model samples
    from that caption, before and after the adapter. 0 = the same distribution, 1 = disjoint."""
    import numpy as np
    import torch

    from weavewave.generators.musicgen.generator import load_musicgen
    from weavewave.io.audio import read_audio
    from weavewave.neural.models import ModelCache
    from weavewave.train.dataset import load_rows
    from weavewave.train.musicgen import encode_audio

    cache = ModelCache()
    base = load_musicgen(model, device="cpu", cache=cache)
    tuned = load_musicgen(model, device="cpu", cache=cache, adapter=adapter)
    vocab = int(base.model.config.decoder.vocab_size)
    out = {}
    for caption in sorted({row["caption"] for row in load_rows(data)}):
        rows = [row for row in load_rows(data) if row["caption"] == caption]
        train = np.concatenate(
            [encode_audio(base.model, read_audio(row["audio"])[0].T[:1], "cpu").numpy() for row in rows],
            axis=1,
        )
        target = _histogram(train, vocab)
        for name, b in (("before", base), ("after", tuned)):
            inputs = b.tokenizer([caption] * draws, return_tensors="pt", padding=True)
            seen = []
            decode = b.model.audio_encoder.decode

            def spy(codes, *args, _decode=decode, _seen=seen, **kwargs):
                _seen.append(
                    codes
                )  # generate's codes, the delay pattern already undone: (1, batch, K, frames)
                return _decode(codes, *args, **kwargs)

            b.model.audio_encoder.decode = spy
            with torch.random.fork_rng(), torch.inference_mode():
                torch.manual_seed(0)
                b.model.generate(**inputs, do_sample=True, guidance_scale=None, max_new_tokens=frames + 3)
            b.model.audio_encoder.decode = decode
            valid = np.concatenate(list(seen[0][0].numpy()), axis=1)
            tv = 0.5 * np.abs(_histogram(valid, vocab) - target).sum(axis=1).mean()
            out.setdefault(f"code_tv_{name}", []).append(round(float(tv), 4))
    return {k: round(float(np.mean(v)), 4) for k, v in out.items()}


if __name__ == "__main__":
    main()
