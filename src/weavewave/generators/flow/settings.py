"""The flow backend's training settings (``weavewave train flow`` and ``train adapter``), apart from the
training code so that building the CLI's parser (their defaults) imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

from weavewave.errors import BadInputError


@dataclass
class TrainSettings:
    """What ``train_flow`` does, with defaults for a small model on one GPU.

    ``window_s``: seconds per training window (the generator's window). ``condition``: ``auto`` (the
    dataset's vectors if it has them, else CLAP text with ``clap_model``, else the sentence model),
    ``clap`` (the captions' CLAP text embeddings), ``clap-audio`` (the music's own CLAP audio embeddings,
    MusFlow's space), ``minilm`` or ``vectors``.
    """

    steps: int = 2000
    batch_size: int = 16
    learning_rate: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    cond_drop: float = 0.1
    ema_decay: float = 0.999
    window_s: float = 10.0
    hidden: int = 256
    layers: int = 6
    heads: int = 4
    condition: str = "auto"
    clap_model: str | None = None
    checkpoint_every: int = 500
    log_every: int = 10
    val_every: int = 0
    val_steps: int = 16
    seed: int = 0
    device: str = "auto"
    mixed_precision: str = "no"

    def check(self) -> None:
        for name in ("steps", "batch_size", "hidden", "layers", "heads", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise BadInputError(
                    f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}"
                )
        if not 0.0 <= self.cond_drop < 1.0:
            raise BadInputError(f"cond-drop {self.cond_drop:g} must be in [0, 1)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise BadInputError(f"ema-decay {self.ema_decay:g} must be in [0, 1)")
        if not self.window_s > 0:
            raise BadInputError(f"window {self.window_s:g} s must be positive")
        if self.learning_rate <= 0:
            raise BadInputError(f"learning rate {self.learning_rate:g} must be positive")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise BadInputError(f"mixed precision {self.mixed_precision!r}: use no, fp16 or bf16")


@dataclass
class AdapterSettings:
    """Training settings: steps, batch, learning rate, the contrastive term's weight and temperature, and
    the share of pairs held out for the recall figures."""

    steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    contrastive_weight: float = 1.0
    temperature: float = 0.07
    holdout: float = 0.2
    seed: int = 0
