"""Flow backend speed (issue 16): training time per step and peak memory, generation real-time factor by
step count.

Two sizes, both with random weights (the arithmetic is the same as with trained ones):

- ``tiny``: the test config (a tiny ``AutoencoderOobleck`` at 16 kHz, a 64-wide 2-block velocity model):
  ``train_flow`` end to end on a tone dataset (encode once, then steps), and ``--backend flow`` on a 10 s
  brief.
- ``full``: the default ``weavewave train flow`` model (256 wide, 6 blocks, 10 s windows) over Stable Audio
  Open's VAE architecture (64 latent channels, 2048 samples a frame at 44.1 kHz): training steps on
  random latents (the VAE encodes a dataset once, so it is not part of a step), and sampling plus the
  full-size VAE decoding 10 s of audio.

    .venv/bin/python bench/bench_flow.py --threads 1 --json /tmp/flow.json
    .venv/bin/python bench/bench_flow.py --sizes tiny --steps 4 8 16 32
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SECONDS = 10.0
FULL_VAE = {  # Stable Audio Open 1.0's vae/config.json
    "encoder_hidden_size": 128,
    "downsampling_ratios": [2, 4, 4, 8, 8],
    "channel_multiples": [1, 2, 4, 8, 16],
    "decoder_channels": 128,
    "decoder_input_channels": 64,
    "audio_channels": 2,
    "sampling_rate": 44100,
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tiny(root: Path, steps_list: list[int], train_steps: int) -> dict:
    from flow_models import build_vae, write_tone_dataset
    from weavewave.generators.flow.train import TrainSettings, train_flow

    data, _ = write_tone_dataset(root / "data", per_class=6)
    vae = build_vae(root / "vae")
    settings = TrainSettings(
        steps=train_steps, batch_size=16, learning_rate=2e-3, warmup_steps=20, window_s=0.128, hidden=64,
        layers=2, heads=2, log_every=10, checkpoint_every=10**6, device="cpu",
    )  # fmt: skip
    t0 = time.perf_counter()
    result = train_flow(data, vae, root / "model", settings)
    total = time.perf_counter() - t0
    # generation goes through the sampler with one of the dataset's kind of vectors (the model is
    # vector-conditioned), then the VAE decoder, as the backend does after embedding a caption
    out = {
        "train": {
            "steps": train_steps,
            "ms_per_step": round(result.seconds_per_step * 1000, 2),
            "total_s_with_encoding": round(total, 2),
            "peak_rss_mb": round(peak_mb(), 1),
            "final_loss": round(result.final_loss, 4),
        }
    }
    out["generate"] = rtf_by_steps(root / "model", steps_list)
    return out


def rtf_by_steps(model_dir: Path, steps_list: list[int]) -> list[dict]:
    """Sampling (guided) + VAE decoding of SECONDS of audio, per step count: real-time factor."""
    import numpy as np

    from weavewave.generators.flow.model import load_model
    from weavewave.generators.flow.sampling import sample_latents
    from weavewave.generators.flow.vae import load_vae

    model, config = load_model(model_dir)
    vae = load_vae(config.vae, device="cpu")
    frames = int(np.ceil(SECONDS * config.frame_rate))
    cond = np.zeros(config.cond_dim, np.float32)
    cond[0] = 1.0
    rows = []
    for steps in steps_list:
        t0 = time.perf_counter()
        z, windows = sample_latents(model, cond, frames, steps=steps, guidance=3.0, seed=0)
        sampled = time.perf_counter() - t0
        vae.decode(z.T)
        total = time.perf_counter() - t0
        rows.append(
            {
                "steps": steps,
                "windows": len(windows),
                "sample_s": round(sampled, 3),
                "decode_s": round(total - sampled, 3),
                "rtf": round(SECONDS / total, 2),
            }
        )
        print(f"  {steps:3d} steps: {rows[-1]}", flush=True)
    return rows


def full(root: Path, steps_list: list[int], train_steps: int, batch: int) -> dict:
    import torch
    from diffusers import AutoencoderOobleck

    from weavewave.generators.flow.model import FlowConfig, build_model, save_model
    from weavewave.generators.flow.train import EMA, TrainSettings

    d = TrainSettings()
    torch.manual_seed(0)
    AutoencoderOobleck(**FULL_VAE).save_pretrained(root / "vae")
    hop = 2 * 4 * 4 * 8 * 8
    frames = round(d.window_s * 44100 / hop)
    config = FlowConfig(
        latent_channels=64, frames=frames, cond_dim=512, hidden=d.hidden, layers=d.layers, heads=d.heads,
        condition="clap", vae=str(root / "vae"), sample_rate=44100, hop=hop,
    )  # fmt: skip
    model = build_model(config)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=d.learning_rate)
    ema = EMA(model, d.ema_decay)
    x1 = torch.randn(batch, frames, 64)
    c = torch.randn(batch, 512)
    times = []
    for i in range(train_steps + 1):
        t0 = time.perf_counter()
        x0 = torch.randn_like(x1)
        t = torch.rand(batch)
        xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
        loss = torch.nn.functional.mse_loss(model(xt, t, c), x1 - x0)
        loss.backward()
        opt.step()
        opt.zero_grad()
        ema.update(model, i)
        if i:  # the first step allocates
            times.append(time.perf_counter() - t0)
    out = {
        "train": {
            "params_m": round(params / 1e6, 2),
            "frames": frames,
            "batch": batch,
            "ms_per_step": round(1000 * sum(times) / len(times), 1),
            "peak_rss_mb": round(peak_mb(), 1),
        }
    }
    save_model(model.eval(), config, root / "model")
    out["generate"] = rtf_by_steps(root / "model", steps_list)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["tiny", "full"], choices=("tiny", "full"))
    ap.add_argument("--steps", nargs="+", type=int, default=[4, 8, 16, 32])
    ap.add_argument("--train-steps", type=int, default=50)
    ap.add_argument("--full-train-steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4, help="batch of the full-size training steps")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "seconds": SECONDS,
    }
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(f"{size}:", flush=True)
            root = Path(tmp) / size
            root.mkdir()
            if size == "tiny":
                results[size] = tiny(root, args.steps, args.train_steps)
            else:
                results[size] = full(root, args.steps, args.full_train_steps, args.batch)
            print(json.dumps(results[size]["train"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
