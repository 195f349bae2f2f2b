"""``weavewave train musicgen``: LoRA fine-tuning of MusicGen on a weavewave dataset.

The recipe (MusicGen "dreamboothing" with transformers and PEFT):

- The text is each row's caption (with an optional trigger word in front), read by the model's own T5.
- The audio is encoded by the model's own EnCodec; its codes are the labels, laid out in MusicGen's delay
  pattern (codebook ``k`` of a channel is ``k`` steps late, pad before and after), exactly as
  ``generate`` lays them out, so ``MusicgenForConditionalGeneration(..., labels=...)`` computes the
  per-codebook cross-entropy it was trained with. Melody models also get the segment's chroma.
- Only LoRA matrices on the decoder's attention and feed-forward layers train; text encoder, codec and
  the rest of the decoder stay frozen.
- accelerate runs the same loop on one CPU, one GPU or several (``accelerate launch -m weavewave ...``);
  mixed precision (bf16, else fp16) only on GPUs.
- A validation split (held out by a stable hash of the row id) is scored before training and every
  ``eval_every`` steps; loss per step goes to ``train_log.jsonl`` and ``loss.png``; checkpoints (adapter,
  optimizer, scheduler, random state) every ``save_every`` steps let ``resume=True`` carry on exactly.

torch, transformers, peft and accelerate are imported inside functions.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError, is_disk_full
from weavewave.train import DEFAULT_ALPHA, DEFAULT_LR, DEFAULT_RANK, MIXED

# The decoder layers LoRA adapts: attention projections (self and cross) and the feed-forward pair.
LORA_TARGETS = r".*decoder\.model\.decoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|encoder_attn\.(q_proj|k_proj|v_proj|out_proj)|fc1|fc2)"
MAX_SEGMENT_S = 30.0  # MusicGen was trained on 30 s windows; longer rows are cut
MIN_SEGMENT_S = 0.5
WARMUP_SHARE = 0.05  # linear warm-up over this share of the steps (at most MAX_WARMUP_STEPS)
MAX_WARMUP_STEPS = 100
KEEP_CHECKPOINTS = 2
LOG_FILE = "train_log.jsonl"
PLOT_FILE = "loss.png"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
SAMPLE_S = 5.0


@dataclass
class TrainConfig:
    """Settings of one training run; the defaults suit a few minutes of music on one GPU.

    ``max_steps`` (when set) ends the run early; ``epochs`` otherwise. ``grad_accum`` micro-batches make one
    optimizer step. ``gradient_checkpointing`` and ``mixed_precision`` default to ``auto``: on (bf16, else
    fp16) on a GPU, off on the CPU.
    """

    data: str
    model: str
    out: str
    epochs: int = 4
    max_steps: int | None = None
    learning_rate: float = DEFAULT_LR
    batch_size: int = 2
    grad_accum: int = 2
    rank: int = DEFAULT_RANK
    alpha: int = DEFAULT_ALPHA
    dropout: float = 0.05
    max_grad_norm: float = 1.0  # gradients clipped to this norm before each step (0: off)
    trigger: str | None = None
    val_fraction: float = 0.1
    eval_every: int = 50
    save_every: int = 100
    sample_every: int = 0  # 0: no samples during training (one at the end when sample_at_end)
    sample_at_end: bool = False
    sample_caption: str | None = None
    sample_seconds: float = SAMPLE_S
    gradient_checkpointing: str = "auto"  # auto | on | off
    mixed_precision: str = "auto"
    device: str = "auto"
    max_segment_s: float = MAX_SEGMENT_S
    seed: int = 0
    resume: bool = False
    force: bool = False

    def validated(self) -> TrainConfig:
        """This config, after checking every setting with one-line errors."""
        for name in ("epochs", "batch_size", "grad_accum", "rank", "alpha"):
            if int(getattr(self, name)) < 1:
                raise BadInputError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise BadInputError("--max-steps must be at least 1")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate < 1):
            raise BadInputError(
                f"--lr {self.learning_rate:g} is out of range: use e.g. 1e-4 (more than 0, below 1)"
            )
        if not 0 <= self.dropout < 1:
            raise BadInputError("--lora-dropout must be in [0, 1)")
        if not (math.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0):
            raise BadInputError("--max-grad-norm must be 0 (off) or more")
        if not 0 <= self.val_fraction < 1:
            raise BadInputError("--val-fraction must be in [0, 1)")
        for name in ("eval_every", "save_every", "sample_every"):
            if getattr(self, name) < 0:
                raise BadInputError(f"--{name.replace('_', '-')} must be 0 (off) or more")
        if self.mixed_precision not in MIXED:
            raise BadInputError(f"--mixed-precision {self.mixed_precision!r}: use {', '.join(MIXED)}")
        if self.gradient_checkpointing not in ("auto", "on", "off"):
            raise BadInputError("--gradient-checkpointing: use auto, on or off")
        if not 0 < self.sample_seconds <= MAX_SEGMENT_S:
            raise BadInputError(f"--sample-seconds: use more than 0 and at most {MAX_SEGMENT_S:g}")
        if not MIN_SEGMENT_S <= self.max_segment_s <= 60:
            raise BadInputError(f"--max-segment {self.max_segment_s:g} s: use {MIN_SEGMENT_S:g} to 60 s")
        if self.trigger is not None and not self.trigger.strip():
            raise BadInputError("--trigger is empty: give a word, e.g. 'myband', or leave it out")
        return self


@dataclass
class Example:
    """One row, encoded: caption token ids, EnCodec codes [shape=(codebooks, frames)], chroma or None."""

    id: str
    caption: str
    codes: Any
    chroma: Any = None


@dataclass
class TrainResult:
    """What a run did: steps, losses before and after, speed, and where the adapter is."""

    out: Path
    steps: int
    train_rows: int
    val_rows: int
    val_loss_before: float | None
    val_loss_after: float | None
    first_loss: float | None
    last_loss: float | None
    seconds: float
    steps_per_s: float
    peak_memory_mb: float | None
    log: list[dict[str, Any]] = field(default_factory=list, repr=False)


# ======================================================================================================
# Data
# ======================================================================================================
def split_rows(rows: list[dict[str, Any]], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Train and validation rows: a row is held out when a stable hash of its id falls below ``fraction``
    (at least one row when there are two or more and ``fraction > 0``)."""
    if fraction <= 0 or len(rows) < 2:
        return rows, []

    def score(row: dict[str, Any]) -> float:
        h = hashlib.sha256(f"{seed}:{row['id']}".encode()).digest()
        return int.from_bytes(h[:8], "big") / 2**64

    ranked = sorted(rows, key=score)
    n_val = max(1, int(round(fraction * len(rows))))
    n_val = min(n_val, len(rows) - 1)
    held = {r["id"] for r in ranked[:n_val]}
    return [r for r in rows if r["id"] not in held], [r for r in rows if r["id"] in held]


def caption_of(row: dict[str, Any], trigger: str | None) -> str:
    caption = " ".join(str(row["caption"]).split())
    return f"{trigger.strip()} {caption}" if trigger else caption


def encode_audio(model: Any, audio: np.ndarray, device: Any) -> Any:
    """Audio [shape=(channels, n)] at the codec's rate -> codes [shape=(codebooks, frames)], the decoder's
    codebook order (stereo models interleave left and right)."""
    import torch

    encoder = model.audio_encoder
    with torch.no_grad():
        per_channel = []
        for c in range(audio.shape[0]):
            x = torch.from_numpy(np.ascontiguousarray(audio[c], dtype=np.float32))[None, None].to(device)
            per_channel.append(encoder.encode(x).audio_codes[0, 0].cpu())
    if len(per_channel) == 1:
        return per_channel[0]
    left, right = per_channel
    codes = left.new_empty((left.shape[0] * 2, left.shape[1]))
    codes[0::2], codes[1::2] = left, right
    return codes


def delay_labels(codes: Any, pad: int, channels: int) -> Any:
    """MusicGen's delay pattern: codes [shape=(K, T)] -> labels [shape=(T + K/channels - 1, K)].

    Codebook ``k`` (of its channel) is ``k`` steps late; the positions before and after it are ``pad``,
    which the model's loss ignores. Shifted right by the model, this is the sequence ``generate`` builds.
    """
    import torch

    k_total, t = codes.shape
    per_channel = k_total // channels
    length = t + per_channel - 1
    labels = torch.full((length, k_total), pad, dtype=torch.long)
    for k in range(k_total):
        d = k // channels  # stereo: the left/right pair of a codebook share its delay
        labels[d : d + t, k] = codes[k]
    return labels


def _load_examples(rows: list[dict[str, Any]], model: Any, tokenizer_trigger: str | None, device: Any,
                   max_s: float, melody: bool, report: Callable[[float, str], None]) -> list[Example]:  # fmt: skip
    from weavewave.dsp.signal import resample
    from weavewave.io.audio import read_audio

    sr = int(model.config.audio_encoder.sampling_rate)
    channels = _channels(model)
    out = []
    for i, row in enumerate(rows):
        report(i / max(1, len(rows)), f"encoding {i + 1}/{len(rows)}")
        try:
            audio, rate = read_audio(row["audio"])
        except BadInputError as exc:
            raise BadInputError(f"dataset row {row['id']}: {exc}") from None
        audio = resample(audio.astype(np.float64), rate, sr)[: int(max_s * sr)]
        if audio.shape[0] < MIN_SEGMENT_S * sr:
            raise BadInputError(
                f"dataset row {row['id']}: {row['audio']} is shorter than {MIN_SEGMENT_S:g} s"
            )
        planar = audio.T if audio.ndim == 2 else audio[None]
        if channels == 1:
            planar = planar.mean(axis=0, keepdims=True)
        elif planar.shape[0] == 1:
            planar = np.repeat(planar, 2, axis=0)
        codes = encode_audio(model, planar[:channels].astype(np.float32), device)
        chroma = None
        if melody:
            import torch

            from weavewave.generators.musicgen.chroma import melody_chroma

            chroma = torch.from_numpy(melody_chroma(audio, sr))
        out.append(Example(row["id"], caption_of(row, tokenizer_trigger), codes, chroma))
    return out


def _start_token(model: Any) -> int:
    """The token every decoded sequence starts with (MusicGen: the pad/BOS code, 2048 in the real models)."""
    for source in (model.generation_config, model.config.decoder):
        value = getattr(source, "decoder_start_token_id", None)
        if value is not None:
            return int(value)
    return int(model.config.decoder.bos_token_id)


def _channels(model: Any) -> int:
    return int(getattr(model.config.decoder, "audio_channels", 1) or 1)


def collate(examples: list[Example], tokenizer: Any, model: Any) -> dict[str, Any]:
    """A batch: tokenized captions, delayed labels padded with -100, and chroma for melody models."""
    import torch

    pad = int(model.config.decoder.pad_token_id)
    channels = _channels(model)
    text = tokenizer([e.caption for e in examples], return_tensors="pt", padding=True)
    labels = [delay_labels(e.codes, pad, channels) for e in examples]
    longest = max(lab.shape[0] for lab in labels)
    batch_labels = torch.full((len(labels), longest, labels[0].shape[1]), -100, dtype=torch.long)
    for i, lab in enumerate(labels):
        batch_labels[i, : lab.shape[0]] = lab
    # The decoder's input is the labels shifted right behind the start token (what the model would build
    # from ``labels`` itself, but not every config names its start token where that code looks).
    start = _start_token(model)
    inputs = batch_labels.new_full(batch_labels.shape, pad)
    inputs[:, 1:] = batch_labels[:, :-1]
    inputs[:, 0] = start
    inputs = inputs.masked_fill(inputs == -100, pad).transpose(1, 2).reshape(-1, longest)
    batch = {"input_ids": text.input_ids, "attention_mask": text.attention_mask, "labels": batch_labels,
             "decoder_input_ids": inputs}  # fmt: skip
    if examples[0].chroma is not None:
        frames = max(e.chroma.shape[0] for e in examples)
        chroma = torch.zeros((len(examples), frames, examples[0].chroma.shape[1]))
        for i, e in enumerate(examples):
            chroma[i, : e.chroma.shape[0]] = e.chroma
        batch["input_features"] = chroma
    return batch


# ======================================================================================================
# Model
# ======================================================================================================
def load_base(ref: str) -> tuple[Any, Any, bool]:
    """The base MusicGen (fp32, for training), its tokenizer, and whether it is a melody model."""
    from weavewave.generators.musicgen.generator import load_musicgen_model

    return load_musicgen_model(ref)


def add_lora(model: Any, cfg: TrainConfig) -> Any:
    """The model with LoRA matrices on the decoder (everything else frozen), as a PEFT model."""
    from peft import LoraConfig, get_peft_model

    for p in model.parameters():
        p.requires_grad_(False)
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=LORA_TARGETS,
                      bias="none")  # fmt: skip
    import warnings

    with warnings.catch_warnings():  # peft 0.21 asks transformers 5 a deprecated question; nothing to act on
        warnings.simplefilter("ignore", FutureWarning)
        return get_peft_model(model, lora)


# ======================================================================================================
# The run
# ======================================================================================================
def _accelerator(cfg: TrainConfig) -> tuple[Any, str]:
    import torch
    from accelerate import Accelerator

    from weavewave.neural.models import pick_device

    device = pick_device(cfg.device)
    on_gpu = device.startswith("cuda")
    mixed = cfg.mixed_precision
    if mixed == "auto":
        mixed = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if on_gpu else "no"
    elif mixed != "no" and not on_gpu:
        raise BadInputError(f"--mixed-precision {mixed} needs a GPU: use no (or auto) on the CPU")
    return Accelerator(cpu=not on_gpu, mixed_precision=mixed), mixed


def _plan_steps(cfg: TrainConfig, n_train: int, processes: int) -> tuple[int, int]:
    """(micro-batches per epoch on this process, optimizer steps in the run)."""
    micro = math.ceil(n_train / (cfg.batch_size * processes))
    per_epoch = max(1, math.ceil(micro / cfg.grad_accum))
    total = cfg.max_steps if cfg.max_steps is not None else per_epoch * cfg.epochs
    return micro, total


def _epoch_batches(n: int, cfg: TrainConfig, epoch: int, rank: int, processes: int) -> list[list[int]]:
    """This process's micro-batches of an epoch: a permutation seeded by (seed, epoch), sharded by rank."""
    order = np.random.default_rng([cfg.seed, epoch]).permutation(n)[rank::processes]
    return [order[i : i + cfg.batch_size].tolist() for i in range(0, len(order), cfg.batch_size)]


def validation_loss(model: Any, examples: list[Example], tokenizer: Any, base: Any, accelerator: Any,
                    batch_size: int) -> float | None:  # fmt: skip
    """Mean loss over ``examples`` (weighted by row), without dropout or gradients."""
    import torch

    if not examples:
        return None
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            chunk = examples[i : i + batch_size]
            batch = {k: v.to(accelerator.device) for k, v in collate(chunk, tokenizer, base).items()}
            with accelerator.autocast():
                total += float(model(**batch).loss) * len(chunk)
    model.train(was_training)
    return total / len(examples)


def _prepare_out(cfg: TrainConfig) -> Path:
    from weavewave.train.adapter import META_FILE

    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"--out {out} is a file: choose a folder for the adapter")
    has_ckpt = (out / CHECKPOINTS).is_dir() and any((out / CHECKPOINTS).iterdir())
    if cfg.resume:
        if not has_ckpt:
            raise BadInputError(f"--resume: {out} holds no checkpoint to resume from; start without --resume")
    elif (out / META_FILE).exists() or has_ckpt:
        if not cfg.force:
            raise BadInputError(f"--out {out} already holds an adapter or a run: pass --resume to carry on, "
                                "--force to start again, or choose another --out")  # fmt: skip
        for name in (CHECKPOINTS, SAMPLES):
            shutil.rmtree(out / name, ignore_errors=True)
        (out / LOG_FILE).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--out {out}: cannot create it ({exc.strerror or exc})") from None
    return out


def train_musicgen(
    cfg: TrainConfig,
    *,
    progress: Callable[[float, str], None] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Fine-tune ``cfg.model`` on ``cfg.data`` with LoRA and write the adapter into ``cfg.out``.

    ``on_step(step, loss)`` is called after each optimizer step (a KeyboardInterrupt raised there stops the
    run like Ctrl-C; the last checkpoint stays, for ``resume``). Returns a :class:`TrainResult`.
    """
    from weavewave._deps import require

    for module in ("torch", "transformers", "peft", "accelerate", "datasets"):
        require(module, "train", "weavewave train")
    import torch

    from weavewave.train.dataset import load_rows

    cfg = cfg.validated()
    report = progress or (lambda f, m: None)
    rows = load_rows(cfg.data)  # bad data fails before any model loads
    out = _prepare_out(cfg)
    accelerator, mixed = _accelerator(cfg)
    torch.manual_seed(cfg.seed)
    report(0.0, f"loading {cfg.model}")
    model, tokenizer, melody = load_base(cfg.model)
    model.to(accelerator.device)
    train_rows, val_rows = split_rows(rows, cfg.val_fraction, cfg.seed)
    train_ex = _load_examples(train_rows, model, cfg.trigger, accelerator.device, cfg.max_segment_s, melody,
                              lambda f, m: report(0.02 + 0.08 * f, m))  # fmt: skip
    val_ex = _load_examples(val_rows, model, cfg.trigger, accelerator.device, cfg.max_segment_s, melody,
                            lambda f, m: None)  # fmt: skip
    base = model
    peft_model = add_lora(model, cfg)
    on_gpu = accelerator.device.type == "cuda"
    if cfg.gradient_checkpointing == "on" or (cfg.gradient_checkpointing == "auto" and on_gpu):
        base.decoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    _, total_steps = _plan_steps(cfg, len(train_ex), accelerator.num_processes)
    warmup = min(MAX_WARMUP_STEPS, int(WARMUP_SHARE * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (warmup + 1)))
    peft_model, optimizer = accelerator.prepare(peft_model, optimizer)
    state: dict[str, Any] = {"step": 0, "micro": 0, "val_loss_before": None}
    log: list[dict[str, Any]] = []
    if cfg.resume:
        state, log = _load_checkpoint(out, accelerator.unwrap_model(peft_model), optimizer, scheduler)
        report(0.1, f"resuming at step {state['step']}")
    else:
        state["val_loss_before"] = validation_loss(
            peft_model, val_ex, tokenizer, base, accelerator, cfg.batch_size
        )
        if state["val_loss_before"] is not None:
            log.append({"step": 0, "val_loss": round(state["val_loss_before"], 6)})
        _write_log(out, log)
    started = time.perf_counter()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    done_before = state["step"]
    step = _loop(cfg, state, log, peft_model, base, tokenizer, optimizer, scheduler, accelerator, train_ex, val_ex,
                 out, total_steps, report, on_step)  # fmt: skip
    seconds = time.perf_counter() - started
    val_after = validation_loss(peft_model, val_ex, tokenizer, base, accelerator, cfg.batch_size)
    if val_after is not None and (not log or log[-1].get("step") != step or "val_loss" not in log[-1]):
        log.append({"step": step, "val_loss": round(val_after, 6)})
    peak = torch.cuda.max_memory_allocated() / 2**20 if on_gpu else _peak_rss_mb()
    losses = [e["loss"] for e in log if "loss" in e]
    tenth = max(1, len(losses) // 10)
    result = TrainResult(
        out=out, steps=step, train_rows=len(train_ex), val_rows=len(val_ex),
        val_loss_before=state["val_loss_before"], val_loss_after=val_after,
        first_loss=float(np.mean(losses[:tenth])) if losses else None,
        last_loss=float(np.mean(losses[-tenth:])) if losses else None,
        seconds=round(seconds, 3), steps_per_s=round((step - done_before) / seconds, 3) if seconds > 0 else 0.0,
        peak_memory_mb=round(peak, 1) if peak else None, log=log,
    )  # fmt: skip
    if accelerator.is_main_process:
        _write_log(out, log)
        _finish(cfg, out, accelerator.unwrap_model(peft_model), base, tokenizer, result, mixed, val_ex)
    accelerator.wait_for_everyone()
    report(1.0, "done")
    return result


def _loop(cfg: TrainConfig, state: dict[str, Any], log: list[dict[str, Any]], model: Any, base: Any, tokenizer: Any,
          optimizer: Any, scheduler: Any, accelerator: Any, train_ex: list[Example], val_ex: list[Example],
          out: Path, total_steps: int, report: Callable[[float, str], None],
          on_step: Callable[[int, float], None] | None) -> int:  # fmt: skip
    """The optimizer steps from ``state`` to ``total_steps``; returns the last step."""
    import contextlib

    model.train()
    step, micro = state["step"], state["micro"]
    rank, processes = accelerator.process_index, accelerator.num_processes
    per_epoch = len(_epoch_batches(len(train_ex), cfg, 0, rank, processes))
    epoch, start = divmod(micro, per_epoch)  # a resumed run carries on inside the epoch it stopped in
    accumulated, in_step = 0.0, 0
    while step < total_steps:
        batches = _epoch_batches(len(train_ex), cfg, epoch, rank, processes)
        for b, idx in enumerate(batches[start:], start=start):
            batch = {
                k: v.to(accelerator.device)
                for k, v in collate([train_ex[i] for i in idx], tokenizer, base).items()
            }
            last = in_step + 1 == cfg.grad_accum or b + 1 == len(batches)
            sync = contextlib.nullcontext() if last else accelerator.no_sync(model)
            with sync, accelerator.autocast():
                loss = model(**batch).loss
            accelerator.backward(loss / cfg.grad_accum)
            accumulated += float(loss.detach())
            in_step += 1
            micro += 1
            if not last:
                continue
            if cfg.max_grad_norm > 0:
                accelerator.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], cfg.max_grad_norm
                )
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            mean = accumulated / in_step
            accumulated, in_step = 0.0, 0
            entry: dict[str, Any] = {"step": step, "epoch": epoch, "loss": round(mean, 6),
                                     "lr": float(scheduler.get_last_lr()[0])}  # fmt: skip
            if cfg.eval_every and step % cfg.eval_every == 0 and val_ex:
                entry["val_loss"] = round(
                    validation_loss(model, val_ex, tokenizer, base, accelerator, cfg.batch_size) or 0.0, 6
                )
            log.append(entry)
            report(0.1 + 0.85 * step / total_steps, f"step {step}/{total_steps} loss {mean:.3f}")
            if accelerator.is_main_process:
                _append_log(out, entry)
                if cfg.sample_every and step % cfg.sample_every == 0:
                    _sample(
                        accelerator.unwrap_model(model),
                        tokenizer,
                        cfg,
                        val_ex,
                        out / SAMPLES / f"step-{step:06d}.wav",
                    )
                if cfg.save_every and step % cfg.save_every == 0 and step < total_steps:
                    _save_checkpoint(out, accelerator.unwrap_model(model), optimizer, scheduler,
                                     {**state, "step": step, "micro": micro}, cfg)  # fmt: skip
            if on_step is not None:
                on_step(step, mean)
            if step >= total_steps:
                break
        epoch, start = epoch + 1, 0
    return step


# ======================================================================================================
# Checkpoints, log, plot, samples, the adapter
# ======================================================================================================
def _disk_full(where: Path) -> BadInputError:
    return BadInputError(f"no space left on the device for checkpoints in {where}: free some space, choose "
                         "another --out, or pass --save-every 0")  # fmt: skip


def _save_checkpoint(out: Path, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any],
                     cfg: TrainConfig) -> None:  # fmt: skip
    import torch

    folder = out / CHECKPOINTS / f"step-{state['step']:06d}"
    tmp = folder.with_name(folder.name + ".tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        model.save_pretrained(tmp)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                   tmp / "trainer.pt")  # fmt: skip
        (tmp / "state.json").write_text(json.dumps({**state, "config": asdict(cfg)}, indent=2))
        tmp.rename(folder)  # a checkpoint is whole or absent
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):
            raise _disk_full(out) from None
        raise
    kept = sorted(p for p in (out / CHECKPOINTS).glob("step-*") if not p.name.endswith(".tmp"))
    for old in kept[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def _load_checkpoint(
    out: Path, model: Any, optimizer: Any, scheduler: Any
) -> tuple[dict[str, Any], list[dict]]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from weavewave.train.adapter import WEIGHTS_FILE

    folders = sorted(p for p in (out / CHECKPOINTS).glob("step-*") if not p.name.endswith(".tmp"))
    if not folders:
        raise BadInputError(f"--resume: {out} holds no complete checkpoint; start without --resume")
    folder = folders[-1]
    set_peft_model_state_dict(model, load_file(str(folder / WEIGHTS_FILE)))
    saved = torch.load(folder / "trainer.pt", weights_only=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["torch_rng"])
    if saved.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda_rng"])
    state = json.loads((folder / "state.json").read_text())
    state.pop("config", None)
    from weavewave.train.dataset import read_jsonl

    log = [e for e in read_jsonl(out / LOG_FILE) if e.get("step", 0) <= state["step"]]
    _write_log(out, log)
    return state, log


def _write_log(out: Path, log: list[dict[str, Any]]) -> None:
    from weavewave.train.dataset import write_jsonl

    write_jsonl(out / LOG_FILE, log, append=False)


def _append_log(out: Path, entry: dict[str, Any]) -> None:
    from weavewave.train.dataset import write_jsonl

    try:
        write_jsonl(out / LOG_FILE, [entry])
    except OSError as exc:
        if is_disk_full(exc):
            raise _disk_full(out) from None
        raise


def plot_log(log: list[dict[str, Any]], path: Path) -> bool:
    """Training and validation loss against step, as a PNG; False when matplotlib is not installed."""
    from weavewave._deps import available

    if not available("matplotlib"):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    train = [(e["step"], e["loss"]) for e in log if "loss" in e]
    val = [(e["step"], e["val_loss"]) for e in log if "val_loss" in e]
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss", lw=1)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy per codebook")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def _sample(model: Any, tokenizer: Any, cfg: TrainConfig, val_ex: list[Example], path: Path) -> None:
    """A few seconds generated from the sample caption (or the first held-out one) by the model now."""
    import torch

    from weavewave.io.audio import write_audio

    caption = cfg.sample_caption or (val_ex[0].caption if val_ex else (cfg.trigger or "music"))
    if cfg.sample_caption and cfg.trigger:
        caption = caption_of({"caption": cfg.sample_caption}, cfg.trigger)
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    was_training = inner.training
    inner.eval()
    frame_rate = int(inner.config.audio_encoder.frame_rate)
    inputs = tokenizer([caption], return_tensors="pt").to(inner.device)
    with torch.no_grad(), torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        audio = inner.generate(
            **inputs, do_sample=True, max_new_tokens=int(cfg.sample_seconds * frame_rate) + 3
        )
    inner.train(was_training)
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = audio[0].float().cpu().numpy().T
    peak = float(np.max(np.abs(wav))) or 1.0
    write_audio(
        path, (wav / max(peak, 1.0)).astype(np.float32), int(inner.config.audio_encoder.sampling_rate)
    )


def _peak_rss_mb() -> float | None:
    import sys

    if sys.platform == "win32":  # no getrusage there
        return None
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _finish(cfg: TrainConfig, out: Path, model: Any, base: Any, tokenizer: Any, result: TrainResult, mixed: str,
            val_ex: list[Example]) -> None:  # fmt: skip
    """Write the adapter, its record and the plot; drop the checkpoints of a finished run."""
    from weavewave import __version__
    from weavewave.train.adapter import KIND, META_FILE, config_fingerprint

    try:
        model.save_pretrained(out)
        meta = {
            "kind": KIND,
            "base_model": cfg.model,
            "base_model_type": base.config.model_type,
            "base_fingerprint": config_fingerprint(base.config),
            "trigger": cfg.trigger,
            "dataset": str(Path(cfg.data).resolve()),
            "train_rows": result.train_rows,
            "val_rows": result.val_rows,
            "steps": result.steps,
            "val_loss_before": result.val_loss_before,
            "val_loss_after": result.val_loss_after,
            "mixed_precision": mixed,
            "settings": {
                k: v for k, v in asdict(cfg).items() if k not in ("data", "out", "model", "force", "resume")
            },
            "weavewave_version": __version__,
        }
        (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        plot_log(result.log, out / PLOT_FILE)
        if cfg.sample_at_end:
            _sample(model, tokenizer, cfg, val_ex, out / SAMPLES / "final.wav")
    except OSError as exc:
        if is_disk_full(exc):
            raise _disk_full(out) from None
        raise
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
