"""The velocity model of the flow backend, its config, and its files (safetensors + ``config.json``).

The model predicts the velocity ``v = x1 - x0`` of the straight path ``x_t = (1 - t) x0 + t x1`` from
Gaussian noise ``x0`` (t = 0) to a normalised VAE latent ``x1`` (t = 1), given a condition vector (a
caption's embedding). It is a small transformer over latent frames in the DiT manner: each block's layer
norms are shifted, scaled and gated by the sum of the time and condition embeddings (adaptive layer norm,
gates initialised to zero so a fresh block is the identity). A learned null embedding stands in for the
condition when it is dropped in training, which classifier-free guidance then contrasts with.

torch is imported inside functions; :class:`FlowConfig` and the file helpers are light.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from weavewave.errors import BadInputError

MODEL_TYPE = "weavewave-flow"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
# Condition kinds: a caption's CLAP text embedding; the music's own CLAP audio embedding (MusFlow's space:
# captions, and later images and stories through adapters, are mapped into it); the shipped sentence
# model's; or vectors given with the data (the learning test, or embeddings made elsewhere).
CONDITION_KINDS = ("clap", "clap-audio", "minilm", "vectors")
# Sinusoidal time features: t in [0, 1] is scaled up so the low frequencies still vary over the path.
TIME_SCALE = 1000.0
TIME_FEATURES = 256
MAX_PERIOD = 10000.0


@dataclass
class FlowConfig:
    """What a flow model is: its size, the latent it works in, and the condition it was trained on.

    Attributes
    ----------
    latent_channels : channels of the VAE latent.
    frames : latent frames per window (what the model was trained on; positions are learned up to it).
    hidden, layers, heads, mlp_ratio : the transformer's size.
    cond_dim : length of the condition vector.
    condition : ``clap`` (trained on CLAP text embeddings of the captions), ``clap-audio`` (on CLAP audio
        embeddings of the music), ``minilm`` (the shipped sentence model) or ``vectors``.
    clap_model : the CLAP weights the condition was computed with (``condition="clap"``).
    vae : hub id or folder of the VAE (``AutoencoderOobleck``) the latents come from.
    sample_rate, hop, audio_channels : the VAE's audio: samples per second, per latent frame, channels.
    latent_mean, latent_std : per-channel statistics of the training latents (the model sees
        ``(z - mean) / std``).
    """

    latent_channels: int
    frames: int
    cond_dim: int
    hidden: int = 256
    layers: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    condition: str = "minilm"
    clap_model: str | None = None
    vae: str = ""
    sample_rate: int = 44100
    hop: int = 2048
    audio_channels: int = 2
    latent_mean: list[float] = field(default_factory=list)
    latent_std: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("latent_channels", "frames", "cond_dim", "hidden", "layers", "heads", "hop"):
            if int(getattr(self, name)) < 1:
                raise BadInputError(f"flow config {name} must be at least 1, not {getattr(self, name)}")
        if self.hidden % self.heads:
            raise BadInputError(
                f"flow config hidden ({self.hidden}) must be a multiple of heads ({self.heads})"
            )
        if self.condition not in CONDITION_KINDS:
            raise BadInputError(
                f"unknown flow condition {self.condition!r}: use {', '.join(CONDITION_KINDS)}"
            )
        if not self.latent_mean:
            self.latent_mean = [0.0] * self.latent_channels
        if not self.latent_std:
            self.latent_std = [1.0] * self.latent_channels
        if len(self.latent_mean) != self.latent_channels or len(self.latent_std) != self.latent_channels:
            raise BadInputError("flow config latent_mean and latent_std need one value per latent channel")

    @property
    def window_s(self) -> float:
        """Seconds of audio per window."""
        return self.frames * self.hop / self.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": MODEL_TYPE, "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, origin: str = "config") -> FlowConfig:
        if data.get("model_type") != MODEL_TYPE:
            raise BadInputError(
                f"{origin} is a {data.get('model_type') or 'unknown'} model, not a flow model made by "
                "`weavewave train flow`: pass such a folder to --model"
            )
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def read_config(folder: str | Path) -> FlowConfig:
    """The :class:`FlowConfig` in a model folder, refused with one line when it is not one."""
    path = Path(folder).expanduser() / CONFIG_NAME
    if not path.is_file():
        raise BadInputError(
            f"{folder} is not a flow model folder (no {CONFIG_NAME}): pass the folder `weavewave train flow` "
            "wrote (its --out, or a checkpoint in it)"
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot read {path}: {exc}") from None
    return FlowConfig.from_dict(data, origin=str(folder))


def build_model(config: FlowConfig) -> Any:
    """A fresh :class:`VelocityModel` for ``config`` (random weights, zero-initialised gates)."""
    return _classes()["VelocityModel"](config)


def save_model(model: Any, config: FlowConfig, folder: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``folder``."""
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_NAME).write_text(json.dumps(config.to_dict(), indent=2) + "\n")
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS_NAME), metadata={"format": "pt", "model_type": MODEL_TYPE})
    return out


def load_model(folder: str | Path, *, device: str = "cpu", dtype: Any = None) -> tuple[Any, FlowConfig]:
    """The model and config saved in ``folder`` (``config.json`` + ``model.safetensors``), in eval mode."""
    from safetensors.torch import load_file

    config = read_config(folder)
    weights = Path(folder).expanduser() / WEIGHTS_NAME
    if not weights.is_file():
        raise BadInputError(f"{folder} has a flow config but no {WEIGHTS_NAME}: the save was interrupted")
    model = build_model(config)
    state = load_file(str(weights))
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise BadInputError(
            f"the weights in {weights} do not fit its config (missing {len(result.missing_keys)}, "
            f"unexpected {len(result.unexpected_keys)} tensors): the folder mixes files of different models"
        )
    model.to(device=device, dtype=dtype).eval()
    return model, config


_CLASSES: dict[str, Any] = {}


def _classes() -> dict[str, Any]:
    """The torch modules, defined on first use so that importing this module stays light."""
    if _CLASSES:
        return _CLASSES
    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    def timestep_features(t: torch.Tensor, dim: int = TIME_FEATURES) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(
            -math.log(MAX_PERIOD) * torch.arange(half, device=t.device, dtype=torch.float32) / half
        )
        args = (t.float() * TIME_SCALE)[:, None] * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return x * (1 + scale[:, None]) + shift[:, None]

    class Block(nn.Module):
        """Self-attention and an MLP, each behind an adaptive layer norm with a zero-initialised gate."""

        def __init__(self, hidden: int, heads: int, mlp_ratio: float) -> None:
            super().__init__()
            self.heads = heads
            self.norm1 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.proj = nn.Linear(hidden, hidden)
            self.norm2 = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
            inner = int(hidden * mlp_ratio)
            self.mlp = nn.Sequential(
                nn.Linear(hidden, inner), nn.GELU(approximate="tanh"), nn.Linear(inner, hidden)
            )
            self.ada = nn.Linear(hidden, 6 * hidden)
            nn.init.zeros_(self.ada.weight)
            nn.init.zeros_(self.ada.bias)

        def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            b, n, h = x.shape
            s1, sc1, g1, s2, sc2, g2 = self.ada(F.silu(c)).chunk(6, dim=-1)
            q, k, v = (
                self.qkv(modulate(self.norm1(x), s1, sc1))
                .view(b, n, 3, self.heads, h // self.heads)
                .unbind(2)
            )
            att = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
            x = x + g1[:, None] * self.proj(att.transpose(1, 2).reshape(b, n, h))
            return x + g2[:, None] * self.mlp(modulate(self.norm2(x), s2, sc2))

    class VelocityModel(nn.Module):
        """v(x_t, t, c) over latent frames.

        ``forward(x [shape=(batch, frames, channels)], t [shape=(batch,)], cond [shape=(batch, cond_dim)])``
        returns the velocity, shaped like ``x``. ``null_embedding`` is the learned "no condition".
        """

        def __init__(self, config: FlowConfig) -> None:
            super().__init__()
            self.config = config
            h = config.hidden
            self.inp = nn.Linear(config.latent_channels, h)
            self.pos = nn.Parameter(torch.randn(config.frames, h) * 0.02)
            self.time = nn.Sequential(nn.Linear(TIME_FEATURES, h), nn.SiLU(), nn.Linear(h, h))
            self.cond = nn.Sequential(nn.Linear(config.cond_dim, h), nn.SiLU(), nn.Linear(h, h))
            self.null_embedding = nn.Parameter(torch.zeros(config.cond_dim))
            self.blocks = nn.ModuleList(
                Block(h, config.heads, config.mlp_ratio) for _ in range(config.layers)
            )
            self.norm = nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)
            self.ada = nn.Linear(h, 2 * h)
            self.out = nn.Linear(h, config.latent_channels)
            for layer in (self.ada, self.out):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

        def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
            n = x.shape[1]
            if n > self.pos.shape[0]:
                raise ValueError(f"{n} frames is more than the model's window of {self.pos.shape[0]}")
            h = self.inp(x) + self.pos[:n]
            c = self.time(timestep_features(t).to(x.dtype)) + self.cond(cond.to(x.dtype))
            for block in self.blocks:
                h = block(h, c)
            shift, scale = self.ada(F.silu(c)).chunk(2, dim=-1)
            return self.out(modulate(self.norm(h), shift, scale))

        def drop_condition(self, cond: torch.Tensor, drop: torch.Tensor) -> torch.Tensor:
            """``cond`` with the rows where ``drop`` is true replaced by the null embedding."""
            return torch.where(drop[:, None], self.null_embedding[None].to(cond.dtype), cond)

    _CLASSES.update(VelocityModel=VelocityModel, Block=Block, timestep_features=timestep_features)
    return _CLASSES
