"""Neural model weights: the known ids per role, finding them locally, and loading each once per process.

Every neural piece takes a hub id (``facebook/musicgen-small``) or a local folder made with
``save_pretrained`` or ``huggingface-cli download --local-dir``. Nothing is loaded at import: a
:class:`ModelCache` loads on first use and hands the same objects to every later caller, so the CLI, the
Python API and the web server (which keeps one cache for its lifetime) load each model once.

torch, transformers and huggingface_hub are imported inside functions: this module is light.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from weavewave._deps import available, missing, require
from weavewave.errors import BadInputError

ROLES = ("generator", "describer", "refiner", "writer")
# The flag that points each role at a model, named in error messages.
ROLE_FLAG = {
    "generator": "--model",
    "describer": "--describer-model",
    "refiner": "--refiner-model",
    "writer": "--writer-model",
    "eval": "--clap-model, --clip-model, --encodec-model",
}
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "fp32", "bf16", "fp16")
NETWORK_PROBE_TIMEOUT_S = 3.0
# Every role's model loads through these (the ``neural`` extra).
NEURAL_MODULES = ("torch", "transformers")
# What needs a role's model, as the user asked for it, for the missing-extra message.
ROLE_WHAT = {
    "generator": "the musicgen backend",
    "describer": "--describer mllm",
    "refiner": "--refiner llm",
    "writer": "annotate --writer-model",
    "eval": "the CLAP, CLIP and EnCodec metrics",
}
# A tokenizer smaller than this was not really loaded (offline, T5Tokenizer can return a near-empty one).
MIN_TOKENIZER_SIZE = 16


@dataclass(frozen=True)
class KnownModel:
    """A model weavewave knows how to use, with what a user needs to decide whether to fetch it."""

    role: str
    id: str
    size: str  # download size, as published
    licence: str
    note: str


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        "generator",
        "facebook/musicgen-small",
        "2.4 GB",
        "CC-BY-NC 4.0 (weights)",
        "text to music, 300M decoder; the default --backend musicgen model",
    ),
    KnownModel(
        "generator", "facebook/musicgen-medium", "8.0 GB", "CC-BY-NC 4.0 (weights)", "text to music, 1.5B"
    ),
    KnownModel(
        "generator", "facebook/musicgen-large", "13 GB", "CC-BY-NC 4.0 (weights)", "text to music, 3.3B"
    ),
    KnownModel(
        "generator",
        "facebook/musicgen-melody",
        "6.2 GB",
        "CC-BY-NC 4.0 (weights)",
        "text + melody (chroma); needed for --steer symbolic and --melody",
    ),
    KnownModel(
        "generator",
        "facebook/musicgen-melody-large",
        "13 GB",
        "CC-BY-NC 4.0 (weights)",
        "text + melody, 3.3B",
    ),
    KnownModel(
        "generator",
        "facebook/musicgen-stereo-small",
        "2.4 GB",
        "CC-BY-NC 4.0 (weights)",
        "stereo text to music",
    ),
    KnownModel(
        "generator",
        "facebook/musicgen-stereo-melody",
        "6.2 GB",
        "CC-BY-NC 4.0 (weights)",
        "stereo text + melody",
    ),
    KnownModel(
        "describer",
        "HuggingFaceTB/SmolVLM2-2.2B-Instruct",
        "4.5 GB",
        "Apache-2.0",
        "images and video frames; runs on a laptop CPU, slowly",
    ),
    KnownModel(
        "describer",
        "Qwen/Qwen2.5-VL-3B-Instruct",
        "7.5 GB",
        "Qwen research licence",
        "images and video frames; the default --describer mllm model",
    ),
    KnownModel(
        "describer", "Qwen/Qwen2.5-VL-7B-Instruct", "16.6 GB", "Apache-2.0", "images and video frames"
    ),
    KnownModel("describer", "google/gemma-3-4b-it", "8.6 GB", "Gemma terms of use (gated)", "images"),
    KnownModel(
        "refiner",
        "Qwen/Qwen2.5-1.5B-Instruct",
        "3.1 GB",
        "Apache-2.0",
        "rewrites briefs from an instruction; the default --refiner llm model",
    ),
    KnownModel("refiner", "Qwen/Qwen2.5-0.5B-Instruct", "1.0 GB", "Apache-2.0", "smaller, faster, rougher"),
    KnownModel("refiner", "HuggingFaceTB/SmolLM2-1.7B-Instruct", "3.4 GB", "Apache-2.0", "rewrites briefs"),
    # `weavewave eval` (loaded by evaluate/neural.py and evaluate/encoders.py, which hold the same default
    # ids; a test keeps them in step)
    KnownModel(
        "eval",
        "laion/clap-htsat-unfused",
        "615 MB",
        "Apache-2.0",
        "CLAP: clap_score, tag KL and --embedder clap (fad[clap-laion]); --clap-model",
    ),
    KnownModel(
        "eval",
        "openai/clip-vit-base-patch32",
        "605 MB",
        "MIT",
        "CLIP: image-music alignment through the caption, with CLAP; --clip-model",
    ),
    KnownModel(
        "eval",
        "facebook/encodec_24khz",
        "93 MB",
        "MIT",
        "EnCodec latents, general audio: --embedder encodec (fad[encodec-24khz]); --encodec-model",
    ),
    KnownModel(
        "eval",
        "facebook/encodec_32khz",
        "239 MB",
        "CC-BY-NC 4.0 (weights)",
        "EnCodec latents, music only, MusicGen's own codec (fad[encodec-32khz]); --encodec-model",
    ),
)
DEFAULT_MODEL = {
    "generator": "facebook/musicgen-small",
    "describer": "Qwen/Qwen2.5-VL-3B-Instruct",
    "refiner": "Qwen/Qwen2.5-1.5B-Instruct",
    "writer": "Qwen/Qwen2.5-1.5B-Instruct",  # the annotation writer is the same kind of model as the refiner
}
DEFAULT_MELODY_MODEL = "facebook/musicgen-melody"
EVAL_DEFAULTS = ("laion/clap-htsat-unfused", "openai/clip-vit-base-patch32", "facebook/encodec_24khz")


# ======================================================================================================
# Finding weights
# ======================================================================================================
def looks_like_path(ref: str) -> bool:
    """A hub id is ``owner/name``; anything else with a separator, or starting like a path, is a folder."""
    return (
        ref.startswith((".", "/", "~"))
        or ref.count("/") > 1
        or os.sep != "/"
        and os.sep in ref
        or ref.endswith("/")
    )


def local_path(ref: str) -> Path | None:
    """The folder ``ref`` names, if it is one on this machine."""
    p = Path(ref).expanduser()
    return p if p.is_dir() else None


def cached_snapshot(model_id: str) -> str | None:
    """Where the Hugging Face cache holds ``model_id``'s config, or None. Never touches the network."""
    if not available("huggingface_hub"):
        return None  # a light install has no hub cache to look in
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # a malformed id: it is simply not cached
        return None
    return found if isinstance(found, str) else None


def is_present(ref: str) -> bool:
    """True when the model can be loaded without the network (a local folder, or in the HF cache)."""
    p = local_path(ref)
    if p is not None:
        return (p / "config.json").is_file()
    return cached_snapshot(ref) is not None


def hub_is_offline() -> bool:
    """True when the hub cannot be reached: switched off by HF_HUB_OFFLINE, or no route to it."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on") or os.environ.get(
        "TRANSFORMERS_OFFLINE", ""
    ).lower() in ("1", "true", "yes", "on"):
        return True
    constants = require("huggingface_hub.constants", "neural", "loading a model from the hub")

    host = urlparse(constants.ENDPOINT).hostname
    if not host:
        return True
    try:
        with socket.create_connection((host, 443), timeout=NETWORK_PROBE_TIMEOUT_S):
            return False
    except OSError:
        return True


def missing_model_message(ref: str, role: str) -> str:
    """What to do when a model is neither here nor downloadable: fetch it elsewhere, point at the folder."""
    flag = ROLE_FLAG.get(role, "--model")
    folder = ref.rstrip("/").split("/")[-1]
    return (
        f"{role} model {ref} is not on this machine and cannot be downloaded here (no network or "
        f"HF_HUB_OFFLINE=1). On a connected machine run `hf download {ref} --local-dir {folder}` "
        f"(`huggingface-cli download` with older huggingface_hub), copy the folder here and pass `{flag} PATH/{folder}` (or copy the Hugging Face cache "
        f"folder models--{ref.replace('/', '--')} into ~/.cache/huggingface/hub); `weavewave models` "
        "lists the known models"
    )


def locate(ref: str, role: str) -> tuple[str, bool]:
    """Resolve a hub id or folder to what ``from_pretrained`` should load, and whether it is local only.

    Raises BadInputError with fetching instructions when the model is missing and cannot be downloaded.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    require_transformers(ROLE_WHAT[role])  # a light install: say which extra, before looking for the model
    if not ref or not ref.strip():
        raise BadInputError(
            f"{ROLE_FLAG[role]} is empty: give a hub id such as {DEFAULT_MODEL[role]} or a folder"
        )
    p = local_path(ref)
    if p is not None:
        if not (p / "config.json").is_file():
            raise BadInputError(
                f"{p} is not a model folder (it has no config.json): point {ROLE_FLAG[role]} at "
                "the folder that `save_pretrained` or `huggingface-cli download --local-dir` made"
            )
        return str(p), True
    if looks_like_path(ref):
        raise BadInputError(f"model folder {ref} not found: check the path given to {ROLE_FLAG[role]}")
    if cached_snapshot(ref) is not None:
        return ref, True
    if hub_is_offline():
        raise BadInputError(missing_model_message(ref, role))
    return ref, False


# ======================================================================================================
# Device and dtype
# ======================================================================================================
def pick_device(requested: str = "auto") -> str:
    """``auto`` is the best device present (cuda, then mps, then cpu); a named one must be present."""
    import torch

    name = (requested or "auto").lower()
    base = name.split(":")[0]
    if base not in DEVICES:
        raise BadInputError(f"unknown device {requested!r}: use {', '.join(DEVICES)} (or cuda:N)")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if base == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if base == "cuda" and not cuda:
        raise BadInputError(
            "--device cuda was asked for but no CUDA GPU is visible to torch: use --device cpu or auto"
        )
    if base == "mps" and not mps:
        raise BadInputError(
            "--device mps was asked for but Apple's Metal backend is not available: use --device cpu or auto"
        )
    return name


def pick_dtype(device: str, requested: str = "auto") -> Any:
    """``auto``: bf16 on GPUs that support it, else fp16 on GPUs; fp32 on CPU (exact and portable)."""
    import torch

    name = (requested or "auto").lower()
    table = {
        "fp32": torch.float32,
        "float32": torch.float32,
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
    }
    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device == "mps":
            return torch.float16
        return torch.float32
    if name not in table:
        raise BadInputError(f"unknown dtype {requested!r}: use {', '.join(DTYPES)}")
    if device == "cpu" and table[name] is torch.float16:
        raise BadInputError("--dtype fp16 is not supported on the CPU: use fp32 or bf16")
    return table[name]


# ======================================================================================================
# Loading
# ======================================================================================================
def require_transformers(what: str = "the neural backends") -> None:
    """Raise a clear error, with the install command, when the neural extra is missing.

    Only looks for torch and transformers (no import: that costs seconds and happens at load time).
    """
    for module in NEURAL_MODULES:
        if not available(module):
            raise missing(module, "neural", what)


def quiet_transformers() -> None:
    """No download and weight-loading progress bars on the user's terminal."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def check_tokenizer(tokenizer: Any, ref: str, *, vocab_size: int | None = None) -> None:
    """Refuse a tokenizer that did not really load: offline, some return a near-empty one without raising."""
    size = len(tokenizer)
    if size < MIN_TOKENIZER_SIZE:
        raise BadInputError(
            f"the tokenizer of {ref} has only {size} tokens, so it did not load properly; "
            "download the model again (see `weavewave models`)"
        )
    if vocab_size is not None and size > vocab_size:
        raise BadInputError(
            f"the tokenizer of {ref} has {size} tokens but the model only {vocab_size} "
            "embeddings: the folder mixes files from different models"
        )
    probe = tokenizer("music", add_special_tokens=False).input_ids
    unk = getattr(tokenizer, "unk_token_id", None)
    if not probe or (unk is not None and all(t == unk for t in probe)):
        raise BadInputError(
            f"the tokenizer of {ref} cannot encode plain English, so it did not load properly; "
            "download the model again"
        )


def from_pretrained(load: Callable[..., Any], ref: str, role: str, **kwargs: Any) -> Any:
    """``load(ref, ...)`` that turns 'not found / no network' into the missing-model message."""
    where, local_only = locate(ref, role)
    try:
        return load(where, local_files_only=local_only, **kwargs)  # locate() probed the network already
    except OSError as exc:
        if local_path(ref) is not None:
            raise BadInputError(f"cannot load {role} model from {ref}: {exc}") from None
        raise BadInputError(missing_model_message(ref, role)) from None


class ModelCache:
    """Loads each (kind, model, device, dtype) once and shares it; safe to use from several threads.

    The CLI makes one per run; the server keeps one for its lifetime and passes it to every request.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str, str, str], threading.Lock] = {}

    def __repr__(self) -> str:
        return f"ModelCache({len(self._items)} loaded: {', '.join(k[1] for k in self._items) or 'none'})"

    def __len__(self) -> int:
        return len(self._items)

    def get(self, kind: str, ref: str, device: str, dtype: str, loader: Callable[[], Any]) -> Any:
        """The cached object for the key, made by ``loader()`` the first time only."""
        key = (kind, str(Path(ref).expanduser().resolve()) if local_path(ref) else ref, device, dtype)
        with self._lock:
            if key in self._items:
                return self._items[key]
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:  # one thread loads; the others wait for it rather than loading twice
            if key not in self._items:
                self._items[key] = loader()
            return self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._loading.clear()


_shared: ModelCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> ModelCache:
    """The process-wide cache, made on first use (never at import)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ModelCache()
        return _shared


def load_once(
    role: str,
    ref: str,
    load: Callable[[str, str, Any], Any],
    *,
    device: str = "auto",
    dtype: str = "auto",
    cache: ModelCache | None = None,
) -> Any:
    """Load a model for ``role`` once per cache: ``load(ref, device, torch_dtype)`` runs on a miss only."""
    require_transformers()
    dev = pick_device(device)
    torch_dtype = pick_dtype(dev, dtype)
    return (cache if cache is not None else shared_cache()).get(
        role, ref, dev, str(torch_dtype), lambda: load(ref, dev, torch_dtype)
    )


def model_table() -> list[dict[str, Any]]:
    """The known models, each with whether it is present locally (for ``weavewave models``)."""
    rows = []
    for m in KNOWN_MODELS:
        default = m.id in EVAL_DEFAULTS if m.role == "eval" else DEFAULT_MODEL[m.role] == m.id
        rows.append(
            {
                "role": m.role,
                "id": m.id,
                "size": m.size,
                "licence": m.licence,
                "note": m.note,
                "default": default,
                "present": is_present(m.id),
            }
        )
    return rows
