"""MusFlow's adapters: small MLPs that map a source embedding (an image's CLIP embedding, a story's or a
caption's sentence or CLAP text embedding) into the CLAP audio space of the paired music.

Trained with a regression term (the unit output against the unit target, mean squared error) plus a
symmetric contrastive term (InfoNCE over the batch: each output must be closer to its own music than to
the others'), and measured by retrieval: recall@1/5/10 of the paired music among all held-out music, from
the adapted embedding. The flow backend's ``clap-audio`` models are conditioned in exactly that space.

``weavewave train adapter`` (:mod:`.adapter_train`) trains one on a dataset; ``--adapter-embed`` feeds an
adapted image or text to the flow backend. torch is imported inside functions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.generators.flow.settings import AdapterSettings

ADAPTER_TYPE = "weavewave-adapter"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "adapter.safetensors"
RECALL_AT = (1, 5, 10)
SOURCES = ("image", "story", "text", "vectors")
# What an adapter of each source adapts, in the refusals ("the adapter X adapts stories: give --text").
SOURCE_NOUNS = {"image": "images", "story": "stories", "text": "texts", "vectors": "vectors"}


@dataclass
class AdapterConfig:
    """What an adapter maps: ``source`` embeddings of ``source_dim`` into a ``target_dim`` space."""

    source: str
    source_dim: int
    target_dim: int
    hidden: int = 512
    layers: int = 2
    source_model: str | None = None  # the model that made the source embeddings (CLIP, MiniLM, CLAP)
    clap_model: str | None = None  # the CLAP whose audio space is the target
    # how sources are embedded: clip-image, minilm or clap-text (None: vectors given by the caller)
    source_embedder: str | None = None
    # the space the outputs live in, as :func:`condition_space` names it; a flow model takes the adapter
    # only when its own condition space has the same name
    target_space: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise BadInputError(f"unknown adapter source {self.source!r}: use {', '.join(SOURCES)}")
        for name in ("source_dim", "target_dim", "hidden", "layers"):
            if int(getattr(self, name)) < 1:
                raise BadInputError(f"adapter {name} must be at least 1, not {getattr(self, name)}")


def _mlp(config: AdapterConfig) -> Any:
    from torch import nn

    dims = [config.source_dim] + [config.hidden] * (config.layers - 1)
    layers: list[Any] = []
    for a, b in zip(dims, dims[1:], strict=False):
        layers += [nn.Linear(a, b), nn.GELU(), nn.LayerNorm(b)]
    layers.append(nn.Linear(dims[-1], config.target_dim))
    return nn.Sequential(*layers)


def build_adapter(config: AdapterConfig) -> Any:
    """A fresh adapter (random weights) for ``config``."""
    return _mlp(config)


def adapt(model: Any, source: np.ndarray) -> np.ndarray:
    """Unit adapted embeddings [shape=(n, target_dim)] of source embeddings [shape=(n, source_dim)]."""
    import torch

    with torch.inference_mode():
        out = model(torch.from_numpy(np.asarray(source, np.float32)))
        return torch.nn.functional.normalize(out, dim=-1).numpy()


def recall_at_k(adapted: np.ndarray, target: np.ndarray, ks: tuple[int, ...] = RECALL_AT) -> dict[str, float]:
    """How often row i of ``target`` is among the k nearest (cosine) to row i of ``adapted``, for each k."""
    a = adapted / (np.linalg.norm(adapted, axis=1, keepdims=True) + 1e-12)
    t = target / (np.linalg.norm(target, axis=1, keepdims=True) + 1e-12)
    sims = a @ t.T
    # rank of the true pair: how many candidates score higher than it
    rank = (sims > np.diag(sims)[:, None]).sum(axis=1)
    return {f"recall@{k}": float((rank < k).mean()) for k in ks}


def split_pairs(n: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out indices: a seeded shuffle, at least one pair on each side."""
    if n < 2:
        raise BadInputError(f"an adapter needs at least 2 pairs (train and held out), not {n}")
    order = np.random.default_rng(seed).permutation(n)
    held = min(n - 1, max(1, int(round(holdout * n))))
    return order[held:], order[:held]


def train_adapter(
    source: np.ndarray, target: np.ndarray, config: AdapterConfig, settings: AdapterSettings | None = None
) -> tuple[Any, dict[str, float]]:
    """Train an adapter on paired embeddings; return it and its held-out figures.

    Parameters
    ----------
    source : np.ndarray [shape=(n, source_dim)], e.g. CLIP image embeddings.
    target : np.ndarray [shape=(n, target_dim)], the paired music's CLAP audio embeddings.

    Returns
    -------
    (model, metrics) : metrics hold recall@1/5/10 of the adapted held-out embeddings, the same for the
        untrained adapter, and chance (k / held-out pairs).
    """
    import torch
    from torch.nn import functional as F  # noqa: N812

    s = settings or AdapterSettings()
    src, tgt = np.asarray(source, np.float32), np.asarray(target, np.float32)
    if src.shape[0] != tgt.shape[0] or src.shape[1] != config.source_dim or tgt.shape[1] != config.target_dim:
        raise BadInputError(
            f"adapter pairs do not fit: source {src.shape}, target {tgt.shape}, config "
            f"{config.source_dim} -> {config.target_dim}"
        )
    train, held = split_pairs(len(src), s.holdout, s.seed)
    torch.manual_seed(s.seed)
    model = build_adapter(config)
    before = recall_at_k(adapt(model.eval(), src[held]), tgt[held])
    opt = torch.optim.AdamW(model.parameters(), lr=s.learning_rate, weight_decay=s.weight_decay)
    x_all, y_all = torch.from_numpy(src[train]), F.normalize(torch.from_numpy(tgt[train]), dim=-1)
    rng = np.random.default_rng(s.seed)
    model.train()
    for _ in range(s.steps):
        idx = torch.from_numpy(rng.choice(len(train), size=min(s.batch_size, len(train)), replace=False))
        pred = F.normalize(model(x_all[idx]), dim=-1)
        y = y_all[idx]
        loss = F.mse_loss(pred, y)
        if s.contrastive_weight and len(idx) > 1:
            logits = pred @ y.T / s.temperature
            labels = torch.arange(len(idx))
            loss = loss + s.contrastive_weight * 0.5 * (
                F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    after = recall_at_k(adapt(model, src[held]), tgt[held])
    metrics = {**after, **{f"untrained_{k}": v for k, v in before.items()}}
    metrics.update({f"chance_recall@{k}": min(1.0, k / len(held)) for k in RECALL_AT})
    metrics["held_out"] = float(len(held))
    return model, metrics


def save_adapter(model: Any, config: AdapterConfig, folder: str | Path) -> Path:
    """Write ``config.json`` and ``adapter.safetensors`` into ``folder``."""
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_NAME).write_text(
        json.dumps({"model_type": ADAPTER_TYPE, **asdict(config)}, indent=2) + "\n"
    )
    save_file(
        {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(out / WEIGHTS_NAME)
    )
    return out


def model_ref(ref: str | None) -> str | None:
    """A model reference as spaces compare it: an existing folder by its absolute path, else as given."""
    if not ref:
        return None
    p = Path(ref).expanduser()
    return str(p.resolve()) if p.exists() else ref


def condition_space(condition: str, clap_model: str | None, model: str | None = None) -> str:
    """The name of a flow model's condition space (what its condition vectors are).

    ``clap-audio`` models live in the CLAP audio space of their CLAP weights (MusFlow's space); ``clap``
    models in the CLAP text space; ``minilm`` in the sentence model's; ``vectors`` models in the space of
    the vectors they were trained on, which only that model (``model``, its folder) knows.
    """
    if condition in ("clap", "clap-audio"):
        return f"{condition}:{model_ref(clap_model)}"
    if condition == "vectors":
        return f"vectors:{model_ref(model)}"
    return condition


def read_adapter_config(folder: str | Path) -> AdapterConfig:
    """The config of the adapter in ``folder`` (no torch), refused with one line when it is not one."""
    p = Path(folder).expanduser()
    try:
        data = json.loads((p / CONFIG_NAME).read_text())
    except (OSError, ValueError):
        raise BadInputError(f"{folder} is not an adapter folder (no readable {CONFIG_NAME})") from None
    if data.get("model_type") != ADAPTER_TYPE or not (p / WEIGHTS_NAME).is_file():
        raise BadInputError(
            f"{folder} is not an adapter folder saved by weavewave (config.json + {WEIGHTS_NAME})"
        )
    return AdapterConfig(**{k: v for k, v in data.items() if k in {f.name for f in fields(AdapterConfig)}})


def load_adapter(folder: str | Path) -> tuple[Any, AdapterConfig]:
    """The adapter saved in ``folder``, refused with one line when the folder is not one."""
    from safetensors.torch import load_file

    p = Path(folder).expanduser()
    config = read_adapter_config(p)
    model = build_adapter(config)
    model.load_state_dict(load_file(str(p / WEIGHTS_NAME)))
    return model.eval(), config


# How several adapted inputs become one condition: the weighted mean of each adapter's unit output,
# normalised again (every adapter maps into the model's one space, so a mean of unit vectors stays in it
# and lies between them; normalising puts it back on the sphere the model was trained on).
FUSION = "mean"


def adapter_plan(
    embed: str | list[str],
    inputs: list[str] | list[list[str]] | str,
    weights: list[float] | str | None = None,
) -> tuple[list[str], list[list[str]], list[float]]:
    """The adapters, each one's inputs and their fusion weights (as given; default 1 each), from a
    generator's options.

    ``embed`` is one adapter folder (``inputs``: its inputs) or several (``inputs``: one list per adapter);
    a brief records the lists as JSON text, which is read back here. Raises BadInputError with one line
    when the lists do not fit together or a weight is not a positive number.
    """
    import math

    def parsed(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) and value.lstrip().startswith("[") else value

    embed, weights = parsed(embed), parsed(weights)
    given: Any = parsed(inputs)
    if isinstance(given, str):  # an empty or scalar record
        given = [given] if given else []
    if isinstance(embed, str):
        if weights is not None:
            raise BadInputError(
                "adapter weights weigh several adapters: give two or more, or drop the weights"
            )
        return [embed], [[str(x) for x in given]], [1.0]
    paths = [str(p) for p in embed]
    if not paths:
        raise BadInputError("no adapter given: name at least one adapter folder")
    if len(paths) == 1 and all(isinstance(x, str) for x in given):
        given = [list(given)]
    if len(given) != len(paths) or not all(isinstance(x, list | tuple) for x in given):
        raise BadInputError(
            f"{len(paths)} adapters need one list of inputs each, not {given!r}: give [[...], [...]]"
        )
    w = [1.0] * len(paths) if weights is None else [float(x) for x in weights]
    if len(w) != len(paths):
        raise BadInputError(
            f"{len(w)} adapter weights for {len(paths)} adapters: give one weight per adapter"
        )
    if not all(math.isfinite(x) and x > 0 for x in w):
        raise BadInputError(f"adapter weights must be positive numbers, not {w}")
    return paths, [[str(x) for x in row] for row in given], w


def fuse(vectors: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Unit adapted embeddings fused into one unit vector: their weighted mean, L2-normalised (``FUSION``;
    the weights need not sum to 1)."""
    total = float(sum(weights))
    mean = np.sum(
        [w / total * np.asarray(v, np.float64) for v, w in zip(vectors, weights, strict=True)], axis=0
    )
    return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32)
