"""CLAP audio embeddings in the library: a second vector column, in CLAP's shared text-audio space.

``weavewave library add --clap-model ID_OR_DIR`` stores each track's CLAP audio embedding in
``clap_vector`` (the mean of its 10 s windows over at most :data:`CLAP_EXCERPT_S` seconds, unit length).
A library holds one CLAP space: the column's metadata records the model (``model_ref``: a folder by its
absolute path, else the hub id), a fingerprint of its weights and the space's name as the adapters name it
(``clap-audio:<model>``), so a search with other CLAP weights, or an adapter trained into another space,
is refused with one line instead of ranking by meaningless cosines.

Then ``library search TEXT --clap-model M`` ranks by CLAP text-to-audio similarity, and ``library search
--image PHOTO --adapter DIR`` by the photo's CLIP embedding mapped into that audio space by an adapter
(``weavewave train adapter --from image --clap-model M``). torch and transformers load inside functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from weavewave.errors import BadInputError

CLAP_COLUMN = "clap_vector"
# Field metadata keys of ``clap_vector`` (LanceDB keeps them with the table's schema).
META_MODEL = "weavewave.clap_model"
META_FINGERPRINT = "weavewave.clap_fingerprint"
META_SPACE = "weavewave.clap_space"
# A long track is heard over its middle this many seconds (six CLAP windows): enough for its character,
# and it bounds the time and memory a 10-minute file costs.
CLAP_EXCERPT_S = 60.0
# The weights fingerprint reads this many values from each end of every tensor: cheap (no pass over
# hundreds of MB), and two trainings or random initialisations never agree on them.
FINGERPRINT_VALUES = 64
LOADED_MAX = 4  # models and adapters a process keeps loaded for repeated searches (the oldest goes first)
_LOADED: dict[tuple[str, str, int], Any] = {}


@dataclass(frozen=True)
class ClapSpace:
    """Which CLAP made a library's audio embeddings: the model reference, a fingerprint of its weights,
    and the embedding width."""

    model: str
    fingerprint: str
    dim: int

    @property
    def space(self) -> str:
        """The space's name, as an adapter's ``target_space`` names it (``clap-audio:<model>``)."""
        from weavewave.generators.flow.adapters import condition_space

        return condition_space("clap-audio", self.model)

    def metadata(self) -> dict[str, str]:
        return {META_MODEL: self.model, META_FINGERPRINT: self.fingerprint, META_SPACE: self.space}

    def same_weights(self, other: ClapSpace) -> bool:
        return self.fingerprint == other.fingerprint and self.dim == other.dim

    @classmethod
    def from_field(cls, field: Any) -> ClapSpace | None:
        """The space recorded on a ``clap_vector`` pyarrow field, or None when it records none."""
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        if META_MODEL not in meta:
            return None
        return cls(meta[META_MODEL], meta.get(META_FINGERPRINT, ""), int(field.type.list_size))


def weights_fingerprint(model: Any) -> str:
    """A short hash of a model's weights: every tensor's name, shape and values at both ends."""
    import torch

    h = hashlib.sha256()
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            flat = tensor.detach().reshape(-1).float().cpu()
            ends = torch.cat([flat[:FINGERPRINT_VALUES], flat[-FINGERPRINT_VALUES:]]).numpy()
            h.update(f"{name}:{tuple(tensor.shape)}:".encode())
            h.update(np.round(ends, 6).astype(np.float32).tobytes())
    return h.hexdigest()[:16]


def _once(kind: str, ref: str, make: Any) -> Any:
    """``make()`` once per process for ``ref`` (a folder is loaded again when a file in it changes)."""
    p = Path(ref).expanduser()
    stamp = max((f.stat().st_mtime_ns for f in p.iterdir()), default=0) if p.is_dir() else 0
    key = (kind, str(p.resolve()) if p.exists() else ref, stamp)
    if key not in _LOADED:
        if len(_LOADED) >= LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = make()
    return _LOADED[key]


def open_clap(ref: str | Path) -> tuple[Any, ClapSpace]:
    """The CLAP model (through :func:`weavewave.evaluate.neural.load_clap`) and the space it embeds into;
    loaded once per process, so repeated searches pay only the query."""
    return _once("clap", str(ref), lambda: _open_clap(str(ref)))


def _open_clap(ref: str) -> tuple[Any, ClapSpace]:
    from weavewave.evaluate.neural import load_clap
    from weavewave.generators.flow.adapters import model_ref

    clap = load_clap(ref)
    dim = int(clap.model.config.projection_dim)
    return clap, ClapSpace(str(model_ref(ref)), weights_fingerprint(clap.model), dim)


def embed_audio_file(clap: Any, path: str | Path) -> np.ndarray:
    """One unit CLAP audio embedding of a file [shape=(dim,)], over its middle :data:`CLAP_EXCERPT_S`."""
    from weavewave.evaluate.neural import clap_audio
    from weavewave.io.audio import read_audio

    audio, sr = read_audio(path)
    n = int(CLAP_EXCERPT_S * sr)
    if audio.shape[0] > n:
        start = (audio.shape[0] - n) // 2
        audio = audio[start : start + n]
    return clap_audio(clap, audio, sr).astype(np.float32)


@contextmanager
def _one_thread() -> Iterator[None]:
    """One query through a model runs on one thread: no hand-offs between threads (several times faster on
    a busy 2-core machine, as the caption embedder measured)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def embed_text(clap: Any, text: str) -> np.ndarray:
    """The unit CLAP text embedding of a query [shape=(dim,)]."""
    from weavewave.evaluate.neural import clap_text

    with _one_thread():
        return clap_text(clap, [text])[0].astype(np.float32)


def check_query_space(library_space: ClapSpace | None, given: ClapSpace, folder: Path) -> None:
    """A search's CLAP must be the one the library was embedded with (same weights); one line otherwise."""
    if library_space is None:
        raise BadInputError(
            f"library {folder} holds no CLAP embeddings: add them with "
            f"`weavewave library add MUSIC_FOLDER --library {folder} --clap-model {given.model}`"
        )
    if not library_space.same_weights(given):
        raise BadInputError(
            f"--clap-model {given.model} is not the CLAP this library was embedded with "
            f"({library_space.model}, weights {library_space.fingerprint}): search with "
            f"--clap-model {library_space.model}"
        )


def adapted_images(adapter: str | Path, images: list[str], library_space: ClapSpace | None, folder: Path
                   ) -> tuple[np.ndarray, Any]:  # fmt: skip
    """Photos' CLIP image embeddings mapped by ``adapter`` into the library's CLAP audio space: one unit
    vector [shape=(dim,)] (several photos are averaged), and the adapter's config.

    Refused with one line when the library has no CLAP column, or the adapter does not map images into
    the library's space (another CLAP, or a flow model's condition space).
    """
    from weavewave.generators.flow.adapter_train import source_embedder
    from weavewave.generators.flow.adapters import adapt, load_adapter, read_adapter_config

    config = read_adapter_config(adapter)
    if config.source != "image" or config.source_embedder != "clip-image":
        raise BadInputError(
            f"--adapter {adapter} adapts {config.source} embeddings, not photos: give an adapter trained "
            "with `weavewave train adapter --from image`"
        )
    if library_space is None:
        raise BadInputError(
            f"--adapter needs CLAP embeddings in library {folder}: add them with "
            f"`weavewave library add MUSIC_FOLDER --library {folder} --clap-model {config.clap_model or 'ID_OR_DIR'}`"
        )
    if config.target_space != library_space.space or config.target_dim != library_space.dim:
        raise BadInputError(
            f"--adapter {adapter} maps into {config.target_space} ({config.target_dim} values), not this "
            f"library's CLAP space {library_space.space} ({library_space.dim}): train it with "
            f"--clap-model {library_space.model}"
        )
    for image in images:
        if not Path(image).is_file():
            raise BadInputError(f"--image {image}: file not found; check the path")
    model, config = _once("adapter", str(adapter), lambda: load_adapter(adapter))
    embed = _once(
        "clip", str(config.source_model), lambda: source_embedder("clip-image", config.source_model)
    )
    with _one_thread():
        vectors = adapt(model, embed(images))
    mean = vectors.mean(axis=0)
    return (mean / (np.linalg.norm(mean) + 1e-12)).astype(np.float32), config
