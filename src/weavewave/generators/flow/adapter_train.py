"""``weavewave train adapter``: MusFlow's adapters trained on a dataset's images, stories or captions.

- **Sources**, by ``--from``: ``image`` (the ``image`` column, a picture's path, embedded by CLIP's image
  tower), ``story`` (the ``story`` column) or ``text`` (the ``caption`` column), both embedded by the
  shipped sentence model, or by CLAP's text tower with ``clap_model``.
- **Targets**: the music's CLAP audio embeddings (``clap_model``), MusFlow's space; or, offline, the
  condition vectors a flow model (``flow_model``) was trained on, computed the way its training did, so
  the adapter feeds that model directly.

The adapter, its config (what it maps, from which model, into which space) and its held-out recall@1/5/10
(trained, untrained and chance) are written into the output folder (``metrics.json`` too). torch,
transformers and the models are imported inside functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError
from weavewave.generators.flow.adapters import (
    AdapterConfig,
    AdapterSettings,
    condition_space,
    model_ref,
    save_adapter,
    train_adapter,
)

# The dataset column each source is read from.
SOURCE_COLUMNS = {"image": "image", "story": "story", "text": "caption"}
METRICS_NAME = "metrics.json"
SourceEmbedder = Callable[[Sequence[str]], np.ndarray]


@dataclass
class AdapterResult:
    """What ``train adapter`` made: the folder, its config and held-out figures, and the row count."""

    out: Path
    config: AdapterConfig
    metrics: dict[str, float]
    rows: int


def _raw_rows(root: Path) -> tuple[list[dict[str, Any]], Path]:
    """The dataset's rows (in :func:`read_dataset`'s order) and the folder their relative paths start from."""
    from weavewave.generators.flow.data import ANNOTATED_DATA, METADATA_NAMES, SPLITS, read_rows

    if (root / ANNOTATED_DATA).is_file():
        from weavewave.train.dataset import load_rows

        return load_rows(root), root
    base = root / SPLITS[0] if (root / SPLITS[0]).is_dir() else root
    metas = [base / n for n in METADATA_NAMES if (base / n).is_file()]
    return (read_rows(metas[0]) if metas else []), base


def image_embedder(clip_model: str | None) -> SourceEmbedder:
    """Picture paths -> unit CLIP image embeddings [shape=(n, dim)], float32."""
    from PIL import Image

    from weavewave.evaluate.neural import clip_images, load_clip

    clip = load_clip(clip_model)

    def embed(paths: Sequence[str]) -> np.ndarray:
        images = []
        for path in paths:
            try:
                with Image.open(path) as im:
                    images.append(im.convert("RGB"))
            except OSError as exc:
                raise BadInputError(f"cannot read image {path}: {str(exc).splitlines()[0]}") from None
        return clip_images(clip, images).astype(np.float32)

    return embed


def source_embedder(kind: str, ref: str | None) -> SourceEmbedder:
    """The embedder an adapter's sources go through: ``clip-image``, ``clap-text`` or ``minilm``."""
    if kind == "clip-image":
        return image_embedder(ref)
    if kind == "clap-text":
        from weavewave.evaluate.neural import clap_text, load_clap

        clap = load_clap(ref)
        return lambda texts: clap_text(clap, list(texts)).astype(np.float32)
    if kind == "minilm":
        from weavewave.perceive import semantic

        semantic.require()
        return lambda texts: np.asarray(semantic.encode(list(texts)), np.float32)
    raise BadInputError(f"this adapter's sources are {kind!r} vectors: embed them yourself and call adapt()")


def train_adapter_on_dataset(
    data: str | Path,
    source: str,
    out: str | Path,
    *,
    clap_model: str | None = None,
    clip_model: str | None = None,
    flow_model: str | None = None,
    hidden: int = 512,
    layers: int = 2,
    settings: AdapterSettings | None = None,
) -> AdapterResult:
    """Train an adapter from ``source`` (``image``, ``story`` or ``text``) embeddings of a dataset's rows.

    Targets: the music's CLAP audio embeddings with ``clap_model``; else (or with ``flow_model`` given)
    the condition vectors the flow model in ``flow_model`` was trained on. Raises BadInputError with one
    line for a source with no column, an empty cell, or no target space.
    """
    from weavewave.generators.flow.data import read_dataset
    from weavewave.generators.flow.train import embed_conditions

    if source not in SOURCE_COLUMNS:
        raise BadInputError(f"--from {source!r}: use {', '.join(SOURCE_COLUMNS)}")
    if not clap_model and not flow_model:
        raise BadInputError(
            "say what the adapter maps into: --clap-model ID_OR_DIR (the music's CLAP audio space) or "
            "--flow-model DIR (the condition space of a model from `weavewave train flow`)"
        )
    root = Path(data).expanduser()
    examples = read_dataset(root)
    rows, base = _raw_rows(root)
    column = SOURCE_COLUMNS[source]
    items: list[str] = []
    for i, row in enumerate(rows, 1):
        value = row.get(column)
        if not isinstance(value, str) or not value.strip():
            raise BadInputError(
                f"--data {data}: row {i} has no {column!r}; --from {source} needs it on every row"
            )
        items.append(str(base / value) if source == "image" else value.strip())

    # targets first: a missing flow model or CLAP fails before the sources are embedded
    if flow_model:
        from weavewave.generators.flow.model import read_config

        fcfg = read_config(flow_model)
        targets, kind = embed_conditions(examples, fcfg.condition, fcfg.clap_model)
        space = condition_space(kind, fcfg.clap_model, flow_model)
        target_clap = fcfg.clap_model
    else:
        targets, kind = embed_conditions(examples, "clap-audio", clap_model)
        space = condition_space(kind, clap_model)
        target_clap = clap_model

    if source == "image":
        embedder_kind, ref = "clip-image", clip_model
    elif clap_model:
        embedder_kind, ref = "clap-text", clap_model
    else:
        embedder_kind, ref = "minilm", None
    sources = source_embedder(embedder_kind, ref)(items)

    config = AdapterConfig(
        source=source, source_dim=int(sources.shape[1]), target_dim=int(targets.shape[1]), hidden=hidden,
        layers=layers, source_model=model_ref(ref), clap_model=model_ref(target_clap),
        source_embedder=embedder_kind, target_space=space,
    )  # fmt: skip
    model, metrics = train_adapter(sources, targets, config, settings)
    config.metrics = metrics
    folder = save_adapter(model, config, out)
    (folder / METRICS_NAME).write_text(json.dumps(metrics, indent=2) + "\n")
    return AdapterResult(folder, config, metrics, len(items))
