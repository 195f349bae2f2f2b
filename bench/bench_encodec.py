"""Cost of the EnCodec FAD embedder on CPU with full-size EnCodec models (random weights).

    .venv/bin/python bench/bench_encodec.py [--seconds 60] [--repeats 3] [--threads 2]

No weights can be downloaded here, so each model is built from the architecture of a published
checkpoint (transformers' default ``EncodecConfig`` is ``facebook/encodec_24khz``; the 32 kHz one is
MusicGen's codec, ``facebook/encodec_32khz``) with random weights, saved with ``save_pretrained`` and
loaded back through ``weavewave.evaluate.encoders.load_encodec``. The compute is the same as with the
real weights; the embeddings are meaningless. The audio is a weavewave piece (48 kHz stereo, as
``weavewave eval`` reads it), so the figure includes mixing to mono and resampling.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ARCHITECTURES = {
    "encodec_24khz": {},
    "encodec_32khz": dict(
        sampling_rate=32000,
        num_filters=64,
        hidden_size=128,
        upsampling_ratios=[8, 5, 4, 4],
        num_lstm_layers=2,
        codebook_size=2048,
        target_bandwidths=[2.2],
    ),
}


def _build(folder: Path, overrides: dict) -> None:
    from transformers import EncodecConfig, EncodecFeatureExtractor, EncodecModel

    cfg = EncodecConfig(**overrides)
    EncodecModel(cfg).save_pretrained(folder)
    EncodecFeatureExtractor(feature_size=cfg.audio_channels, sampling_rate=cfg.sampling_rate).save_pretrained(
        folder
    )


def main() -> None:
    import torch

    import weavewave
    from weavewave.evaluate import encoders

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the piece embedded")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    track = weavewave.generate(
        text="a lively folk tune with fiddle and guitar", duration=args.seconds, seed=1, text_model="lexicon"
    )
    audio, sr = track.audio, track.sample_rate
    seconds = audio.shape[0] / sr
    print(
        f"audio: {seconds:.1f} s at {sr} Hz, {audio.shape[1] if audio.ndim == 2 else 1} channels; "
        f"torch {torch.__version__}, {args.threads} threads"
    )
    print(
        "| model (random weights) | encoder M params | load s | embed s (median of "
        f"{args.repeats}) | s per minute of audio | x real time | rows x dim |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, overrides in ARCHITECTURES.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / name
            _build(folder, overrides)
            t0 = time.perf_counter()
            emb = encoders.EncodecEmbedder(encoders.load_encodec(folder))
            load = time.perf_counter() - t0
            params = sum(p.numel() for p in emb.loaded.model.encoder.parameters()) / 1e6
            emb.embed(audio[: sr * 2], sr)  # warm-up: first-call allocations
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                rows = emb.embed(audio, sr)
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(
                f"| {name} | {params:.1f} | {load:.2f} | {med:.2f} | {med * 60 / seconds:.2f} | "
                f"{seconds / med:.0f}x | {rows.shape[0]} x {rows.shape[1]} |"
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the whole run: {peak:.0f} MB")


if __name__ == "__main__":
    main()
