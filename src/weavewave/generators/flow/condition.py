"""Captions -> condition vectors for the flow model.

MusFlow conditions on embeddings in CLAP space. With CLAP weights (``clap_model``) a caption is embedded
by CLAP's text tower, which shares its space with CLAP's audio tower: that is the space MusFlow's adapters
map images and stories into. Without them the shipped all-MiniLM-L6-v2 sentence model embeds the caption
(384 dimensions, not CLAP space): a model trained that way can only be driven by text. A model is
generated with the embedder it was trained with (its config says which).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from weavewave.errors import BadInputError

Embedder = Callable[[Sequence[str]], np.ndarray]


def caption_embedder(kind: str, clap_model: str | None = None) -> tuple[Embedder, int | None, str]:
    """An embedder for ``kind`` (``clap``, ``clap-audio`` or ``minilm``): (function, dimension if known, a label).

    The function maps n captions to unit vectors [shape=(n, dim)], float32.
    """
    if kind in ("clap", "clap-audio"):
        # a clap-audio model was trained on the music's CLAP audio embeddings: a caption's CLAP text
        # embedding lies in the same joint space (with CLAP's text-audio gap; MusFlow's adapters narrow it)
        if not clap_model:
            raise BadInputError(
                "a CLAP-conditioned flow model needs CLAP weights: pass --clap-model ID_OR_DIR"
            )
        from weavewave.evaluate.neural import clap_text, load_clap

        clap = load_clap(clap_model)
        return (lambda texts: clap_text(clap, list(texts)).astype(np.float32)), None, f"clap:{clap.name}"
    if kind == "minilm":
        from weavewave.perceive import semantic

        semantic.require()
        return (lambda texts: semantic.encode(list(texts))), 384, "minilm"
    if kind == "vectors":
        raise BadInputError(
            "this flow model was trained on condition vectors given with its data, not on captions: "
            "generate with weavewave.generators.flow.sampling.sample_latents and your own vectors"
        )
    raise BadInputError(f"unknown condition kind {kind!r}: use clap or minilm")


class CaptionCache:
    """Embeds each distinct caption once (a long piece repeats its section captions)."""

    def __init__(self, embed: Embedder) -> None:
        self._embed = embed
        self._seen: dict[str, np.ndarray] = {}

    def __call__(self, caption: str) -> np.ndarray:
        if caption not in self._seen:
            self._seen[caption] = np.asarray(self._embed([caption])[0], np.float32)
        return self._seen[caption]


def check_dim(vector: Any, want: int, what: str) -> np.ndarray:
    """``vector`` as float32 of length ``want``, refused with one line otherwise."""
    v = np.asarray(vector, np.float32).reshape(-1)
    if v.shape[0] != want:
        raise BadInputError(
            f"{what} has {v.shape[0]} dimensions but the flow model takes {want}: use the embedder it was "
            "trained with"
        )
    return v
