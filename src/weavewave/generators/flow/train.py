"""``weavewave train flow``: train a flow-matching model on a dataset's audio and captions.

1. The dataset's audio is encoded to VAE latents once and cached in ``OUT/latents/`` (keyed by the VAE and
   the files' names, sizes and times), and its captions are embedded once (CLAP text space with
   ``clap_model``, else the shipped sentence model; or the vectors the dataset gives).
2. Training (with accelerate: CPU, one GPU, or several with ``accelerate launch``): random windows of
   ``window_s`` seconds of normalised latents, ``t ~ U(0, 1)``, the straight path from noise, the velocity
   regressed with mean squared error; the condition is dropped to the null embedding with probability
   ``cond_drop`` (classifier-free guidance needs both). AdamW, gradients clipped, an EMA of the weights.
3. Every ``checkpoint_every`` steps a checkpoint (model, optimizer and random states through accelerate,
   plus the EMA) goes to ``OUT/checkpoints/step-N``; ``resume=True`` continues from the latest. The loss
   goes to ``OUT/loss.jsonl`` as it trains and to ``OUT/loss.png`` at the end; with ``val_every`` the EMA
   model writes audio samples to ``OUT/samples/step-N/``.
4. The EMA weights are saved as ``OUT/config.json`` + ``OUT/model.safetensors``: ``--backend flow --model
   OUT`` loads them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.generators.flow.data import Example, read_dataset
from weavewave.generators.flow.settings import TrainSettings

CHECKPOINTS = "checkpoints"
LATENTS = "latents"
LOSS_LOG = "loss.jsonl"
LOSS_PLOT = "loss.png"
SAMPLES = "samples"
TRAINER_STATE = "trainer.json"
EMA_WEIGHTS = "ema.safetensors"
# Checkpoints kept on disk (older ones are removed): enough to fall back one if the last is cut short.
KEEP_CHECKPOINTS = 2
GRAD_CLIP = 1.0
# Latent statistics: a channel with no spread would divide by zero.
MIN_LATENT_STD = 1e-4
VAL_CAPTIONS = 4

ProgressFn = Callable[[float, str], None]


@dataclass
class TrainResult:
    """What a training run made and measured."""

    out: Path
    steps: int
    losses: list[tuple[int, float]] = field(default_factory=list)
    seconds_per_step: float = 0.0
    peak_memory_mb: float = 0.0
    resumed_from: int = 0

    @property
    def final_loss(self) -> float:
        return self.losses[-1][1] if self.losses else float("nan")

    def __repr__(self) -> str:
        return (
            f"TrainResult({self.out}, {self.steps} steps, loss {self.final_loss:.4f}, "
            f"{self.seconds_per_step * 1000:.1f} ms/step)"
        )


# ======================================================================================================
# Data: latents and conditions, made once
# ======================================================================================================
def _dataset_key(examples: list[Example], vae_ref: str) -> str:
    h = hashlib.sha256(vae_ref.encode())
    for e in examples:
        st = e.path.stat()
        h.update(f"{e.path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def encode_dataset(examples: list[Example], vae: Any, cache_dir: Path) -> list[np.ndarray]:
    """Each example's latent [shape=(frames, channels)], encoded once and cached in ``cache_dir``."""
    from safetensors.numpy import load_file, save_file

    from weavewave.dsp.signal import resample
    from weavewave.io.audio import read_audio

    path = cache_dir / f"{_dataset_key(examples, vae.ref)}.safetensors"
    if path.is_file():
        stored = load_file(str(path))
        return [stored[str(i)] for i in range(len(examples))]
    latents = []
    for e in examples:
        audio, sr = read_audio(e.path)
        if sr != vae.sample_rate:
            audio = resample(audio.astype(np.float64), sr, vae.sample_rate).astype(np.float32)
        latents.append(np.ascontiguousarray(vae.encode(audio.T).T))
    cache_dir.mkdir(parents=True, exist_ok=True)
    save_file({str(i): z for i, z in enumerate(latents)}, str(path))
    return latents


def embed_conditions(
    examples: list[Example], condition: str, clap_model: str | None
) -> tuple[np.ndarray, str]:
    """Condition vectors [shape=(n, dim)] for the examples and the kind used (see :class:`TrainSettings`)."""
    given = all(e.embedding for e in examples)
    if condition == "auto":
        condition = "vectors" if given else "clap" if clap_model else "minilm"
    if condition == "vectors":
        if not given:
            raise BadInputError(
                "--condition vectors needs an embedding on every row of the dataset's metadata"
            )
        return np.asarray([e.embedding for e in examples], np.float32), condition
    if condition == "clap-audio":
        if not clap_model:
            raise BadInputError("--condition clap-audio needs CLAP weights: pass --clap-model ID_OR_DIR")
        from weavewave.evaluate.neural import clap_audio, load_clap
        from weavewave.io.audio import read_audio

        clap = load_clap(clap_model)
        vectors = [clap_audio(clap, *read_audio(e.path)) for e in examples]
        return np.stack(vectors).astype(np.float32), condition
    from weavewave.generators.flow.condition import caption_embedder

    embed, _, _ = caption_embedder(condition, clap_model)
    return np.asarray(embed([e.caption for e in examples]), np.float32), condition


# ======================================================================================================
# EMA
# ======================================================================================================
class EMA:
    """An exponential moving average of a model's floating-point weights (kept in fp32)."""

    def __init__(self, model: Any, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().float().clone() for k, v in model.state_dict().items()}

    def update(self, model: Any, step: int) -> None:
        import torch

        # warm up: early in training the average would be dominated by the random start
        d = min(self.decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for k, v in model.state_dict().items():
                self.shadow[k].mul_(d).add_(v.detach().float(), alpha=1 - d)

    def copy_to(self, model: Any) -> None:
        model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in self.shadow.items()})

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.contiguous().cpu() for k, v in self.shadow.items()}, str(path))

    def load(self, path: Path) -> None:
        from safetensors.torch import load_file

        self.shadow = {k: v.float() for k, v in load_file(str(path)).items()}


# ======================================================================================================
# Training
# ======================================================================================================
def _latest_checkpoint(out: Path) -> Path | None:
    found = sorted((out / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    found = [p for p in found if (p / TRAINER_STATE).is_file()]
    return found[-1] if found else None


def _batch(
    latents: list[np.ndarray], conds: np.ndarray, frames: int, size: int, rng: np.random.Generator
) -> tuple:
    idx = rng.integers(0, len(latents), size)
    x = np.empty((size, frames, latents[0].shape[1]), np.float32)
    for j, i in enumerate(idx):
        start = rng.integers(0, latents[i].shape[0] - frames + 1)
        x[j] = latents[i][start : start + frames]
    return x, conds[idx]


def train_flow(
    data: str | Path,
    vae: str | Path,
    out: str | Path,
    settings: TrainSettings | None = None,
    *,
    resume: bool = False,
    progress: ProgressFn | None = None,
) -> TrainResult:
    """Train a flow model on the ``audiofolder`` dataset ``data`` in the latent of ``vae``; write it to ``out``.

    Parameters
    ----------
    data : dataset folder (see :mod:`weavewave.generators.flow.data`).
    vae : ``AutoencoderOobleck`` hub id or folder.
    out : output folder: the model (``config.json`` + ``model.safetensors``), checkpoints, loss log and plot.
    settings : see :class:`TrainSettings`.
    resume : continue from the latest checkpoint in ``out`` (refused when there is none).

    Returns
    -------
    TrainResult : the loss log, time per step and peak memory.
    """
    s = settings or TrainSettings()
    s.check()
    read_dataset(data)  # a bad dataset is refused before the heavy imports
    import torch
    from accelerate import Accelerator

    from weavewave.generators.flow.model import build_model, save_model

    report = progress or (lambda fraction, message: None)
    out = Path(out).expanduser()
    checkpoint = _latest_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        raise BadInputError(f"nothing to resume: {out} has no checkpoint; drop --resume to start afresh")
    cpu = s.device == "cpu" or (s.device == "auto" and not torch.cuda.is_available())
    accelerator = Accelerator(cpu=cpu, mixed_precision=s.mixed_precision)
    prepared = prepare_data(data, vae, out, s, device=str(accelerator.device), report=report)
    config = prepared.config
    torch.manual_seed(s.seed)
    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=s.learning_rate, weight_decay=s.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / max(1, s.warmup_steps))
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    ema = EMA(accelerator.unwrap_model(model), s.ema_decay)
    start = 0
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        ema.load(checkpoint / EMA_WEIGHTS)
        start = int(json.loads((checkpoint / TRAINER_STATE).read_text())["step"])
    log_path = out / LOSS_LOG
    losses = _read_log(log_path, upto=start)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        log_path.write_text("".join(json.dumps({"step": st, "loss": lo}) + "\n" for st, lo in losses))
        (out / "train_settings.json").write_text(json.dumps(asdict(s), indent=2) + "\n")
    if torch.cuda.is_available() and not cpu:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    _loop(accelerator, model, optimizer, scheduler, ema, prepared, s, start, losses, report)
    elapsed = time.perf_counter() - t0
    accelerator.wait_for_everyone()
    final = build_model(config)
    ema.copy_to(final)
    if accelerator.is_main_process:
        save_model(final, config, out)
        plot_losses(losses, out / LOSS_PLOT)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() and not cpu else _rss_peak_mb()
    )
    return TrainResult(
        out=out,
        steps=s.steps,
        losses=losses,
        seconds_per_step=elapsed / max(1, s.steps - start),
        peak_memory_mb=peak,
        resumed_from=start,
    )


@dataclass
class Prepared:
    """The encoded dataset: normalised latents, condition vectors, and the model's config."""

    examples: list[Example]
    vae: Any
    latents: list[np.ndarray]  # each [shape=(frames, channels)], normalised
    conds: np.ndarray  # [shape=(n, cond_dim)]
    config: Any
    out: Path


def prepare_data(
    data: str | Path, vae: str | Path, out: Path, s: TrainSettings, *, device: str, report: ProgressFn
) -> Prepared:
    """Read the dataset, encode its audio (cached) and its captions, and make the model's config."""
    from weavewave.generators.flow.model import FlowConfig
    from weavewave.generators.flow.vae import load_vae

    examples = read_dataset(data)
    report(0.0, f"encoding {len(examples)} files")
    v = load_vae(str(vae), device=device)
    latents = encode_dataset(examples, v, out / LATENTS)
    conds, kind = embed_conditions(examples, s.condition, s.clap_model)
    frames = max(1, int(round(s.window_s * v.sample_rate / v.hop)))
    short = [e.path.name for e, z in zip(examples, latents, strict=True) if z.shape[0] < frames]
    if short:
        raise BadInputError(
            f"{len(short)} file(s) are shorter than the {s.window_s:g} s window (e.g. {short[0]}): use a "
            "shorter --window or longer clips"
        )
    stacked = np.concatenate(latents)
    mean, std = stacked.mean(axis=0), np.maximum(stacked.std(axis=0), MIN_LATENT_STD)
    config = FlowConfig(
        latent_channels=v.latent_channels, frames=frames, cond_dim=int(conds.shape[1]), hidden=s.hidden,
        layers=s.layers, heads=s.heads, condition=kind, clap_model=s.clap_model if kind.startswith("clap") else None,
        vae=str(vae), sample_rate=v.sample_rate, hop=v.hop, audio_channels=v.audio_channels,
        latent_mean=[float(x) for x in mean], latent_std=[float(x) for x in std],
    )  # fmt: skip
    normed = [((z - mean) / std).astype(np.float32) for z in latents]
    return Prepared(examples, v, normed, conds, config, out)


def _loop(
    accelerator: Any,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    ema: EMA,
    p: Prepared,
    s: TrainSettings,
    start: int,
    losses: list[tuple[int, float]],
    report: ProgressFn,
) -> None:
    """Steps ``start`` to ``s.steps``: flow-matching loss, optimizer and EMA steps, logs, samples, checkpoints."""
    import torch

    device = accelerator.device
    rng = np.random.default_rng([s.seed, accelerator.process_index, start])
    log_path = p.out / LOSS_LOG
    inner = accelerator.unwrap_model(model)
    model.train()
    running: list[float] = []
    for step in range(start, s.steps):
        x1_np, c_np = _batch(p.latents, p.conds, p.config.frames, s.batch_size, rng)
        x1 = torch.from_numpy(x1_np).to(device)
        c = torch.from_numpy(c_np).to(device)
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        x0 = torch.randn(x1.shape, generator=gen).to(device)
        t = torch.rand(x1.shape[0], generator=gen).to(device)
        drop = (torch.rand(x1.shape[0], generator=gen) < s.cond_drop).to(device)
        xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
        with accelerator.autocast():
            pred = model(xt, t, inner.drop_condition(c, drop))
            loss = torch.nn.functional.mse_loss(pred.float(), (x1 - x0).float())
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        ema.update(inner, step)
        running.append(float(loss.detach()))
        done = step + 1
        if done % s.log_every == 0 or done == s.steps:
            mean_loss = float(np.mean(running))
            running.clear()
            losses.append((done, mean_loss))
            if accelerator.is_main_process:
                with log_path.open("a") as f:
                    f.write(json.dumps({"step": done, "loss": mean_loss}) + "\n")
            report(done / s.steps, f"step {done}/{s.steps}: loss {mean_loss:.4f}")
        if s.val_every and done % s.val_every == 0 and accelerator.is_main_process:
            write_samples(ema, p.config, p.vae, p.examples, p.conds, p.out / SAMPLES / f"step-{done}", s)
        if done % s.checkpoint_every == 0 and done < s.steps:
            _save_checkpoint(accelerator, ema, p.out, done)


def _rss_peak_mb() -> float:
    """The process's peak resident memory (CPU training), in MiB."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _read_log(path: Path, *, upto: int) -> list[tuple[int, float]]:
    """The loss log's entries up to step ``upto`` (a resumed run rewrites what came after)."""
    if upto == 0 or not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(int(r["step"]), float(r["loss"])) for r in rows if int(r["step"]) <= upto]


def _save_checkpoint(accelerator: Any, ema: EMA, out: Path, step: int) -> None:
    import shutil

    folder = out / CHECKPOINTS / f"step-{step}"
    accelerator.save_state(str(folder))
    if accelerator.is_main_process:
        ema.save(folder / EMA_WEIGHTS)
        (folder / TRAINER_STATE).write_text(json.dumps({"step": step}) + "\n")  # written last: complete
        old = sorted((out / CHECKPOINTS).glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
        for p in old[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(p, ignore_errors=True)


def write_samples(
    ema: EMA,
    config: Any,
    vae: Any,
    examples: list[Example],
    conds: np.ndarray,
    folder: Path,
    s: TrainSettings,
) -> list[Path]:
    """Audio from the EMA weights for the first few captions, written as WAV at the VAE's rate."""
    import soundfile as sf

    from weavewave.generators.flow.model import build_model
    from weavewave.generators.flow.sampling import sample_latents

    model = build_model(config).to(vae.device)
    ema.copy_to(model)
    model.eval()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(min(VAL_CAPTIONS, len(examples))):
        z, _ = sample_latents(
            model, conds[i], config.frames, steps=s.val_steps, guidance=3.0, seed=s.seed + i
        )
        z = (
            z.T * np.asarray(config.latent_std, np.float32)[:, None]
            + np.asarray(config.latent_mean, np.float32)[:, None]
        )
        audio = vae.decode(z)
        peak = float(np.abs(audio).max()) or 1.0
        path = folder / f"{i:02d}.wav"
        sf.write(path, (audio.T / max(1.0, peak)).astype(np.float32), vae.sample_rate)
        (folder / f"{i:02d}.txt").write_text(examples[i].caption + "\n")
        paths.append(path)
    return paths


def plot_losses(losses: list[tuple[int, float]], path: Path) -> None:
    """The loss curve as a PNG (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if losses:
        steps, values = zip(*losses, strict=True)
        ax.plot(steps, values)
        if min(values) > 0:
            ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss (MSE)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


__all__ = ["EMA", "Prepared", "TrainResult", "TrainSettings", "encode_dataset", "prepare_data", "train_flow"]
