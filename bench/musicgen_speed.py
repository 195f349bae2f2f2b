"""MusicGen decoding speed: stock ``model.generate`` against weavewave's fast path, side by side in one run.

The model is the full-size musicgen-small architecture (T5-base text encoder, 24-layer 1024-wide decoder,
4 codebooks of 2048 codes, the 32 kHz EnCodec) with random weights: the arithmetic per step is the same
as with the real weights, so the timings are too. Nothing is downloaded.

For each dtype, batch size and length it generates with classifier-free guidance 3 and top-k 250
sampling (as the real model is used), stock then fast, and prints milliseconds of compute per second of
audio, the real-time factor (audio seconds per wall second) and peak memory. Before timing, it checks
correctness: with greedy decoding the fast path must give exactly the stock codes, and sampling from the
same seed it must draw exactly the stock codes.

    .venv/bin/python bench/musicgen_speed.py --seconds 10 30 --batch 1 8            # GPU
    .venv/bin/python bench/musicgen_speed.py --seconds 0.5 --batch 1 8 --dtype fp32 bf16 --threads 1  # CPU

``--stereo`` builds the musicgen-stereo-small architecture instead: the same model with 8 codebooks (4 per
channel, left and right interleaved) and ``audio_channels=2``; EnCodec decodes each channel apart.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time


def musicgen_small(dtype, device, stereo=False):
    import torch
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    t5 = T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
    codec = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        hidden_size=128,
        num_filters=64,
        num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 4],
        codebook_size=2048,
        target_bandwidths=[2.2],
        use_causal_conv=False,
        norm_type="weight_norm",
        pad_mode="reflect",
        compress=2,
        num_lstm_layers=2,
        normalize=False,
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=2048,
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        ffn_dim=4096,
        num_codebooks=8 if stereo else 4,
        audio_channels=2 if stereo else 1,
        max_position_embeddings=2048,
        pad_token_id=2048,
        bos_token_id=2048,
        activation_function="gelu",
    )
    cfg = MusicgenConfig(text_encoder=t5.to_dict(), audio_encoder=codec.to_dict(), decoder=decoder.to_dict())
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration(cfg).eval()
    for layer in model.audio_encoder.quantizer.layers:  # zero codebooks would decode every code alike
        layer.codebook.embed.normal_()
        layer.codebook.embed_avg.copy_(layer.codebook.embed)
    model.generation_config.decoder_start_token_id = 2048
    model.generation_config.pad_token_id = 2048
    model.generation_config.bos_token_id = 2048
    return model.to(device=device, dtype=dtype)


def text_inputs(batch, device):
    import torch

    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 32000, (batch, 24), generator=g)
    ids[:, -1] = 1  # </s>
    return ids.to(device), torch.ones_like(ids).to(device)


def sync(device):
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_memory_mib(device):
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (Linux: KiB)


def reset_peak(device):
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def stock_codes(model, ids, mask, frames, **kw):
    """Codes [shape=(batch, K, frames)] from stock generate: its codec calls are intercepted to read them
    (a stereo model decodes left, the even codebooks, then right, the odd ones)."""
    import torch

    seen = []
    original = model.audio_encoder.decode

    def spy(codes, *args, **kwargs):
        seen.append(codes[0])
        return original(codes, *args, **kwargs)

    model.audio_encoder.decode = spy
    try:
        with torch.inference_mode():
            audio = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=frames + 3, **kw)
    finally:
        model.audio_encoder.decode = original
    codes = torch.stack(seen, dim=2)  # (batch, K / channels, channels, frames)
    return codes.reshape(codes.shape[0], -1, codes.shape[-1]), audio


def run_stock(model, ids, mask, frames):
    import torch

    with torch.inference_mode():
        return model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=frames + 3,
            do_sample=True,
            top_k=250,
            guidance_scale=3.0,
        )


def run_fast(fast, ids, mask, frames, seed=0):
    import torch

    g = torch.Generator(device=ids.device).manual_seed(seed)
    return fast.generate_audio(ids, mask, frames, guidance_scale=3.0, greedy=False, top_k=250, generator=g)


def timed(fn, device):
    reset_peak(device)
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, peak_memory_mib(device), out


def main() -> None:
    import torch

    from weavewave.generators.musicgen.fast import FastMusicgen

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, nargs="+", default=[10.0, 30.0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--dtype", nargs="+", default=["bf16"], choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--check-seconds", type=float, default=1.0, help="length of the greedy correctness check")
    ap.add_argument("--compile", action="store_true", help="torch.compile the fast step (CUDA graphs on GPU)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each, alternating; the median is kept")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    ap.add_argument(
        "--stereo", action="store_true", help="the musicgen-stereo-small architecture (8 codebooks)"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    device = args.device
    name = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu"
    print(
        f"device {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"{'stereo' if args.stereo else 'mono'}"
    )
    rows = []
    for dname in args.dtype:
        model = musicgen_small(dtypes[dname], device, stereo=args.stereo)
        n_params = sum(p.numel() for p in model.parameters()) / 1e6
        fast = FastMusicgen(model, static_shapes=device.startswith("cuda"), compile=args.compile)
        # correctness: greedy codes, with guidance, must match exactly
        frames = int(round(args.check_seconds * 50))
        ids, mask = text_inputs(2, device)
        stock, _ = stock_codes(model, ids, mask, frames, do_sample=False, guidance_scale=3.0)
        mine = fast.generate_codes(ids, mask, frames, guidance_scale=3.0, greedy=True)
        same = bool((stock == mine).all())
        print(
            f"[{dname}] {n_params:.1f}M parameters; greedy check over {frames} frames x 2 prompts: "
            f"{'identical codes' if same else f'{int((stock != mine).sum())} codes differ'}"
        )
        # sampling: drawn from the same global random state, the fast path draws the stock codes
        torch.manual_seed(0)
        stock_s, _ = stock_codes(model, ids, mask, frames, do_sample=True, top_k=250, guidance_scale=3.0)
        torch.manual_seed(0)
        mine_s = fast.generate_codes(ids, mask, frames, guidance_scale=3.0, greedy=False, top_k=250)
        same_s = bool((stock_s == mine_s).all())
        print(
            f"[{dname}] sampled check (top-k 250, same seed): "
            f"{'identical codes' if same_s else f'{int((stock_s != mine_s).sum())} codes differ'}"
        )
        rows.append(
            {
                "dtype": dname,
                "stereo": args.stereo,
                "check_frames": frames,
                "greedy_identical": same,
                "sampled_identical": same_s,
            }
        )
        run_fast(fast, *text_inputs(1, device), 10)  # warm-up (and compilation)
        for seconds in args.seconds:
            frames = int(round(seconds * 50))
            for batch in args.batch:
                ids, mask = text_inputs(batch, device)
                stock_runs, fast_runs = [], []
                for _ in range(args.repeats):  # alternate, so a noisy moment hits both
                    stock_runs.append(
                        timed(
                            lambda ids=ids, mask=mask, f=frames, m=model: run_stock(m, ids, mask, f), device
                        )[:2]
                    )
                    fast_runs.append(
                        timed(
                            lambda ids=ids, mask=mask, f=frames, fz=fast: run_fast(fz, ids, mask, f), device
                        )[:2]
                    )
                t_stock, m_stock = statistics.median(t for t, _ in stock_runs), max(m for _, m in stock_runs)
                t_fast, m_fast = statistics.median(t for t, _ in fast_runs), max(m for _, m in fast_runs)
                audio = seconds * batch
                row = {
                    "dtype": dname,
                    "stereo": args.stereo,
                    "seconds": seconds,
                    "batch": batch,
                    "stock_ms_per_audio_s": 1000 * t_stock / audio,
                    "fast_ms_per_audio_s": 1000 * t_fast / audio,
                    "stock_rtf": audio / t_stock,
                    "fast_rtf": audio / t_fast,
                    "speedup": t_stock / t_fast,
                    "stock_peak_mib": m_stock,
                    "fast_peak_mib": m_fast,
                }
                rows.append(row)
                print(
                    f"[{dname}] {seconds:g} s x batch {batch}: stock {row['stock_ms_per_audio_s']:.0f} ms/s "
                    f"({row['stock_rtf']:.3f}x real time, peak {m_stock:.0f} MiB) | fast "
                    f"{row['fast_ms_per_audio_s']:.0f} ms/s ({row['fast_rtf']:.3f}x, peak {m_fast:.0f} MiB) | "
                    f"speed-up {row['speedup']:.2f}x",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
